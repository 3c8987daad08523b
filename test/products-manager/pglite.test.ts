import { describeProductsManagerApi } from './support/api-suite.js';

// the default set-up: the embedded PGlite, served by the primary over the Postgres protocol
describeProductsManagerApi('embedded PGlite', async () => undefined);
