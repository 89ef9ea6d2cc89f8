import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The compiled app (dist/), built if stale: what the process tests and the browser suite start.
    globalSetup: ['tests/support/global-setup.ts'],
    pool: 'forks',
    // Each file starts its own database (a fresh Postgres database, or an embedded one).
    testTimeout: 30_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
