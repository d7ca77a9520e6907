import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        // Pure logic: no server, no build, files in parallel (`npm run test:unit`, seconds).
        extends: true,
        // First and alone, so that they never compete for the CPU with the timing-bounded server tests.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        // Real redis-servers, Azurite, the runner, Chromium: started once by the global setup, which also
        // builds the app when a source changed. Files share those servers, so they run one at a time.
        extends: true,
        test: {
          name: 'servers',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**'],
          globalSetup: ['test/support/globalSetup.ts'],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
