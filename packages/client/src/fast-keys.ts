/**
 * `@thresh/client/fast-keys`: gives libp2p's secp256k1 key work to libsecp256k1 in an app that
 * uses `@thresh/client` unbundled, as the bundled `thresh` CLI does at build time. Every thresh
 * PeerId is a secp256k1 key, and libp2p parses peer ids all the time; with noble alone each
 * parse costs ~0.8 ms here (two square roots in bigints), which a new client pays hundreds of
 * times in its first DHT lookups. See transport/libp2p/fast-secp256k1.ts.
 *
 * It must run before libp2p's modules are resolved, so load it with Node's `--import`:
 *
 *     node --import @thresh/client/fast-keys app.js
 *
 * (an `import` of it at the top of app.js comes too late: Node resolves all of app.js's static
 * imports before it runs any of them). Without it nothing changes but speed.
 */
import { register } from 'node:module';

register('./fast-keys-hooks.js', import.meta.url, {
  data: { target: new URL('./transport/libp2p/fast-secp256k1.js', import.meta.url).href },
});

/**
 * Whether @libp2p/crypto's secp256k1 keys go through the fast module in this process (they do
 * when this module was loaded with `--import` before libp2p): parses a fresh key with
 * @libp2p/crypto and sees whether the fast module's point cache grew.
 */
export async function fastKeysInUse(): Promise<boolean> {
  const [{ publicKeyFromRaw }, fast, { secp256k1 }] = await Promise.all([
    import('@libp2p/crypto/keys'),
    import('./transport/libp2p/fast-secp256k1.js'),
    import('@noble/curves/secp256k1.js'),
  ]);
  const before = fast.cachedPointCount();
  const key = secp256k1.getPublicKey(secp256k1.utils.randomSecretKey(), true);
  publicKeyFromRaw(key);
  return fast.cachedPointCount() > before;
}
