// `npm run serve`: runs the compiled app in the local runner on $PORT (default 7071).
import { resolve } from 'node:path';

import { messageOf } from './errors.js';
import { startLocalRunner } from './index.js';

const root = resolve(import.meta.dirname, '..', '..');
const port = Number(process.env.PORT ?? 7071);

try {
  const runner = await startLocalRunner({ root, port });
  const shutdown = () => {
    void runner.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
} catch (err) {
  console.error(`serve: ${messageOf(err)}`);
  process.exit(1);
}
