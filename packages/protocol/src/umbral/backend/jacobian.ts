import { invert } from '@noble/curves/abstract/modular.js';
import * as F24 from './field24.js';
import { P } from './field24.js';

/**
 * Variable-time secp256k1 arithmetic for verification (every scalar public), faster than
 * @noble/curves' generic complete formulas: Jacobian coordinates with the a = 0 doubling,
 * mixed (Jacobian + affine) additions, tables of odd multiples brought to affine in batches
 * with one inversion each (Montgomery's trick), and the hot loops on the limb field of
 * ./field24.ts instead of bigints. Never use it with a secret scalar.
 *
 * `LimbJac` is the accumulator of every multi-scalar walk and fixed-base sum, and builds the
 * tables; `Jac` (bigints in [0, p)) only carries points in and out. Affine points are {x, y}; a Jacobian point
 * (X, Y, Z) stands for (X/Z^2, Y/Z^3), Z = 0 (or `inf` on limbs) being the identity.
 */

export { P };

export type Affine = { x: bigint; y: bigint };

/** A Jacobian point on bigints (for conversions in and out of the limb code). */
export class Jac {
  constructor(
    public x: bigint,
    public y: bigint,
    public z: bigint,
  ) {}

  static zero(): Jac {
    return new Jac(0n, 1n, 0n);
  }

  isZero(): boolean {
    return this.z === 0n;
  }
}

/**
 * Affine forms of Jacobian points, all with one field inversion (Montgomery's trick). No input
 * may be the identity (callers check).
 */
export function toAffineBatch(ps: Jac[]): Affine[] {
  const n = ps.length;
  const out: Affine[] = new Array(n);
  if (n === 0) return out;
  const acc: bigint[] = new Array(n);
  let a = 1n;
  for (let i = 0; i < n; i++) {
    acc[i] = a;
    a = (a * ps[i].z) % P;
  }
  let inv = invert(a, P);
  for (let i = n - 1; i >= 0; i--) {
    const p = ps[i];
    const zi = (inv * acc[i]) % P;
    inv = (inv * p.z) % P;
    const zi2 = (zi * zi) % P;
    out[i] = { x: (p.x * zi2) % P, y: (((p.y * zi2) % P) * zi) % P };
  }
  return out;
}

/**
 * Width-w NAF digits of k >= 0, least significant first: odd digits in (-2^(w-1), 2^(w-1)),
 * any two non-zero digits at least w apart.
 */
export function wnaf(k: bigint, w: number): Int8Array {
  const s = k.toString(2);
  const n = s.length;
  const bits = new Uint8Array(n + w + 1);
  for (let i = 0; i < n; i++) bits[i] = s.charCodeAt(n - 1 - i) - 48;
  const out = new Int8Array(n + 1);
  const full = 1 << w;
  const half = 1 << (w - 1);
  let carry = 0;
  let i = 0;
  while (i <= n) {
    const b = bits[i] + carry;
    if ((b & 1) === 0) {
      carry = b >> 1;
      i++;
      continue;
    }
    let v = carry;
    for (let j = 0; j < w; j++) v += bits[i + j] << j;
    if (v >= half) {
      out[i] = v - full;
      carry = 1;
    } else {
      out[i] = v;
      carry = 0;
    }
    i += w;
  }
  return out;
}

/** An affine point as limbs (./field24.ts), with -y kept too. */
type LimbAffine = { x: Float64Array; y: Float64Array; negY: Float64Array };

function toLimbs(p: Affine): LimbAffine {
  return { x: F24.fromBig(p.x), y: F24.fromBig(p.y), negY: F24.fromBig(p.y === 0n ? 0n : P - p.y) };
}

const T = Array.from({ length: 12 }, F24.newElement);

/**
 * The walk's accumulator on limbs: the same formulas as Jac (dbl-2009-l, madd), about 2.5x
 * faster per field multiplication than bigints.
 */
export class LimbJac {
  readonly x = F24.newElement();
  readonly y = F24.newElement();
  readonly z = F24.newElement();
  inf = true;

  double(): void {
    if (this.inf) return;
    const { x, y, z } = this;
    const [a, b, c, d, e, f, x3, t] = T;
    F24.sqr(x, a);
    F24.sqr(y, b);
    F24.sqr(b, c);
    F24.mul(x, b, d);
    F24.mulSmall(d, 4, d);
    F24.mulSmall(a, 3, e);
    F24.sqr(e, f);
    F24.subMul(f, d, 2, d, 0, x3); // f - 2d
    F24.sub(d, x3, t);
    F24.mul(e, t, t); // e*(d - x3)
    F24.mul(y, z, z);
    F24.mulSmall(z, 2, z);
    F24.subMul(t, c, 8, c, 0, y); // e*(d - x3) - 8c
    x.set(x3);
  }

  addAffine(q: LimbAffine, neg: boolean): void {
    const y2 = neg ? q.negY : q.y;
    if (this.inf) {
      this.x.set(q.x);
      this.y.set(y2);
      this.z.fill(0);
      this.z[0] = 1;
      this.inf = false;
      return;
    }
    const { x, y, z } = this;
    const [z1z1, u2, s2, h, r, hh, hhh, v, t] = T;
    F24.sqr(z, z1z1);
    F24.mul(q.x, z1z1, u2);
    F24.mul(z, z1z1, s2);
    F24.mul(y2, s2, s2);
    F24.sub(u2, x, h);
    F24.sub(s2, y, r);
    if (F24.isZero(h)) {
      if (F24.isZero(r)) this.double();
      else this.inf = true;
      return;
    }
    F24.sqr(h, hh);
    F24.mul(h, hh, hhh);
    F24.mul(x, hh, v);
    // x3 = r^2 - hhh - 2v
    F24.sqr(r, t);
    F24.subMul(t, hhh, 1, v, 2, x);
    // y3 = r*(v - x3) - y1*hhh
    F24.sub(v, x, v);
    F24.mul(r, v, v);
    F24.mul(y, hhh, hhh);
    F24.sub(v, hhh, y);
    F24.mul(z, h, z);
  }

  static of(p: LimbAffine): LimbJac {
    const j = new LimbJac();
    j.addAffine(p, false);
    return j;
  }

  clone(): LimbJac {
    const j = new LimbJac();
    j.x.set(this.x);
    j.y.set(this.y);
    j.z.set(this.z);
    j.inf = this.inf;
    return j;
  }

  toJac(): Jac {
    if (this.inf) return Jac.zero();
    return new Jac(F24.toBig(this.x), F24.toBig(this.y), F24.toBig(this.z));
  }
}

const LIMBS = 11;
const ZERO = F24.newElement();
/** The fixed-base point being added, unpacked. */
const pick: LimbAffine = { x: F24.newElement(), y: F24.newElement(), negY: F24.newElement() };

const WINDOW = 4; // odd multiples P, 3P, 5P, 7P: the best count for ~128-bit scalars here
const TABLE = 1 << (WINDOW - 2);

/**
 * sum k_i * P_i for affine points and scalars >= 0 (interleaved width-4 NAF walk, one
 * doubling chain), as a new accumulator (to which fixed-base terms may then be added). The
 * tables of odd multiples are made affine in batches.
 */
export function msm(allPoints: Affine[], allScalars: bigint[]): LimbJac {
  // Scalars 1 (the weight-1 equation's -1 terms, negated) are plain additions after the walk.
  const points: Affine[] = [];
  const scalars: bigint[] = [];
  const ones: Affine[] = [];
  for (let i = 0; i < allPoints.length; i++) {
    if (allScalars[i] === 1n) ones.push(allPoints[i]);
    else if (allScalars[i] !== 0n) {
      points.push(allPoints[i]);
      scalars.push(allScalars[i]);
    }
  }
  const acc = walk(points, scalars);
  for (const p of ones) acc.addAffine(toLimbs(p), false);
  return acc;
}

/** Affine forms of limb Jacobian points with one inversion (none may be the identity). */
function limbsToAffineBatch(ps: LimbJac[]): LimbAffine[] {
  const n = ps.length;
  const prefix: Float64Array[] = new Array(n);
  let a = F24.fromBig(1n);
  for (let i = 0; i < n; i++) {
    prefix[i] = a;
    const next = F24.newElement();
    F24.mul(a, ps[i].z, next);
    a = next;
  }
  const inv = F24.fromBig(invert(F24.toBig(a), P));
  const out: LimbAffine[] = new Array(n);
  const zi = F24.newElement();
  const zi2 = F24.newElement();
  const zero = F24.newElement();
  for (let i = n - 1; i >= 0; i--) {
    const p = ps[i];
    F24.mul(inv, prefix[i], zi);
    F24.mul(inv, p.z, inv);
    F24.sqr(zi, zi2);
    const x = F24.newElement();
    const y = F24.newElement();
    const negY = F24.newElement();
    F24.mul(p.x, zi2, x);
    F24.mul(zi2, zi, zi2);
    F24.mul(p.y, zi2, y);
    F24.sub(zero, y, negY);
    out[i] = { x, y, negY };
  }
  return out;
}

/** sum k_i * P_i (affine points, scalars > 0), all on limbs. */
function walk(points: Affine[], scalars: bigint[]): LimbJac {
  const m = points.length;
  if (m === 0) return new LimbJac();
  const base = points.map(toLimbs);
  // 2P for every point, to affine in one batch; then 3P, 5P, 7P by mixed additions, to affine
  // in a second batch.
  const twice = limbsToAffineBatch(
    base.map((b) => {
      const d = LimbJac.of(b);
      d.double();
      return d;
    }),
  );
  const odd: LimbJac[] = [];
  for (let i = 0; i < m; i++) {
    const t = LimbJac.of(base[i]);
    for (let j = 1; j < TABLE; j++) {
      t.addAffine(twice[i], false);
      odd.push(t.clone());
    }
  }
  const oddAffine = limbsToAffineBatch(odd);
  const tables: LimbAffine[][] = new Array(m);
  for (let i = 0; i < m; i++) {
    const row: LimbAffine[] = [base[i]];
    for (let j = 1; j < TABLE; j++) row.push(oddAffine[i * (TABLE - 1) + j - 1]);
    tables[i] = row;
  }
  const digits = scalars.map((k) => wnaf(k, WINDOW));
  let top = 0;
  for (const d of digits) top = Math.max(top, d.length);
  const sum = new LimbJac();
  for (let bit = top - 1; bit >= 0; bit--) {
    sum.double();
    for (let i = 0; i < m; i++) {
      const d = digits[i][bit];
      if (d === undefined || d === 0) continue;
      if (d > 0) sum.addAffine(tables[i][(d - 1) >> 1], false);
      else sum.addAffine(tables[i][(-d - 1) >> 1], true);
    }
  }
  return sum;
}

/**
 * A fixed-base table for one point: for every `bits`-bit window i of a 256-bit scalar, the
 * affine points j * 2^(bits*i) * B for j = 1..2^(bits-1) (signed digits). k*B then costs at
 * most ceil(256/bits) + 1 mixed additions and no doubling. With 8 bits: 33 windows of 128
 * points, built once per base.
 */
export class FixedBase {
  /** Per window, the points' limbs packed as x0..x10 y0..y10 (22 doubles a point). */
  readonly #windows: Float64Array[];
  readonly #bits: number;

  constructor(base: Affine, bits: number) {
    this.#bits = bits;
    const half = 1 << (bits - 1);
    const count = Math.ceil(256 / bits) + 1;
    const all: LimbJac[] = [];
    let b = toLimbs(base);
    for (let i = 0; i < count; i++) {
      const acc = LimbJac.of(b);
      all.push(acc.clone());
      for (let j = 2; j <= half; j++) {
        acc.addAffine(b, false);
        all.push(acc.clone());
      }
      if (i + 1 < count) {
        // the next window's base, 2^bits * b = 2 * (half * b), made affine for mixed additions
        acc.double();
        b = limbsToAffineBatch([acc])[0];
      }
    }
    const aff = limbsToAffineBatch(all);
    this.#windows = [];
    for (let i = 0; i < count; i++) {
      const packed = new Float64Array(half * 2 * LIMBS);
      for (let j = 0; j < half; j++) {
        packed.set(aff[i * half + j].x, j * 2 * LIMBS);
        packed.set(aff[i * half + j].y, j * 2 * LIMBS + LIMBS);
      }
      this.#windows.push(packed);
    }
  }

  /** acc += k * B for 0 <= k < 2^256. */
  mulInto(acc: LimbJac, k: bigint): void {
    const w = this.#bits;
    const full = 1 << w;
    const half = full >> 1;
    const mask = BigInt(full - 1);
    const shift = BigInt(w);
    const windows = this.#windows;
    let carry = 0;
    for (let i = 0; i < windows.length; i++) {
      let d = Number(k & mask) + carry;
      k >>= shift;
      if (d > half) {
        d -= full;
        carry = 1;
      } else {
        carry = 0;
      }
      if (d === 0) continue;
      const q = pick;
      const off = (d > 0 ? d - 1 : -d - 1) * 2 * LIMBS;
      const row = windows[i];
      for (let l = 0; l < LIMBS; l++) {
        q.x[l] = row[off + l];
        q.y[l] = row[off + LIMBS + l];
      }
      if (d < 0) F24.sub(ZERO, q.y, q.negY);
      acc.addAffine(q, d < 0);
    }
  }
}
