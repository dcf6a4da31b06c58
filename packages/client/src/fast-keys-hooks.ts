/**
 * Node module hooks registered by `@thresh/client/fast-keys` (fast-keys.ts); they run in Node's
 * loader thread. One redirect: @libp2p/crypto's secp256k1 modules importing
 * `@noble/curves/secp256k1.js` get the client's fast-secp256k1 module instead, the same
 * substitution the bundled CLI makes at build time (packages/cli/build-bundle.mjs). Every other
 * import, including fast-secp256k1's own import of noble, resolves as usual.
 */
import type { InitializeHook, ResolveHook } from 'node:module';

/** The URL of @libp2p/crypto's secp256k1 key modules contains this. */
const LIBP2P_SECP256K1 = '/@libp2p/crypto/dist/src/keys/secp256k1/';

let target: string | undefined;

export const initialize: InitializeHook<{ target: string }> = (data) => {
  target = data.target;
};

export const resolve: ResolveHook = (specifier, context, next) => {
  if (
    target !== undefined &&
    specifier === '@noble/curves/secp256k1.js' &&
    context.parentURL?.includes(LIBP2P_SECP256K1) === true
  ) {
    return { url: target, shortCircuit: true };
  }
  return next(specifier, context);
};
