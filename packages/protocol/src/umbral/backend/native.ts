import { U_BYTES } from '../params-constants.js';
import { bytesToBigInt, CURVE_ORDER, mul as Fmul, neg as Fneg, scalarToBytes } from '../scalar.js';
import type { NativeSecp256k1 } from './native-binding.js';
import type { CurveBackend, Point } from './types.js';

/**
 * The libsecp256k1 backend. A point is its 65-byte uncompressed SEC1 encoding: the addon parses
 * and serializes at every call, and an uncompressed input needs no square root (a
 * multiplication ~78 us instead of ~87 us here, a sum of three points ~14 us instead of ~42 us).
 * Compressed bytes are decompressed once, in `decode`; `encode` compresses (no square root).
 * libsecp256k1's multiplications are constant-time, so `secret` needs no special path here.
 */
const toP = (b: Uint8Array): Point => b as unknown as Point;
const fromP = (p: Point): Uint8Array => p as unknown as Uint8Array;
const MINUS_ONE = CURVE_ORDER - 1n;
/** Bytes of a point handle: 0x04 || x || y. */
const LEN = 65;

export function makeNativeBackend(lib: NativeSecp256k1): CurveBackend {
  const U = new Uint8Array(LEN);
  if (lib.publicKeyConvert(U, U_BYTES) !== 0) throw new Error('libsecp256k1 cannot parse U');
  const mul = (p: Uint8Array, k: bigint): Point | null => {
    if (k === 0n) return null;
    const out = new Uint8Array(LEN);
    const rc = lib.publicKeyTweakMul(out, p, scalarToBytes(k));
    if (rc !== 0) throw new Error(`libsecp256k1 publicKeyTweakMul failed (${rc})`);
    return toP(out);
  };
  /** k*P as a term of a sum: 1 and -1 (the proofs' "- e2") need no multiplication. */
  const term = (p: Uint8Array, k: bigint): Uint8Array | null => {
    if (k === 1n) return p;
    if (k === MINUS_ONE) {
      const out = new Uint8Array(LEN);
      lib.publicKeyNegate(out, p);
      return out;
    }
    const t = mul(p, k);
    return t === null ? null : fromP(t);
  };
  const combine = (points: Uint8Array[]): Point | null => {
    if (points.length === 0) return null;
    if (points.length === 1) return toP(points[0]);
    const out = new Uint8Array(LEN);
    const rc = lib.publicKeyCombine(out, points);
    if (rc === 2) return null; // the sum is the point at infinity
    if (rc !== 0) throw new Error(`libsecp256k1 publicKeyCombine failed (${rc})`);
    return toP(out);
  };
  return {
    name: 'native',
    decode(bytes) {
      if (bytes.length !== 33 || (bytes[0] !== 2 && bytes[0] !== 3)) return undefined;
      const out = new Uint8Array(LEN);
      return lib.publicKeyConvert(out, bytes) === 0 ? toP(out) : undefined;
    },
    encode(p) {
      const out = new Uint8Array(33);
      const rc = lib.publicKeyConvert(out, fromP(p));
      if (rc !== 0) throw new Error(`libsecp256k1 publicKeyConvert failed (${rc})`);
      return out;
    },
    mulG(k) {
      if (k === 0n) return null;
      const out = new Uint8Array(LEN);
      const rc = lib.publicKeyCreate(out, scalarToBytes(k));
      if (rc !== 0) throw new Error(`libsecp256k1 publicKeyCreate failed (${rc})`);
      return toP(out);
    },
    mulU: (k) => mul(U, k),
    mul: (p, k) => mul(fromP(p), k),
    add(a, b) {
      if (a === null) return b;
      if (b === null) return a;
      return combine([fromP(a), fromP(b)]);
    },
    negate(p) {
      if (p === null) return null;
      const out = new Uint8Array(LEN);
      lib.publicKeyNegate(out, fromP(p));
      return toP(out);
    },
    linearCombination(points, scalars) {
      const terms: Uint8Array[] = [];
      for (let i = 0; i < points.length; i++) {
        const t = term(fromP(points[i]), scalars[i]);
        if (t !== null) terms.push(t);
      }
      return combine(terms);
    },
    combinationsVanish(equations) {
      for (const { points, scalars } of equations) {
        const terms: Uint8Array[] = [];
        for (let i = 0; i < points.length; i++) {
          const t = term(fromP(points[i]), scalars[i]);
          if (t !== null) terms.push(t);
        }
        if (combine(terms) !== null) return false;
      }
      return true;
    },
    mulAddGEquals(p, a, b, target) {
      // libsecp256k1 exposes its fast variable-time a*P + b*G (Strauss, GLV, G tables) only
      // through ECDSA recovery: recover(r, s, recid, e) = r^-1 (s*R - e*G) with R the point of
      // x = r and parity recid. With R = P: r = x(P), s = a*r, e = -b*r gives a*P + b*G. All
      // scalars here are public. x(P) >= n (probability ~2^-128) takes the generic path.
      const pb = fromP(p);
      const xBytes = pb.subarray(1, 33);
      const x = bytesToBigInt(xBytes);
      if (a !== 0n && x < CURVE_ORDER && target !== null) {
        const sig = new Uint8Array(64);
        sig.set(xBytes, 0);
        sig.set(scalarToBytes(Fmul(a, x)), 32);
        const out = new Uint8Array(LEN);
        // recid: the parity of y, the last byte of the uncompressed encoding
        if (lib.ecdsaRecover(out, sig, pb[64] & 1, scalarToBytes(Fneg(Fmul(b, x)))) === 0) {
          return this.equals(toP(out), target);
        }
      }
      const lhs = combine([
        ...(a === 0n ? [] : [fromP(mul(pb, a)!)]),
        ...(b === 0n ? [] : [fromP(this.mulG(b, false)!)]),
      ]);
      return this.equals(lhs, target);
    },
    equals(a, b) {
      if (a === null || b === null) return a === b;
      const x = fromP(a);
      const y = fromP(b);
      let diff = 0;
      for (let i = 0; i < LEN; i++) diff |= x[i] ^ y[i];
      return diff === 0;
    },
    sign(digest, secretKey, hedge) {
      const out = { signature: new Uint8Array(64), recid: null as number | null };
      const rc = lib.ecdsaSign(out, digest, secretKey, hedge, undefined);
      if (rc !== 0) throw new Error(`libsecp256k1 ecdsaSign failed (${rc})`);
      return out.signature;
    },
    verify: (signature, digest, publicKey) => lib.ecdsaVerify(signature, digest, fromP(publicKey)) === 0,
  };
}
