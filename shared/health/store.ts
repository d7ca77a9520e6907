// The health check's one Redis command is the watchdog's probe: a PING to every primary.
export { pingAll } from '../redis/connect.js';
