import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Sentinel and Cluster suites run on their own: `npm run test:topologies`
    exclude: ['test/topologies/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts its own redis-server processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
