/**
 * A faster stand-in for `@noble/curves/secp256k1.js` as @libp2p/crypto uses it: the bundled CLI
 * (packages/cli/build-bundle.mjs) resolves @libp2p/crypto's secp256k1 imports of noble to this
 * module. Nothing else imports it.
 *
 * Why: every thresh PeerId is a secp256k1 key, and libp2p parses peer ids all the time (each
 * FIND_NODE answer carries 20, kad-dht's closest-peer tagger re-parses its set every 5 s, the
 * peer store, identify). Each parse validates and compresses the key with noble: two square
 * roots in bigints, ~0.8 ms here. A kad-dht lookup in a 50-node cluster parsed ~1,000 of them;
 * a node joining a 50-node cluster spent a sixth of its CPU there, and a Noise handshake or an
 * identify exchange spends ~1-2 ms more in noble's ECDSA.
 *
 * What changes: a point decoded from bytes is remembered (by its bytes, the last 4,096), and a
 * new one is decompressed by libsecp256k1 when its addon loads (~10 us, then noble checks the
 * uncompressed point against the curve equation, no square root). ECDSA signing and
 * verification of 32-byte digests in DER run in libsecp256k1: the same RFC 6979 signatures as
 * noble (both deterministic, low-S), and the same answers (libsecp256k1 refuses high-S like
 * noble's default). Any other call, and everything when the addon is missing, is noble's.
 */
import { secp256k1 as noble } from '@noble/curves/secp256k1.js';
import { nativeSecp256k1 } from '@thresh/protocol';

type NoblePoint = ReturnType<typeof noble.Point.fromBytes>;
type Sign = typeof noble.sign;
type Verify = typeof noble.verify;

/** How many decoded points are remembered: a cluster's peers several times over. */
export const POINT_CACHE_SIZE = 4096;

const points = new Map<string, NoblePoint>();

const keyOf = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

/** noble's `Point.fromBytes`, remembered, with libsecp256k1's decompression when it is there. */
export function pointFromBytes(bytes: Uint8Array): NoblePoint {
  const key = keyOf(bytes);
  const hit = points.get(key);
  if (hit !== undefined) {
    // refresh its place: the oldest entry is the one dropped
    points.delete(key);
    points.set(key, hit);
    return hit;
  }
  const lib = nativeSecp256k1();
  let point: NoblePoint | undefined;
  if (lib !== undefined && bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3)) {
    const uncompressed = new Uint8Array(65);
    // a failure (not on the curve) falls through to noble, which throws its own error
    if (lib.publicKeyConvert(uncompressed, bytes) === 0) point = noble.Point.fromBytes(uncompressed);
  }
  point ??= noble.Point.fromBytes(bytes);
  if (points.size >= POINT_CACHE_SIZE) points.delete(points.keys().next().value as string);
  points.set(key, point);
  return point;
}

/** Points remembered now (tests). */
export function cachedPointCount(): number {
  return points.size;
}

// noble's Point is frozen: an object inheriting from it, with its own fromBytes (defined, since
// assigning over an inherited read-only property throws); its other statics are noble's.
const Point = Object.create(noble.Point, {
  fromBytes: { value: pointFromBytes, enumerable: true },
}) as typeof noble.Point;

const getPublicKey: typeof noble.getPublicKey = (secretKey, isCompressed = true) => {
  const lib = nativeSecp256k1();
  if (lib === undefined || !(secretKey instanceof Uint8Array) || secretKey.length !== 32) {
    return noble.getPublicKey(secretKey, isCompressed);
  }
  const out = new Uint8Array(isCompressed ? 33 : 65);
  if (lib.publicKeyCreate(out, secretKey) !== 0) return noble.getPublicKey(secretKey, isCompressed); // throws
  return out;
};

/** The addon's code for a well-formed signature that does not verify. */
const VERIFY_FAILED = 3;

type SignOptions = Parameters<Sign>[2];
type VerifyOptions = Parameters<Verify>[3];

/** The calls libsecp256k1 takes: a 32-byte digest given as is, DER signatures. */
const derDigestCall = (digest: Uint8Array, opts: SignOptions | VerifyOptions): boolean => {
  if (!(digest instanceof Uint8Array) || digest.length !== 32 || opts === undefined) return false;
  const { prehash, format, ...rest } = opts as Record<string, unknown>;
  if (prehash !== false || format !== 'der') return false;
  // lowS: true is both libraries' default; any other option (extraEntropy, ...) stays with noble
  return Object.entries(rest).every(([k, v]) => v === undefined || (k === 'lowS' && v === true));
};

const sign: Sign = (digest, secretKey, opts) => {
  const lib = nativeSecp256k1();
  if (lib === undefined || !derDigestCall(digest, opts) || secretKey.length !== 32) {
    return noble.sign(digest, secretKey, opts);
  }
  const out = { signature: new Uint8Array(64), recid: null as number | null };
  if (lib.ecdsaSign(out, digest, secretKey, undefined, undefined) !== 0)
    return noble.sign(digest, secretKey, opts);
  return noble.Signature.fromBytes(out.signature, 'compact').toBytes('der');
};

const verify: Verify = (signature, digest, publicKey, opts) => {
  const lib = nativeSecp256k1();
  if (lib === undefined || !derDigestCall(digest, opts) || !(signature instanceof Uint8Array)) {
    return noble.verify(signature, digest, publicKey, opts);
  }
  let compact: Uint8Array;
  try {
    compact = noble.Signature.fromBytes(signature, 'der').toBytes('compact');
  } catch {
    return false; // noble answers false for a signature it cannot parse, too
  }
  if (!(publicKey instanceof Uint8Array) || (publicKey.length !== 33 && publicKey.length !== 65)) {
    return noble.verify(signature, digest, publicKey, opts);
  }
  const rc = lib.ecdsaVerify(compact, digest, publicKey);
  if (rc === 0) return true;
  if (rc === VERIFY_FAILED) return false;
  return noble.verify(signature, digest, publicKey, opts); // a key or signature it could not parse: noble's verdict
};

/** noble's secp256k1 with the calls above replaced. */
export const secp256k1: typeof noble = Object.freeze({ ...noble, Point, getPublicKey, sign, verify });
