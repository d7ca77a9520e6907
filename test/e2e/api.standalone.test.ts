import { apiSuite } from './apiSuite.js';

apiSuite('standalone');
