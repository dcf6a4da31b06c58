import { secp256k1 } from '@noble/curves/secp256k1.js';

/** Scalars mod the group order n, as bigints (UMBRAL.md: 32-byte big-endian). */
export const Fn = secp256k1.Point.Fn;
export const CURVE_ORDER: bigint = Fn.ORDER;

export function scalarToBytes(k: bigint): Uint8Array {
  return Fn.toBytes(k);
}

/** Big-endian bytes to an integer (no range check). */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  let hex = '0x0';
  for (let i = 0; i < bytes.length; i++) hex += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return BigInt(hex);
}

/** A scalar read from 32 bytes, or undefined if out of [0, n) (or zero when `nonZero`). */
export function scalarFromBytes(bytes: Uint8Array, nonZero: boolean): bigint | undefined {
  if (bytes.length !== 32) return undefined;
  const k = bytesToBigInt(bytes);
  if (k >= CURVE_ORDER || (nonZero && k === 0n)) return undefined;
  return k;
}

export const add = (a: bigint, b: bigint): bigint => Fn.add(a, b);
export const sub = (a: bigint, b: bigint): bigint => Fn.sub(a, b);
export const mul = (a: bigint, b: bigint): bigint => Fn.mul(a, b);
export const neg = (a: bigint): bigint => Fn.neg(a);
export const inv = (a: bigint): bigint => Fn.inv(a);
/** The inverses of non-zero scalars, with one field inversion for all (Montgomery's trick). */
export const invBatch = (xs: readonly bigint[]): bigint[] => Fn.invertBatch([...xs]);

/** k256's NonZeroScalar reduction of a 256-bit digest: (h mod (n - 1)) + 1 (UMBRAL.md). */
export function nonZeroScalarFromDigest(digest: Uint8Array): bigint {
  return (bytesToBigInt(digest) % (CURVE_ORDER - 1n)) + 1n;
}
