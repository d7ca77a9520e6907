import { guestSuite } from './guestSuite.js';

guestSuite('standalone');
