import { sha256 } from '@noble/hashes/sha2.js';
import type { CurvePoint } from './curve.js';
import { nonZeroScalarFromDigest } from './scalar.js';

/** Every domain-separation tag and hash sequence of the PRE core, in one place (UMBRAL.md "Hashing"). */
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const DST_CAPSULE_POINTS = utf8('CAPSULE_POINTS');
export const DST_SHARED_SECRET = utf8('SHARED_SECRET');
export const DST_POLYNOMIAL_ARG = utf8('POLYNOMIAL_ARG');
export const DST_CFRAG_VERIFICATION = utf8('CFRAG_VERIFICATION');
export const INFO_KEY_DERIVATION = utf8('KEY_DERIVATION/');
export const INFO_SECRET_DERIVATION = utf8('SECRET_DERIVATION/');
export const INFO_FACTORY_DERIVATION = utf8('FACTORY_DERIVATION/');

/**
 * Umbral's ScalarDigest: SHA-256(u32be(len(dst)) || dst || parts...) reduced to a non-zero
 * scalar as k256 does ((h mod (n-1)) + 1). Not RFC 9380 hash_to_field.
 */
export function scalarDigest(dst: Uint8Array, parts: Uint8Array[]): bigint {
  const h = sha256.create();
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, dst.length, false);
  h.update(len).update(dst);
  for (const p of parts) h.update(p);
  return nonZeroScalarFromDigest(h.digest());
}

export function hashCapsulePoints(e: CurvePoint, v: CurvePoint): bigint {
  return scalarDigest(DST_CAPSULE_POINTS, [e.toBytes(), v.toBytes()]);
}

export function hashToSharedSecret(precursor: CurvePoint, pubkey: CurvePoint, dh: CurvePoint): bigint {
  return scalarDigest(DST_SHARED_SECRET, [precursor.toBytes(), pubkey.toBytes(), dh.toBytes()]);
}

export function hashToPolynomialArg(
  precursor: CurvePoint,
  pubkey: CurvePoint,
  dh: CurvePoint,
  kfragId: Uint8Array,
): bigint {
  return scalarDigest(DST_POLYNOMIAL_ARG, [precursor.toBytes(), pubkey.toBytes(), dh.toBytes(), kfragId]);
}

export function hashToCfragVerification(points: readonly CurvePoint[]): bigint {
  // E, E1, E2, V, V1, V2, U, U1, U2, in that order.
  return scalarDigest(
    DST_CFRAG_VERIFICATION,
    points.map((p) => p.toBytes()),
  );
}

/**
 * The message a kfrag's signatures cover: id || commitment || precursor || (0x01 || pk_A or
 * 0x00) || (0x01 || pk_B or 0x00).
 */
export function kfragSignatureMessage(
  kfragId: Uint8Array,
  commitment: CurvePoint,
  precursor: CurvePoint,
  delegatingPk: Uint8Array | undefined,
  receivingPk: Uint8Array | undefined,
): Uint8Array {
  const out = new Uint8Array(32 + 33 + 33 + (delegatingPk ? 34 : 1) + (receivingPk ? 34 : 1));
  let o = 0;
  const put = (b: Uint8Array) => {
    out.set(b, o);
    o += b.length;
  };
  put(kfragId);
  put(commitment.toBytes());
  put(precursor.toBytes());
  for (const pk of [delegatingPk, receivingPk]) {
    if (pk) {
      out[o++] = 1;
      put(pk);
    } else {
      out[o++] = 0;
    }
  }
  return out;
}
