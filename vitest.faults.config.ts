import { defineConfig } from 'vitest/config';

// `npm run test:faults`: only the fault tests, on their own (see vitest.config.ts). Standalone,
// not merged: mergeConfig would concatenate the include and exclude lists.
const conditions = ['source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    setupFiles: ['./test/setup.ts'],
    include: ['test/faults.test.ts', 'test/faults-netns.test.ts'],
    // one file at a time: each starts its own five node processes and judges time budgets
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
