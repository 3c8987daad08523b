import { afterAll } from 'vitest';
import { describeProductsManagerApi } from './support/api-suite.js';
import { createPostgresDatabase } from './support/service.js';

// DATABASE_URL: a real PostgreSQL (a fresh database, dropped afterwards), the same SQL
let drop: (() => Promise<void>) | undefined;
describeProductsManagerApi('PostgreSQL', async () => {
  const database = await createPostgresDatabase();
  drop = database.drop;
  return database.url;
});
afterAll(async () => {
  await drop?.();
}, 60_000);
