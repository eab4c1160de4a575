import { defineConfig } from 'vitest/config';

// The end-to-end suite: one cluster for all files (global setup), files run one after another.
export default defineConfig({
  test: {
    include: ['e2e/**/*.e2e.test.ts'],
    // e2e/.cluster holds the local cluster's state: never tests.
    exclude: ['node_modules/**', 'dist/**', 'e2e/.cluster/**'],
    globalSetup: ['e2e/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
    pool: 'forks',
  },
});
