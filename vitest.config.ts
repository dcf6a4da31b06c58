import { defineConfig } from 'vitest/config';

// Tests run against the TypeScript sources: every workspace package exports a "source"
// condition (package.json "exports"/"imports") that points at src/. Vitest 4 runs tests in
// the SSR environment, whose resolver takes its own conditions.
const conditions = ['source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    setupFiles: ['./test/setup.ts'],
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The fault tests freeze and kill node processes and judge time budgets: they run on their
    // own after the rest (npm run test:faults), so other test files do not starve them of CPU.
    exclude: ['**/node_modules/**', 'test/faults.test.ts', 'test/faults-netns.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
