import { mulAddUnsafe } from '@noble/curves/abstract/curve.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { U_BYTES } from '../params-constants.js';
import type { CurveBackend, Point } from './types.js';

/** The pure-JS backend on @noble/curves: runs everywhere (browsers), and is the reference. */

type NP = InstanceType<typeof secp256k1.Point>;
const NoblePoint = secp256k1.Point;
const toP = (p: NP): Point => p as unknown as Point;
const fromP = (p: Point): NP => p as unknown as NP;
const orNull = (p: NP): Point | null => (p.is0() ? null : toP(p));

// Fixed-window tables for the two generators: G's is built by noble, U's here (8-bit windows).
const U = NoblePoint.fromBytes(U_BYTES);
U.precompute(8, false);

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
    return orNull(mulAddUnsafe(NoblePoint, points.map(fromP), scalars));
  },
  equals(a, b) {
    if (a === null || b === null) return a === b;
    return fromP(a).equals(fromP(b));
  },
  sign: (digest, secretKey, hedge) =>
    secp256k1.sign(digest, secretKey, { prehash: false, lowS: true, extraEntropy: hedge, format: 'compact' }),
  verify(signature, digest, publicKey) {
    try {
      return secp256k1.verify(signature, digest, fromP(publicKey).toBytes(true), {
        prehash: false,
        lowS: true,
        format: 'compact',
      });
    } catch {
      return false;
    }
  },
};
