// Bundles the compiled CLI (dist/bin.js and everything it imports) into one ES module,
// dist/thresh.mjs. A `thresh` process then parses one file instead of loading ~1,500 ES
// modules one by one: node start-up drops from ~1.5 s of module loading (50 nodes starting at
// once on 2 cores spent most of a minute on it), and every CLI command starts faster.
//
// The node's crypto worker (packages/node/worker/reencrypt-worker.mjs) is bundled the same way
// into dist/thresh-worker.mjs, which the bundled pool starts (packages/node/src/crypto/pool.ts).
// Native addons stay outside: they are loaded from node_modules at run time.
//
// One substitution: @libp2p/crypto's secp256k1 modules get the client's fast-secp256k1 module
// in place of `@noble/curves/secp256k1.js` (remembered key parsing, libsecp256k1 for ECDSA and
// decompression; see that module for why). The build fails if that import is not found, so a
// libp2p upgrade that moves it cannot drop the substitution silently.
// Run by `npm run build` after `tsc -b`; the output is build output, never committed.
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

const fastSecp256k1 = here('../client/dist/transport/libp2p/fast-secp256k1.js');
const libp2pSecp256k1Dir = ['@libp2p', 'crypto', 'dist', 'src', 'keys', 'secp256k1', ''].join(sep);

/** Redirects @libp2p/crypto's noble secp256k1 imports; counts them so a miss fails the build. */
function fastSecp256k1Plugin() {
  return {
    name: 'thresh-fast-secp256k1',
    setup(b) {
      let redirected = 0;
      b.onResolve({ filter: /^@noble\/curves\/secp256k1\.js$/ }, (args) => {
        if (!args.importer.includes(libp2pSecp256k1Dir)) return undefined;
        redirected++;
        return { path: fastSecp256k1 };
      });
      b.onEnd((result) => {
        if (result.errors.length === 0 && redirected === 0) {
          throw new Error(
            `build-bundle: no import of @noble/curves/secp256k1.js from ${libp2pSecp256k1Dir} was found; update the thresh-fast-secp256k1 plugin`,
          );
        }
      });
    },
  };
}

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
  build({
    ...common,
    plugins: [fastSecp256k1Plugin()],
    entryPoints: [here('./dist/bin.js')],
    outfile: here('./dist/thresh.mjs'),
  }),
  build({
    ...common,
    entryPoints: [here('../node/worker/reencrypt-worker.mjs')],
    outfile: here('./dist/thresh-worker.mjs'),
  }),
]);
