import { apiSuite } from '../support/apiSuite.js';

apiSuite('standalone');
