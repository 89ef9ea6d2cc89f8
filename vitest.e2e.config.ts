import { defineConfig } from 'vitest/config';

// The real-browser suite (`npm run test:e2e`): Debian's Chromium against the app started as a
// child process on real Postgres. Its files end in .e2e.ts, so `npm test` never picks them up.
export default defineConfig({
  test: {
    include: ['tests/e2e/**/*.e2e.ts'],
    // The compiled app (dist/), built if stale: what the process tests and the browser suite start.
    globalSetup: ['tests/support/global-setup.ts'],
    pool: 'forks',
    // Each file starts its own app (and database) and its own Chromium.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
  },
});
