import { defineConfig } from 'vitest/config';

// Real redis-servers, Azurite and (browser) Chromium: started once per run by the global setup, shared by
// every project that needs them, which also builds the app when a source changed. Files that share those
// servers run one at a time, and the projects one after another (sequence.groupOrder).
const servers = (name: string, include: string[], groupOrder: number) => ({
  extends: true as const,
  test: {
    name,
    include,
    globalSetup: ['test/support/globalSetup.ts'],
    fileParallelism: false,
    sequence: { groupOrder },
  },
});

export default defineConfig({
  test: {
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        // Pure logic: no server, no build, files in parallel (`npm run test:unit`, seconds). First and
        // alone, so that they never compete for the CPU with the timing-bounded server tests.
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], sequence: { groupOrder: 0 } },
      },
      {
        // Bicep: builds and lints infra/ with the pinned Bicep CLI; no server (`npm run test:infra`).
        extends: true,
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts'],
          globalSetup: ['test/support/buildSetup.ts'],
          sequence: { groupOrder: 1 },
        },
      },
      // One module against real servers (scripts, the client, the loader, the runner with fixture apps).
      servers('integration', ['test/integration/**/*.test.ts'], 2),
      // The app in the local runner, over HTTP, with faults (`npm run test:e2e`).
      servers('e2e', ['test/e2e/**/*.test.ts'], 3),
      // The storefront and API pages in Chromium (`npm run test:browser`).
      servers('browser', ['test/browser/**/*.test.ts'], 4),
    ],
  },
});
