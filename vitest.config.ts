import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // Property tests run thousands of cases; on a busy 2-core machine that can pass 5 s.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One real Temporal dev server for the whole run; each file brings its own worker and task queue.
          globalSetup: ['test/support/global-setup.ts'],
          // Temporal workers use native threads; forked processes isolate them cleanly.
          pool: 'forks',
          testTimeout: 90_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
