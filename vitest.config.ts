import { defineConfig } from 'vitest/config';

// Unit and integration tests. The end-to-end suite (a real API server) has its own config:
// e2e/vitest.config.ts.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'dist/**', '**/*.e2e.test.ts', 'e2e/.cluster/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
