// Bundles the compiled CLI (dist/bin.js and everything it imports) into one ES module,
// dist/thresh.mjs. A `thresh` process then parses one file instead of loading ~1,500 ES
// modules one by one: node start-up drops from ~1.5 s of module loading (50 nodes starting at
// once on 2 cores spent most of a minute on it), and every CLI command starts faster.
//
// The node's crypto worker (packages/node/worker/reencrypt-worker.mjs) is bundled the same way
// into dist/thresh-worker.mjs, which the bundled pool starts (packages/node/src/crypto/pool.ts).
// Native addons stay outside: they are loaded from node_modules at run time.
// Run by `npm run build` after `tsc -b`; the output is build output, never committed.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // prebuilt native addons and their loaders: resolved from node_modules at run time
  external: ['classic-level', 'secp256k1', 'msgpackr-extract', 'node-gyp-build'],
  // CommonJS dependencies inside an ES module bundle still call require() for Node built-ins
  banner: {
    js: "import { createRequire as __threshCreateRequire } from 'node:module'; const require = __threshCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  legalComments: 'none',
};

await Promise.all([
  build({ ...common, entryPoints: [here('./dist/bin.js')], outfile: here('./dist/thresh.mjs') }),
  build({
    ...common,
    entryPoints: [here('../node/worker/reencrypt-worker.mjs')],
    outfile: here('./dist/thresh-worker.mjs'),
  }),
]);
