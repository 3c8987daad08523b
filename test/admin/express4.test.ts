import { vi } from 'vitest';
import { describeExpressRouter } from './support/express-suite.js';

// the router and the app of this file run on Express 4 (installed as `express4`), whose Router does
// not catch a rejected handler
vi.mock('express', async () => await import('express4'));

describeExpressRouter('Express 4');
