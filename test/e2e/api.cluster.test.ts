import { apiSuite } from './apiSuite.js';

apiSuite('cluster');
