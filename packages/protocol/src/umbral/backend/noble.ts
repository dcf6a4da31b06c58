import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { _splitEndoScalar } from '@noble/curves/abstract/weierstrass.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { U_BYTES } from '../params-constants.js';
import { bytesToBigInt } from '../scalar.js';
import { powSqrt } from './field24.js';
import { type Affine, P as FIELD_P, FixedBase, Jac, LimbJac, msm, toAffineBatch } from './jacobian.js';
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
// Built on first use, not at import: every process that loads @thresh/protocol (each CLI run,
// each node's crypto workers) would otherwise pay ~350 ms of CPU for a table most never use.
const U = NoblePoint.fromBytes(U_BYTES);
let uPrecomputed = false;
const tabledU = (): NP => {
  if (!uPrecomputed) {
    U.precompute(8, false);
    uPrecomputed = true;
  }
  return U;
};

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
 * policy under one key): from a key's second use it gets a fixed-base table (4-bit signed
 * windows, 520 affine points, a few ms once), which turns its multiplication into 65 mixed
 * additions. Public keys only; at most HOT_KEYS of them, least recently used dropped first.
 */
const HOT_KEYS = 32;
const HOT_BITS = 4;
const hotKeys = new Map<string, { uses: number; table: FixedBase | undefined }>();

function hotKeyTable(p: NP, keyBytes: Uint8Array | undefined): FixedBase | undefined {
  if (!keyBytes) return undefined;
  let id = '';
  for (let i = 0; i < keyBytes.length; i++) id += String.fromCharCode(keyBytes[i]);
  let entry = hotKeys.get(id);
  if (entry) {
    hotKeys.delete(id);
  } else {
    entry = { uses: 0, table: undefined };
    if (hotKeys.size >= HOT_KEYS) hotKeys.delete(hotKeys.keys().next().value as string);
  }
  hotKeys.set(id, entry);
  if (++entry.uses === 2) entry.table = new FixedBase(affineAll([p])[0], HOT_BITS);
  return entry.table;
}

/** Affine coordinates of non-identity points; those not already affine share one inversion. */
function affineAll(ps: NP[]): Affine[] {
  const out: Affine[] = new Array(ps.length);
  const todo: number[] = [];
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i];
    if (p.Z === 1n) out[i] = { x: p.X, y: p.Y };
    else todo.push(i);
  }
  if (todo.length > 0) {
    // noble's projective (X, Y, Z) is (X/Z, Y/Z): as Jacobian, (X*Z, Y*Z^2, Z).
    const jac = todo.map((i) => {
      const { X, Y, Z } = ps[i];
      return new Jac((X * Z) % FIELD_P, (((Y * Z) % FIELD_P) * Z) % FIELD_P, Z);
    });
    const aff = toAffineBatch(jac);
    todo.forEach((i, j) => {
      out[i] = aff[j];
    });
  }
  return out;
}

let uFixed: FixedBase | undefined;
let gFixed: FixedBase | undefined;
const uTable = (): FixedBase => (uFixed ??= new FixedBase(affineAll([U])[0], 8));
const gTable = (): FixedBase => (gFixed ??= new FixedBase(affineAll([NoblePoint.BASE])[0], 8));

function randomWeight(): bigint {
  for (;;) {
    const w = bytesToBigInt(randomBytes(16));
    if (w !== 0n) return w;
  }
}

export const nobleBackend: CurveBackend = {
  name: 'noble',
  decode(bytes) {
    // SEC 1 decompression with the faster square root of ./field24.ts; the root is checked
    // (y^2 == x^3 + 7) before use, and noble validates the point once more.
    if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return undefined;
    const x = bytesToBigInt(bytes.subarray(1));
    if (x >= FIELD_P) return undefined;
    const y2 = (((x * x) % FIELD_P) * x + 7n) % FIELD_P;
    let y = powSqrt(y2);
    if (y === 0n || (y * y) % FIELD_P !== y2) return undefined;
    if ((y & 1n) !== BigInt(bytes[0] & 1)) y = FIELD_P - y;
    try {
      const p = new NoblePoint(x, y, 1n);
      p.assertValidity();
      return toP(p);
    } catch {
      return undefined;
    }
  },
  encode: (p) => fromP(p).toBytes(true),
  mulG: (k, secret) =>
    k === 0n ? null : orNull(secret ? NoblePoint.BASE.multiply(k) : NoblePoint.BASE.multiplyUnsafe(k)),
  mulU: (k, secret) =>
    k === 0n ? null : orNull(secret ? tabledU().multiply(k) : tabledU().multiplyUnsafe(k)),
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
    let uScalar = 0n; // U's terms go through its fixed-base table
    equations.forEach((eq, i) => {
      // The first equation keeps weight 1; the others get independent random 128-bit weights.
      const rho = i === 0 ? 1n : randomWeight();
      for (let j = 0; j < eq.points.length; j++) {
        const p = fromP(eq.points[j]);
        const k = Fn.mul(eq.scalars[j], rho);
        if (p === U || p.equals(U)) uScalar = Fn.add(uScalar, k);
        else pushGlv(points, scalars, p, k);
      }
    });
    const acc = msm(affineAll(points), scalars);
    if (uScalar !== 0n) uTable().mulInto(acc, uScalar);
    return acc.inf;
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
    const u1 = Fn.mul(e, w);
    const u2 = Fn.mul(r, w);
    const key = fromP(publicKey);
    const table = hotKeyTable(key, keyBytes);
    let acc: LimbJac;
    if (table) {
      acc = new LimbJac();
      table.mulInto(acc, u2);
    } else {
      const points: NP[] = [];
      const scalars: bigint[] = [];
      pushGlv(points, scalars, key, u2);
      acc = msm(affineAll(points), scalars);
    }
    if (u1 !== 0n) gTable().mulInto(acc, u1);
    if (acc.inf) return false;
    const R = acc.toJac();
    // R.x mod n == r without an inversion: x = X/Z^2, and x is r or r + n (if below p).
    const zz = (R.z * R.z) % FIELD_P;
    if ((r * zz) % FIELD_P === R.x) return true;
    const rn = r + Fn.ORDER;
    return rn < FIELD_P && (rn * zz) % FIELD_P === R.x;
  },
};
