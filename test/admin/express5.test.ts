import { describeExpressRouter } from './support/express-suite.js';

describeExpressRouter('Express 5');
