/**
 * The collusion attack rotation answers (issue #7, DESIGN.md "Revoke, expiry, rotation"): a
 * reader holding m kfrags of its policy rebuilds the level's path key. Written from the Umbral
 * math with noble directly (UMBRAL.md "KFrag generation", "Hashing"), not through the PRE core's
 * internals, so the test shows the attack itself rather than a helper the library exports.
 *
 * A kfrag of reader B is rk_i = f(x_i), f(0) = sk_level / d, where
 *   dh  = precursor * sk_B,  d = H_SHARED_SECRET(precursor, pk_B, dh),
 *   x_i = H_POLYNOMIAL_ARG(precursor, pk_B, dh, id_i),
 * so m kfrags interpolate f(0), and sk_level = f(0) * d.
 */
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { FILES, LevelStore, openDataDir } from '@thresh/node';
import { type Identity, KeyFrag, SecretKey } from '@thresh/protocol';

const Fn = secp256k1.Point.Fn;
const N = Fn.ORDER;

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
const toBytes32 = (k: bigint): Uint8Array =>
  new Uint8Array(Buffer.from(k.toString(16).padStart(64, '0'), 'hex'));

/** Umbral's ScalarDigest: SHA-256(u32be(len(dst)) || dst || parts) -> (h mod (n - 1)) + 1. */
function scalarDigest(dst: string, parts: Uint8Array[]): bigint {
  const tag = new TextEncoder().encode(dst);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, tag.length);
  const h = sha256.create().update(len).update(tag);
  for (const p of parts) h.update(p);
  return (toBig(h.digest()) % (N - 1n)) + 1n;
}

/** The kfrag a stopped node holds for `policyId`, read from its store with its storage key. */
export async function stealKfrag(dataDir: string, policyId: Uint8Array): Promise<Uint8Array | undefined> {
  const opened = await openDataDir(dataDir); // the data dir's stored passphrase
  const store = new LevelStore(join(dataDir, FILES.store), opened.identity.storageSecret());
  await store.open();
  try {
    return (await store.getPolicy(policyId))?.kfrag;
  } finally {
    await store.close();
  }
}

/** The level's secret key from m kfrags of one policy and the reader's own secret key. */
export function rebuildLevelKey(reader: Identity, kfrags: readonly Uint8Array[]): SecretKey {
  const frags = kfrags.map((b) => KeyFrag.fromBytes(b));
  const precursor = secp256k1.Point.fromBytes(frags[0].precursor.toBytes());
  const skB = toBig(reader.encryptingKey.toBEBytes());
  const pkB = reader.card.encryptingKey.toCompressedBytes();
  const dh = precursor.multiply(skB).toBytes(true);
  const pre = precursor.toBytes(true);
  const d = scalarDigest('SHARED_SECRET', [pre, pkB, dh]);
  const xs = frags.map((f) => scalarDigest('POLYNOMIAL_ARG', [pre, pkB, dh, f.id]));
  let f0 = 0n;
  frags.forEach((f, i) => {
    let lagrange = 1n;
    xs.forEach((xj, j) => {
      if (j !== i) lagrange = Fn.mul(lagrange, Fn.div(xj, Fn.sub(xj, xs[i])));
    });
    f0 = Fn.add(f0, Fn.mul(f.rk, lagrange));
  });
  return SecretKey.fromBEBytes(toBytes32(Fn.mul(f0, d)));
}
