/**
 * Arithmetic mod secp256k1's p on 11 limbs of 24 bits held in doubles instead of bigints:
 * every bigint `%` allocates and divides, while 24-bit limb products (< 2^48) summed eleven
 * at a time stay exact in a double (< 2^53). Used for square roots (point decompression) and
 * the variable-time multi-scalar walk of verification. Public inputs only (variable time).
 *
 * A value is 11 limbs a[0..10] with a = sum a[i] * 2^(24 i) < 2^264, each limb in [0, 2^24).
 * Reduction uses 2^264 = 2^8 * (2^32 + 977) = 2^40 + 250112 (mod p).
 */

/** secp256k1's field prime p = 2^256 - 2^32 - 977. */
export const P = BigInt('0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f');

const LIMBS = 11;
const B = 16777216; // 2^24
const INV_B = 1 / B;
const FOLD_LO = 250112; // 977 * 2^8: 2^264 = 2^40 + FOLD_LO
const FOLD_HI = 65536; // 2^40 = 2^24 * FOLD_HI

/** out = a * b mod p (loosely reduced: < 2^264, limbs in [0, 2^24)). out may alias a or b. Unrolled. */
export function mul(a: Float64Array, b: Float64Array, out: Float64Array): void {
  const a0 = a[0];
  const a1 = a[1];
  const a2 = a[2];
  const a3 = a[3];
  const a4 = a[4];
  const a5 = a[5];
  const a6 = a[6];
  const a7 = a[7];
  const a8 = a[8];
  const a9 = a[9];
  const a10 = a[10];
  const b0 = b[0];
  const b1 = b[1];
  const b2 = b[2];
  const b3 = b[3];
  const b4 = b[4];
  const b5 = b[5];
  const b6 = b[6];
  const b7 = b[7];
  const b8 = b[8];
  const b9 = b[9];
  const b10 = b[10];
  let c = 0;
  let v = 0;
  v = a0 * b0 + c;
  c = Math.floor(v * INV_B);
  const t0 = v - c * B;
  v = a0 * b1 + a1 * b0 + c;
  c = Math.floor(v * INV_B);
  const t1 = v - c * B;
  v = a0 * b2 + a1 * b1 + a2 * b0 + c;
  c = Math.floor(v * INV_B);
  const t2 = v - c * B;
  v = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + c;
  c = Math.floor(v * INV_B);
  const t3 = v - c * B;
  v = a0 * b4 + a1 * b3 + a2 * b2 + a3 * b1 + a4 * b0 + c;
  c = Math.floor(v * INV_B);
  const t4 = v - c * B;
  v = a0 * b5 + a1 * b4 + a2 * b3 + a3 * b2 + a4 * b1 + a5 * b0 + c;
  c = Math.floor(v * INV_B);
  const t5 = v - c * B;
  v = a0 * b6 + a1 * b5 + a2 * b4 + a3 * b3 + a4 * b2 + a5 * b1 + a6 * b0 + c;
  c = Math.floor(v * INV_B);
  const t6 = v - c * B;
  v = a0 * b7 + a1 * b6 + a2 * b5 + a3 * b4 + a4 * b3 + a5 * b2 + a6 * b1 + a7 * b0 + c;
  c = Math.floor(v * INV_B);
  const t7 = v - c * B;
  v = a0 * b8 + a1 * b7 + a2 * b6 + a3 * b5 + a4 * b4 + a5 * b3 + a6 * b2 + a7 * b1 + a8 * b0 + c;
  c = Math.floor(v * INV_B);
  const t8 = v - c * B;
  v = a0 * b9 + a1 * b8 + a2 * b7 + a3 * b6 + a4 * b5 + a5 * b4 + a6 * b3 + a7 * b2 + a8 * b1 + a9 * b0 + c;
  c = Math.floor(v * INV_B);
  const t9 = v - c * B;
  v =
    a0 * b10 +
    a1 * b9 +
    a2 * b8 +
    a3 * b7 +
    a4 * b6 +
    a5 * b5 +
    a6 * b4 +
    a7 * b3 +
    a8 * b2 +
    a9 * b1 +
    a10 * b0 +
    c;
  c = Math.floor(v * INV_B);
  const t10 = v - c * B;
  v = a1 * b10 + a2 * b9 + a3 * b8 + a4 * b7 + a5 * b6 + a6 * b5 + a7 * b4 + a8 * b3 + a9 * b2 + a10 * b1 + c;
  c = Math.floor(v * INV_B);
  const t11 = v - c * B;
  v = a2 * b10 + a3 * b9 + a4 * b8 + a5 * b7 + a6 * b6 + a7 * b5 + a8 * b4 + a9 * b3 + a10 * b2 + c;
  c = Math.floor(v * INV_B);
  const t12 = v - c * B;
  v = a3 * b10 + a4 * b9 + a5 * b8 + a6 * b7 + a7 * b6 + a8 * b5 + a9 * b4 + a10 * b3 + c;
  c = Math.floor(v * INV_B);
  const t13 = v - c * B;
  v = a4 * b10 + a5 * b9 + a6 * b8 + a7 * b7 + a8 * b6 + a9 * b5 + a10 * b4 + c;
  c = Math.floor(v * INV_B);
  const t14 = v - c * B;
  v = a5 * b10 + a6 * b9 + a7 * b8 + a8 * b7 + a9 * b6 + a10 * b5 + c;
  c = Math.floor(v * INV_B);
  const t15 = v - c * B;
  v = a6 * b10 + a7 * b9 + a8 * b8 + a9 * b7 + a10 * b6 + c;
  c = Math.floor(v * INV_B);
  const t16 = v - c * B;
  v = a7 * b10 + a8 * b9 + a9 * b8 + a10 * b7 + c;
  c = Math.floor(v * INV_B);
  const t17 = v - c * B;
  v = a8 * b10 + a9 * b9 + a10 * b8 + c;
  c = Math.floor(v * INV_B);
  const t18 = v - c * B;
  v = a9 * b10 + a10 * b9 + c;
  c = Math.floor(v * INV_B);
  const t19 = v - c * B;
  v = a10 * b10 + c;
  c = Math.floor(v * INV_B);
  const t20 = v - c * B;
  const t21 = c;
  let o0 = t0 + t11 * FOLD_LO;
  let o1 = t1 + t12 * FOLD_LO + t11 * FOLD_HI;
  let o2 = t2 + t13 * FOLD_LO + t12 * FOLD_HI;
  let o3 = t3 + t14 * FOLD_LO + t13 * FOLD_HI;
  let o4 = t4 + t15 * FOLD_LO + t14 * FOLD_HI;
  let o5 = t5 + t16 * FOLD_LO + t15 * FOLD_HI;
  let o6 = t6 + t17 * FOLD_LO + t16 * FOLD_HI;
  let o7 = t7 + t18 * FOLD_LO + t17 * FOLD_HI;
  let o8 = t8 + t19 * FOLD_LO + t18 * FOLD_HI;
  let o9 = t9 + t20 * FOLD_LO + t19 * FOLD_HI;
  let o10 = t10 + t21 * FOLD_LO + t20 * FOLD_HI;
  let top = t21 * FOLD_HI;
  for (;;) {
    c = 0;
    v = o0 + c;
    c = Math.floor(v * INV_B);
    o0 = v - c * B;
    v = o1 + c;
    c = Math.floor(v * INV_B);
    o1 = v - c * B;
    v = o2 + c;
    c = Math.floor(v * INV_B);
    o2 = v - c * B;
    v = o3 + c;
    c = Math.floor(v * INV_B);
    o3 = v - c * B;
    v = o4 + c;
    c = Math.floor(v * INV_B);
    o4 = v - c * B;
    v = o5 + c;
    c = Math.floor(v * INV_B);
    o5 = v - c * B;
    v = o6 + c;
    c = Math.floor(v * INV_B);
    o6 = v - c * B;
    v = o7 + c;
    c = Math.floor(v * INV_B);
    o7 = v - c * B;
    v = o8 + c;
    c = Math.floor(v * INV_B);
    o8 = v - c * B;
    v = o9 + c;
    c = Math.floor(v * INV_B);
    o9 = v - c * B;
    v = o10 + c;
    c = Math.floor(v * INV_B);
    o10 = v - c * B;
    top += c;
    if (top === 0) break;
    const hi = Math.floor(top * INV_B);
    const lo = top - hi * B;
    o0 += lo * FOLD_LO;
    o1 += lo * FOLD_HI + hi * FOLD_LO;
    o2 += hi * FOLD_HI;
    top = 0;
  }
  out[0] = o0;
  out[1] = o1;
  out[2] = o2;
  out[3] = o3;
  out[4] = o4;
  out[5] = o5;
  out[6] = o6;
  out[7] = o7;
  out[8] = o8;
  out[9] = o9;
  out[10] = o10;
}

/** out = a^2 mod p, like mul(a, a, out) with the symmetric products once. */
export function sqr(a: Float64Array, out: Float64Array): void {
  const a0 = a[0];
  const a1 = a[1];
  const a2 = a[2];
  const a3 = a[3];
  const a4 = a[4];
  const a5 = a[5];
  const a6 = a[6];
  const a7 = a[7];
  const a8 = a[8];
  const a9 = a[9];
  const a10 = a[10];
  const d1 = 2 * a1;
  const d2 = 2 * a2;
  const d3 = 2 * a3;
  const d4 = 2 * a4;
  const d5 = 2 * a5;
  const d6 = 2 * a6;
  const d7 = 2 * a7;
  const d8 = 2 * a8;
  const d9 = 2 * a9;
  const d10 = 2 * a10;
  let c = 0;
  let v = 0;
  v = a0 * a0 + c;
  c = Math.floor(v * INV_B);
  const t0 = v - c * B;
  v = a0 * d1 + c;
  c = Math.floor(v * INV_B);
  const t1 = v - c * B;
  v = a0 * d2 + a1 * a1 + c;
  c = Math.floor(v * INV_B);
  const t2 = v - c * B;
  v = a0 * d3 + a1 * d2 + c;
  c = Math.floor(v * INV_B);
  const t3 = v - c * B;
  v = a0 * d4 + a1 * d3 + a2 * a2 + c;
  c = Math.floor(v * INV_B);
  const t4 = v - c * B;
  v = a0 * d5 + a1 * d4 + a2 * d3 + c;
  c = Math.floor(v * INV_B);
  const t5 = v - c * B;
  v = a0 * d6 + a1 * d5 + a2 * d4 + a3 * a3 + c;
  c = Math.floor(v * INV_B);
  const t6 = v - c * B;
  v = a0 * d7 + a1 * d6 + a2 * d5 + a3 * d4 + c;
  c = Math.floor(v * INV_B);
  const t7 = v - c * B;
  v = a0 * d8 + a1 * d7 + a2 * d6 + a3 * d5 + a4 * a4 + c;
  c = Math.floor(v * INV_B);
  const t8 = v - c * B;
  v = a0 * d9 + a1 * d8 + a2 * d7 + a3 * d6 + a4 * d5 + c;
  c = Math.floor(v * INV_B);
  const t9 = v - c * B;
  v = a0 * d10 + a1 * d9 + a2 * d8 + a3 * d7 + a4 * d6 + a5 * a5 + c;
  c = Math.floor(v * INV_B);
  const t10 = v - c * B;
  v = a1 * d10 + a2 * d9 + a3 * d8 + a4 * d7 + a5 * d6 + c;
  c = Math.floor(v * INV_B);
  const t11 = v - c * B;
  v = a2 * d10 + a3 * d9 + a4 * d8 + a5 * d7 + a6 * a6 + c;
  c = Math.floor(v * INV_B);
  const t12 = v - c * B;
  v = a3 * d10 + a4 * d9 + a5 * d8 + a6 * d7 + c;
  c = Math.floor(v * INV_B);
  const t13 = v - c * B;
  v = a4 * d10 + a5 * d9 + a6 * d8 + a7 * a7 + c;
  c = Math.floor(v * INV_B);
  const t14 = v - c * B;
  v = a5 * d10 + a6 * d9 + a7 * d8 + c;
  c = Math.floor(v * INV_B);
  const t15 = v - c * B;
  v = a6 * d10 + a7 * d9 + a8 * a8 + c;
  c = Math.floor(v * INV_B);
  const t16 = v - c * B;
  v = a7 * d10 + a8 * d9 + c;
  c = Math.floor(v * INV_B);
  const t17 = v - c * B;
  v = a8 * d10 + a9 * a9 + c;
  c = Math.floor(v * INV_B);
  const t18 = v - c * B;
  v = a9 * d10 + c;
  c = Math.floor(v * INV_B);
  const t19 = v - c * B;
  v = a10 * a10 + c;
  c = Math.floor(v * INV_B);
  const t20 = v - c * B;
  const t21 = c;
  let o0 = t0 + t11 * FOLD_LO;
  let o1 = t1 + t12 * FOLD_LO + t11 * FOLD_HI;
  let o2 = t2 + t13 * FOLD_LO + t12 * FOLD_HI;
  let o3 = t3 + t14 * FOLD_LO + t13 * FOLD_HI;
  let o4 = t4 + t15 * FOLD_LO + t14 * FOLD_HI;
  let o5 = t5 + t16 * FOLD_LO + t15 * FOLD_HI;
  let o6 = t6 + t17 * FOLD_LO + t16 * FOLD_HI;
  let o7 = t7 + t18 * FOLD_LO + t17 * FOLD_HI;
  let o8 = t8 + t19 * FOLD_LO + t18 * FOLD_HI;
  let o9 = t9 + t20 * FOLD_LO + t19 * FOLD_HI;
  let o10 = t10 + t21 * FOLD_LO + t20 * FOLD_HI;
  let top = t21 * FOLD_HI;
  for (;;) {
    c = 0;
    v = o0 + c;
    c = Math.floor(v * INV_B);
    o0 = v - c * B;
    v = o1 + c;
    c = Math.floor(v * INV_B);
    o1 = v - c * B;
    v = o2 + c;
    c = Math.floor(v * INV_B);
    o2 = v - c * B;
    v = o3 + c;
    c = Math.floor(v * INV_B);
    o3 = v - c * B;
    v = o4 + c;
    c = Math.floor(v * INV_B);
    o4 = v - c * B;
    v = o5 + c;
    c = Math.floor(v * INV_B);
    o5 = v - c * B;
    v = o6 + c;
    c = Math.floor(v * INV_B);
    o6 = v - c * B;
    v = o7 + c;
    c = Math.floor(v * INV_B);
    o7 = v - c * B;
    v = o8 + c;
    c = Math.floor(v * INV_B);
    o8 = v - c * B;
    v = o9 + c;
    c = Math.floor(v * INV_B);
    o9 = v - c * B;
    v = o10 + c;
    c = Math.floor(v * INV_B);
    o10 = v - c * B;
    top += c;
    if (top === 0) break;
    const hi = Math.floor(top * INV_B);
    const lo = top - hi * B;
    o0 += lo * FOLD_LO;
    o1 += lo * FOLD_HI + hi * FOLD_LO;
    o2 += hi * FOLD_HI;
    top = 0;
  }
  out[0] = o0;
  out[1] = o1;
  out[2] = o2;
  out[3] = o3;
  out[4] = o4;
  out[5] = o5;
  out[6] = o6;
  out[7] = o7;
  out[8] = o8;
  out[9] = o9;
  out[10] = o10;
}

function sqrN(a: Float64Array, n: number, out: Float64Array): void {
  sqr(a, out);
  for (let i = 1; i < n; i++) sqr(out, out);
}

/** Limbs of 0 <= x < 2^264 (callers pass field elements, < p). */
export function fromBig(x: bigint): Float64Array {
  const out = new Float64Array(LIMBS);
  const hex = x.toString(16).padStart(6 * LIMBS, '0');
  for (let i = 0; i < LIMBS; i++) {
    const end = hex.length - 6 * i;
    out[i] = Number.parseInt(hex.slice(end - 6, end), 16);
  }
  return out;
}

/** The canonical value in [0, p) of normalized limbs. */
export function toBig(a: Float64Array): bigint {
  let hex = '0x';
  for (let i = LIMBS - 1; i >= 0; i--) hex += a[i].toString(16).padStart(6, '0');
  return BigInt(hex) % P;
}

/**
 * x^((p+1)/4) mod p for 0 <= x < p: the square root of x when x is a square (p = 3 mod 4).
 * The addition chain is the one @noble/curves uses for secp256k1 (bits: 223 ones, a zero,
 * 22 ones, four zeros, 11, 00).
 */
export function powSqrt(xBig: bigint): bigint {
  const x = fromBig(xBig);
  const tmp = new Float64Array(LIMBS);
  const b2 = new Float64Array(LIMBS);
  sqr(x, b2);
  mul(b2, x, b2); // x^3
  const b3 = new Float64Array(LIMBS);
  sqr(b2, b3);
  mul(b3, x, b3); // x^7
  const b6 = new Float64Array(LIMBS);
  sqrN(b3, 3, b6);
  mul(b6, b3, b6);
  const b9 = new Float64Array(LIMBS);
  sqrN(b6, 3, b9);
  mul(b9, b3, b9);
  const b11 = new Float64Array(LIMBS);
  sqrN(b9, 2, b11);
  mul(b11, b2, b11);
  const b22 = new Float64Array(LIMBS);
  sqrN(b11, 11, b22);
  mul(b22, b11, b22);
  const b44 = new Float64Array(LIMBS);
  sqrN(b22, 22, b44);
  mul(b44, b22, b44);
  const b88 = new Float64Array(LIMBS);
  sqrN(b44, 44, b88);
  mul(b88, b44, b88);
  sqrN(b88, 88, tmp); // b176
  mul(tmp, b88, tmp);
  sqrN(tmp, 44, tmp); // b220
  mul(tmp, b44, tmp);
  sqrN(tmp, 3, tmp); // b223
  mul(tmp, b3, tmp);
  sqrN(tmp, 23, tmp); // t1
  mul(tmp, b22, tmp);
  sqrN(tmp, 6, tmp); // t2
  mul(tmp, b2, tmp);
  sqrN(tmp, 2, tmp);
  return toBig(tmp);
}

/**
 * Carries `o` back to limbs in [0, 2^24) and a value in [0, 2^264): limbs of any sign below
 * 2^50 in, and any sign of the total (folded with 2^264 = 2^40 + FOLD_LO mod p). Unrolled.
 */
function norm(o: Float64Array): void {
  let o0 = o[0];
  let o1 = o[1];
  let o2 = o[2];
  let o3 = o[3];
  let o4 = o[4];
  let o5 = o[5];
  let o6 = o[6];
  let o7 = o[7];
  let o8 = o[8];
  let o9 = o[9];
  let o10 = o[10];
  let top = 0;
  let c = 0;
  let v = 0;
  for (;;) {
    c = 0;
    v = o0 + c;
    c = Math.floor(v * INV_B);
    o0 = v - c * B;
    v = o1 + c;
    c = Math.floor(v * INV_B);
    o1 = v - c * B;
    v = o2 + c;
    c = Math.floor(v * INV_B);
    o2 = v - c * B;
    v = o3 + c;
    c = Math.floor(v * INV_B);
    o3 = v - c * B;
    v = o4 + c;
    c = Math.floor(v * INV_B);
    o4 = v - c * B;
    v = o5 + c;
    c = Math.floor(v * INV_B);
    o5 = v - c * B;
    v = o6 + c;
    c = Math.floor(v * INV_B);
    o6 = v - c * B;
    v = o7 + c;
    c = Math.floor(v * INV_B);
    o7 = v - c * B;
    v = o8 + c;
    c = Math.floor(v * INV_B);
    o8 = v - c * B;
    v = o9 + c;
    c = Math.floor(v * INV_B);
    o9 = v - c * B;
    v = o10 + c;
    c = Math.floor(v * INV_B);
    o10 = v - c * B;
    top += c;
    if (top === 0) break;
    const hi = Math.floor(top * INV_B);
    const lo = top - hi * B;
    o0 += lo * FOLD_LO;
    o1 += lo * FOLD_HI + hi * FOLD_LO;
    o2 += hi * FOLD_HI;
    top = 0;
  }
  o[0] = o0;
  o[1] = o1;
  o[2] = o2;
  o[3] = o3;
  o[4] = o4;
  o[5] = o5;
  o[6] = o6;
  o[7] = o7;
  o[8] = o8;
  o[9] = o9;
  o[10] = o10;
}

/** out = a - b mod p. */
export function sub(a: Float64Array, b: Float64Array, out: Float64Array): void {
  for (let i = 0; i < LIMBS; i++) out[i] = a[i] - b[i];
  norm(out);
}

/** out = a - kb * b - kc * c mod p for small integers kb, kc >= 0 (one normalization). */
export function subMul(
  a: Float64Array,
  b: Float64Array,
  kb: number,
  c: Float64Array,
  kc: number,
  out: Float64Array,
): void {
  for (let i = 0; i < LIMBS; i++) out[i] = a[i] - kb * b[i] - kc * c[i];
  norm(out);
}

/** out = k * a mod p for a small integer k (|k| < 2^20). */
export function mulSmall(a: Float64Array, k: number, out: Float64Array): void {
  for (let i = 0; i < LIMBS; i++) out[i] = a[i] * k;
  norm(out);
}

const scratch = new Float64Array(LIMBS);
const P_LIMBS = fromBig(P);

/** Whether a = 0 mod p, for a in normal form (then a is 0, p, 2p, ... or 256p). */
export function isZero(a: Float64Array): boolean {
  const t = scratch;
  t.set(a);
  // Twice: a - q*2^256 + q*(2^32 + 977) with q = floor(a / 2^256); then a < 2^256.
  for (let round = 0; round < 2; round++) {
    const q = Math.floor(t[LIMBS - 1] / 65536);
    if (q === 0) break;
    t[LIMBS - 1] -= q * 65536;
    t[0] += q * 977;
    t[1] += q * 256;
    let c = 0;
    for (let k = 0; k < LIMBS; k++) {
      const v = t[k] + c;
      c = Math.floor(v * INV_B);
      t[k] = v - c * B;
    }
  }
  let zero = true;
  let isP = true;
  for (let i = 0; i < LIMBS; i++) {
    if (t[i] !== 0) zero = false;
    if (t[i] !== P_LIMBS[i]) isP = false;
  }
  return zero || isP;
}

export const newElement = (): Float64Array => new Float64Array(LIMBS);
