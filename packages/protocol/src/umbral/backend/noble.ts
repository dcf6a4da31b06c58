import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { _splitEndoScalar } from '@noble/curves/abstract/weierstrass.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { U_BYTES } from '../params-constants.js';
import { bytesToBigInt } from '../scalar.js';
import type { CurveBackend, Point } from './types.js';

/** The pure-JS backend on @noble/curves: runs everywhere (browsers), and is the reference. */

type NP = InstanceType<typeof secp256k1.Point>;
const NoblePoint = secp256k1.Point;
const toP = (p: NP): Point => p as unknown as Point;
const fromP = (p: Point): NP => p as unknown as NP;
const orNull = (p: NP): Point | null => (p.is0() ? null : toP(p));
const Fn = NoblePoint.Fn;
const HALF_ORDER = Fn.ORDER >> 1n;
const mulPublic = (p: NP, k: bigint): NP => (k === 0n ? NoblePoint.ZERO : p.multiplyUnsafe(k));

// Fixed-window tables for the two generators: G's is built by noble, U's here (8-bit windows).
const U = NoblePoint.fromBytes(U_BYTES);
U.precompute(8, false);

// GLV (secp256k1's endomorphism psi(x, y) = (beta*x, y) = lambda*P): a full scalar k splits
// into two ~128-bit halves on P and psi(P), halving the shared doubling chain of a joint walk.
// The basis is secp256k1's published one (as in noble's own secp256k1 definition).
const BETA = BigInt('0x7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501ee');
const GLV_BASIS: [[bigint, bigint], [bigint, bigint]] = [
  [BigInt('0x3086d221a7d46bcde86c90e49284eb15'), -BigInt('0xe4437ed6010e88286f547fa90abfe4c3')],
  [BigInt('0x114ca50f7a8e2f3f657c1108d9d44cfd8'), BigInt('0x3086d221a7d46bcde86c90e49284eb15')],
];
const HALF_BITS = 1n << 128n;
const psi = (p: NP): NP => new NoblePoint(NoblePoint.Fp.mul(p.X, BETA), p.Y, p.Z);

/** Appends k*P to a joint walk as short scalars: negation folded into P, GLV when k is long. */
function pushGlv(points: NP[], scalars: bigint[], p: NP, k: bigint): void {
  if (k === 0n) return;
  if (k > HALF_ORDER) {
    p = p.negate();
    k = Fn.ORDER - k;
  }
  if (k < HALF_BITS) {
    points.push(p);
    scalars.push(k);
    return;
  }
  const { k1neg, k1, k2neg, k2 } = _splitEndoScalar(k, GLV_BASIS, Fn.ORDER);
  const q = psi(p);
  if (k1 !== 0n) {
    points.push(k1neg ? p.negate() : p);
    scalars.push(k1);
  }
  if (k2 !== 0n) {
    points.push(k2neg ? q.negate() : q);
    scalars.push(k2);
  }
}

/**
 * Verifying keys recur (a node checks many kfrags of one owner, a reader every cfrag of a
 * policy under one key): from a key's second use its point gets a 4-bit window table (about
 * 5 ms once, 80 KB), which turns its multiplication from ~1.9 ms into ~0.6 ms here. Public
 * keys only; at most HOT_KEYS of them, least recently used dropped first.
 */
const HOT_KEYS = 32;
const hotKeys = new Map<string, { uses: number; point: NP }>();

function hotKey(p: NP, keyBytes: Uint8Array | undefined): NP {
  if (!keyBytes) return p;
  let id = '';
  for (let i = 0; i < keyBytes.length; i++) id += String.fromCharCode(keyBytes[i]);
  let entry = hotKeys.get(id);
  if (entry) {
    hotKeys.delete(id);
  } else {
    entry = { uses: 0, point: p };
    if (hotKeys.size >= HOT_KEYS) hotKeys.delete(hotKeys.keys().next().value as string);
  }
  hotKeys.set(id, entry);
  if (++entry.uses === 2) entry.point.precompute(4, false);
  return entry.uses >= 2 ? entry.point : p;
}

function randomWeight(): bigint {
  for (;;) {
    const w = bytesToBigInt(randomBytes(16));
    if (w !== 0n) return w;
  }
}

export const nobleBackend: CurveBackend = {
  name: 'noble',
  decode(bytes) {
    if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return undefined;
    try {
      const p = NoblePoint.fromBytes(bytes);
      p.assertValidity();
      return toP(p);
    } catch {
      return undefined;
    }
  },
  encode: (p) => fromP(p).toBytes(true),
  mulG: (k, secret) =>
    k === 0n ? null : orNull(secret ? NoblePoint.BASE.multiply(k) : NoblePoint.BASE.multiplyUnsafe(k)),
  mulU: (k, secret) => (k === 0n ? null : orNull(secret ? U.multiply(k) : U.multiplyUnsafe(k))),
  mul: (p, k, secret) =>
    k === 0n ? null : orNull(secret ? fromP(p).multiply(k) : fromP(p).multiplyUnsafe(k)),
  add(a, b) {
    if (a === null) return b;
    if (b === null) return a;
    return orNull(fromP(a).add(fromP(b)));
  },
  negate: (p) => (p === null ? null : toP(fromP(p).negate())),
  linearCombination(points, scalars) {
    if (points.length === 0) return null;
    if (points.length === 1) return orNull(mulPublic(fromP(points[0]), scalars[0]));
    if (points.length === 2) {
      const [a, b] = [fromP(points[0]), fromP(points[1])];
      // U and G have tables; a table lookup plus one GLV multiplication beats a joint walk.
      if (b === U || b === NoblePoint.BASE)
        return orNull(mulPublic(b, scalars[1]).add(mulPublic(a, scalars[0])));
      if (a === U || a === NoblePoint.BASE)
        return orNull(mulPublic(a, scalars[0]).add(mulPublic(b, scalars[1])));
      return orNull(a.mulAddUnsafe(scalars[0], b, scalars[1])); // Strauss-Shamir with GLV
    }
    return orNull(mulAddUnsafe(NoblePoint, points.map(fromP), scalars));
  },
  combinationsVanish(equations) {
    const points: NP[] = [];
    const scalars: bigint[] = [];
    equations.forEach((eq, i) => {
      // The first equation keeps weight 1; the others get independent random 128-bit weights.
      const rho = i === 0 ? 1n : randomWeight();
      for (let j = 0; j < eq.points.length; j++)
        pushGlv(points, scalars, fromP(eq.points[j]), Fn.mul(eq.scalars[j], rho));
    });
    return points.length === 0 || mulAddUnsafe(NoblePoint, points, scalars).is0();
  },
  mulAddGEquals(p, a, b, target) {
    const sum = NoblePoint.BASE.multiplyUnsafe(b === 0n ? 0n : b).add(mulPublic(fromP(p), a));
    return target === null ? sum.is0() : !sum.is0() && sum.equals(fromP(target));
  },
  equals(a, b) {
    if (a === null || b === null) return a === b;
    return fromP(a).equals(fromP(b));
  },
  sign: (digest, secretKey, hedge) =>
    secp256k1.sign(digest, secretKey, { prehash: false, lowS: true, extraEntropy: hedge, format: 'compact' }),
  verify(signature, digest, publicKey, keyBytes) {
    // SEC 1 4.1.4 on the already-decoded key (secp256k1.verify would re-encode and re-parse
    // it): R = (e/s)G + (r/s)P, valid when R.x mod n == r. r, s were range- and low-S-checked
    // when the Signature was parsed; checked again here since this is a public entry.
    if (signature.length !== 64 || digest.length !== 32) return false;
    const r = bytesToBigInt(signature.subarray(0, 32));
    const s = bytesToBigInt(signature.subarray(32, 64));
    if (r === 0n || r >= Fn.ORDER || s === 0n || s > HALF_ORDER) return false;
    const e = Fn.create(bytesToBigInt(digest));
    const w = Fn.inv(s);
    const key = hotKey(fromP(publicKey), keyBytes);
    const R = mulPublic(NoblePoint.BASE, Fn.mul(e, w)).add(mulPublic(key, Fn.mul(r, w)));
    if (R.is0()) return false;
    return Fn.create(R.toAffine().x) === r;
  },
};
