import { guestSuite } from './guestSuite.js';

guestSuite('cluster');
