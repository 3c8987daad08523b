import { defineConfig } from 'vitest/config';

// The Sentinel and Cluster suites: many redis-server processes each, so one file at a time.
// Run with `npm run test:topologies` (a separate step of .ci/run); `npm test` leaves them out.
export default defineConfig({
  test: {
    include: ['test/topologies/**/*.test.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
