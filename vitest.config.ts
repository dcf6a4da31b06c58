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
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
