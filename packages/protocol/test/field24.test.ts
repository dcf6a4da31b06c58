import { secp256k1 } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  fromBig,
  isZero,
  mul,
  mulSmall,
  newElement,
  P,
  powSqrt,
  sqr,
  sub,
  subMul,
  toBig,
} from '../src/umbral/backend/field24.js';
import {
  type Affine,
  FixedBase,
  Jac,
  LimbJac,
  msm,
  toAffineBatch,
  wnaf,
} from '../src/umbral/backend/jacobian.js';

// Permanent checks of the limb field (./field24.ts) and the variable-time point code built on it
// (./jacobian.ts) against bigint arithmetic mod p and @noble/curves. Contracts, from the sources:
// - limb inputs of mul/sqr/sub/subMul/mulSmall/isZero/toBig are "normal": 11 integer limbs in
//   [0, 2^24), any value below 2^264 (so p, p + 1, 2^256 - 1 and 2^264 - 1 are all allowed);
//   every operation returns normal limbs again (checked after every call below);
// - fromBig takes 0 <= x < 2^264, toBig returns the canonical value in [0, p);
// - mulSmall takes |k| < 2^20 (either sign); subMul takes small kb, kc >= 0 (norm accepts limbs
//   of any sign below 2^50, so kb + kc up to ~2^25: tested up to 2^20 each);
// - powSqrt takes 0 <= x < p and returns x^((p+1)/4): a root when x is a square, otherwise a
//   value whose square is -x (noble.ts's decode squares the result to tell them apart);
// - wnaf(k, w) for k >= 0; msm for affine (non-identity) points and scalars >= 0, returning a
//   LimbJac whose `inf` flag marks the identity; FixedBase.mulInto for 0 <= k < 2^256.

type NP = InstanceType<typeof secp256k1.Point>;
const Point = secp256k1.Point;
const N = Point.Fn.ORDER;
const B24 = 2 ** 24;
const TWO264 = 1n << 264n;
const TWO256 = 1n << 256n;

const mod = (x: bigint, m = P): bigint => ((x % m) + m) % m;
function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b = mod(b, m);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}
const inv = (x: bigint): bigint => modPow(x, P - 2n, P);

/** The raw (unreduced) value of limbs, after checking they are normal: 11 integers in [0, 2^24). */
function normal(a: Float64Array): bigint {
  expect(a.length).toBe(11);
  let v = 0n;
  for (let i = 10; i >= 0; i--) {
    const l = a[i];
    if (!Number.isInteger(l) || l < 0 || l >= B24) throw new Error(`limb ${i} not normal: ${l} in [${a}]`);
    v = (v << 24n) | BigInt(l);
  }
  return v;
}

/** Checks normal form and the value mod p of an operation's output. */
function expectValue(a: Float64Array, want: bigint): void {
  const raw = normal(a); // < 2^264 by construction (11 limbs of 24 bits)
  const w = mod(want);
  // one expect per call (vitest's expect is slow in 2,000-run properties)
  if (mod(raw) !== w || toBig(a) !== w)
    expect({ raw, toBig: toBig(a) }).toEqual({ raw: `= ${w} mod p`, toBig: w });
}

const MAX_LIMBS = TWO264 - 1n; // every limb 2^24 - 1
const EDGE: bigint[] = [
  0n,
  1n,
  2n,
  P - 1n,
  P,
  P + 1n,
  2n * P,
  2n * P - 1n,
  TWO256 - 1n,
  TWO256,
  TWO256 + 1n,
  255n * P,
  256n * P,
  256n * P + 1n,
  MAX_LIMBS,
  MAX_LIMBS - 1n,
  (1n << 32n) + 977n,
  (1n << 24n) - 1n,
  1n << 24n,
  1n << 240n,
  (1n << 240n) - 1n,
  TWO256 - (1n << 32n), // 2^256 - 2^32: p + 977
  MAX_LIMBS - ((1n << 24n) - 1n), // limbs 1..10 at max, limb 0 zero
  (1n << 48n) - 1n,
];

/** Limb arrays biased towards 0 and 2^24 - 1 per limb. */
const limbPattern = fc
  .array(fc.oneof(fc.constant(0), fc.constant(B24 - 1), fc.integer({ min: 0, max: B24 - 1 })), {
    minLength: 11,
    maxLength: 11,
  })
  .map((ls) => ls.reduceRight((v, l) => (v << 24n) | BigInt(l), 0n));

/** Any value allowed as normal limbs: [0, 2^264). */
const anyValue = fc.oneof(
  fc.constantFrom(...EDGE),
  fc.bigInt({ min: 0n, max: TWO256 - 1n }),
  fc.bigInt({ min: 0n, max: MAX_LIMBS }),
  limbPattern,
);
const smallK = fc.oneof(
  fc.constantFrom(0, 1, -1, 2, 3, 4, 8, -8, 2 ** 20 - 1, -(2 ** 20 - 1)),
  fc.integer({ min: -(2 ** 20 - 1), max: 2 ** 20 - 1 }),
);
const subK = fc.oneof(fc.constantFrom(0, 1, 2, 8, 2 ** 20), fc.integer({ min: 0, max: 2 ** 20 }));

const RUNS = 2000;

describe('field24: limb arithmetic mod p', () => {
  it('P is secp256k1 field prime', () => {
    expect(P).toBe(TWO256 - (1n << 32n) - 977n);
    expect(P).toBe(Point.Fp.ORDER);
  });

  it('fromBig splits [0, 2^264) into 24-bit limbs; toBig returns the canonical value mod p', () => {
    for (const x of EDGE) {
      const a = fromBig(x);
      expect(normal(a)).toBe(x);
      const t = toBig(a);
      expect(t).toBe(x % P);
      expect(t >= 0n && t < P).toBe(true);
    }
    fc.assert(
      fc.property(anyValue, (x) => {
        const a = fromBig(x);
        const want = Array.from({ length: 11 }, (_, i) => Number((x >> BigInt(24 * i)) & 0xffffffn));
        expect(Array.from(a)).toEqual(want);
        expect(toBig(a)).toBe(x % P);
        // canonical values survive the round trip unchanged
        expect(toBig(fromBig(x % P))).toBe(x % P);
      }),
      { numRuns: RUNS },
    );
    expect(newElement()).toEqual(new Float64Array(11));
  });

  it('mul matches bigint multiplication mod p, with normal output, including aliasing', () => {
    for (const x of EDGE)
      for (const y of EDGE) {
        const out = newElement();
        mul(fromBig(x), fromBig(y), out);
        expectValue(out, x * y);
      }
    fc.assert(
      fc.property(anyValue, anyValue, (x, y) => {
        const a = fromBig(x);
        const b = fromBig(y);
        const out = newElement();
        mul(a, b, out);
        expectValue(out, x * y);
        expect(normal(a)).toBe(x); // inputs untouched
        expect(normal(b)).toBe(y);
        mul(a, b, a); // out = a
        expectValue(a, x * y);
        mul(a, b, b); // out = b
        expectValue(b, x * y * y);
        const c = fromBig(x);
        mul(c, c, c); // all three the same array
        expectValue(c, x * x);
      }),
      { numRuns: RUNS },
    );
  });

  it('sqr matches bigint squaring mod p and equals mul(a, a)', () => {
    for (const x of EDGE) {
      const out = newElement();
      sqr(fromBig(x), out);
      expectValue(out, x * x);
    }
    fc.assert(
      fc.property(anyValue, (x) => {
        const a = fromBig(x);
        const s = newElement();
        const m = newElement();
        sqr(a, s);
        mul(a, a, m);
        expectValue(s, x * x);
        expect(toBig(s)).toBe(toBig(m));
        sqr(a, a); // in place
        expectValue(a, x * x);
      }),
      { numRuns: RUNS },
    );
  });

  it('sub matches bigint subtraction mod p, including negative differences and aliasing', () => {
    for (const x of EDGE)
      for (const y of EDGE) {
        const out = newElement();
        sub(fromBig(x), fromBig(y), out);
        expectValue(out, x - y);
      }
    fc.assert(
      fc.property(anyValue, anyValue, (x, y) => {
        const a = fromBig(x);
        const b = fromBig(y);
        const out = newElement();
        sub(a, b, out);
        expectValue(out, x - y);
        sub(a, b, b); // out = b
        expectValue(b, x - y);
        sub(a, a, a); // a - a in place
        expectValue(a, 0n);
        expect(isZero(a)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('subMul computes a - kb*b - kc*c mod p for kb, kc in [0, 2^20]', () => {
    const out = newElement();
    for (const x of [0n, P, MAX_LIMBS])
      for (const y of [0n, P - 1n, MAX_LIMBS])
        for (const kb of [0, 1, 8, 2 ** 20])
          for (const kc of [0, 2, 2 ** 20]) {
            subMul(fromBig(x), fromBig(y), kb, fromBig(y), kc, out);
            expectValue(out, x - BigInt(kb + kc) * y);
          }
    fc.assert(
      fc.property(anyValue, anyValue, subK, anyValue, subK, (x, y, kb, z, kc) => {
        const a = fromBig(x);
        const b = fromBig(y);
        const c = fromBig(z);
        subMul(a, b, kb, c, kc, out);
        expectValue(out, x - BigInt(kb) * y - BigInt(kc) * z);
        subMul(a, b, kb, c, kc, a); // out = a
        expectValue(a, x - BigInt(kb) * y - BigInt(kc) * z);
        subMul(b, b, 1, c, 0, c); // b - b, out = c
        expectValue(c, 0n);
        expect(isZero(c)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('mulSmall computes k*a mod p for |k| < 2^20, either sign', () => {
    const out = newElement();
    for (const x of EDGE)
      for (const k of [0, 1, -1, 2, -2, 3, 4, 8, 2 ** 20 - 1, -(2 ** 20 - 1)]) {
        mulSmall(fromBig(x), k, out);
        expectValue(out, BigInt(k) * x);
      }
    fc.assert(
      fc.property(anyValue, smallK, (x, k) => {
        const a = fromBig(x);
        mulSmall(a, k, out);
        expectValue(out, BigInt(k) * x);
        mulSmall(a, k, a); // in place
        expectValue(a, BigInt(k) * x);
      }),
      { numRuns: RUNS },
    );
  });

  it('isZero is true exactly on the normal representations of 0 mod p (0, p, 2p, ..., 256p)', () => {
    for (let q = 0n; q <= 256n; q++) {
      const a = fromBig(q * P);
      expect(isZero(a)).toBe(true);
      expect(normal(a)).toBe(q * P); // not modified
      if (q > 0n) expect(isZero(fromBig(q * P - 1n))).toBe(false);
      if (q < 256n) expect(isZero(fromBig(q * P + 1n))).toBe(false);
      expect(isZero(fromBig(q * P + (1n << 32n) + 977n))).toBe(false); // q*p + 2^256 - p
    }
    for (const x of [1n, TWO256, TWO256 - 1n, MAX_LIMBS, 256n * P + 1n, 1n << 255n])
      expect(isZero(fromBig(x))).toBe(false);
    fc.assert(
      fc.property(anyValue, (x) => {
        expect(isZero(fromBig(x))).toBe(x % P === 0n);
      }),
      { numRuns: RUNS },
    );
    // zeros as the operations produce them
    const out = newElement();
    mul(fromBig(P), fromBig(12345n), out);
    expect(isZero(out)).toBe(true);
    mul(fromBig(MAX_LIMBS), fromBig(0n), out);
    expect(isZero(out)).toBe(true);
    sub(fromBig(2n * P), fromBig(P), out);
    expect(isZero(out)).toBe(true);
    sub(fromBig(P), fromBig(0n), out);
    expect(normal(out) % P).toBe(0n);
    expect(isZero(out)).toBe(true);
    mulSmall(fromBig(P), -(2 ** 20 - 1), out);
    expect(isZero(out)).toBe(true);
    subMul(fromBig(3n * P), fromBig(P - 1n), 8, fromBig(1n), 8, out); // 3p - 8(p - 1) - 8 = -5p
    expect(isZero(out)).toBe(true);
  });

  type Cmd =
    | { op: 'mul'; a: number; b: number; o: number }
    | { op: 'sqr'; a: number; o: number }
    | { op: 'sub'; a: number; b: number; o: number }
    | { op: 'subMul'; a: number; b: number; kb: number; c: number; kc: number; o: number }
    | { op: 'mulSmall'; a: number; k: number; o: number };
  const reg = fc.integer({ min: 0, max: 3 });
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    fc.record({ op: fc.constant('mul' as const), a: reg, b: reg, o: reg }),
    fc.record({ op: fc.constant('sqr' as const), a: reg, o: reg }),
    fc.record({ op: fc.constant('sub' as const), a: reg, b: reg, o: reg }),
    fc.record({ op: fc.constant('subMul' as const), a: reg, b: reg, kb: subK, c: reg, kc: subK, o: reg }),
    fc.record({ op: fc.constant('mulSmall' as const), a: reg, k: smallK, o: reg }),
  );
  function run(c: Cmd, regs: Float64Array[], ref: bigint[]): void {
    switch (c.op) {
      case 'mul':
        mul(regs[c.a], regs[c.b], regs[c.o]);
        ref[c.o] = ref[c.a] * ref[c.b];
        break;
      case 'sqr':
        sqr(regs[c.a], regs[c.o]);
        ref[c.o] = ref[c.a] * ref[c.a];
        break;
      case 'sub':
        sub(regs[c.a], regs[c.b], regs[c.o]);
        ref[c.o] = ref[c.a] - ref[c.b];
        break;
      case 'subMul':
        subMul(regs[c.a], regs[c.b], c.kb, regs[c.c], c.kc, regs[c.o]);
        ref[c.o] = ref[c.a] - BigInt(c.kb) * ref[c.b] - BigInt(c.kc) * ref[c.c];
        break;
      case 'mulSmall':
        mulSmall(regs[c.a], c.k, regs[c.o]);
        ref[c.o] = BigInt(c.k) * ref[c.a];
        break;
    }
    ref[c.o] = mod(ref[c.o]);
    expectValue(regs[c.o], ref[c.o]);
    if (isZero(regs[c.o]) !== (ref[c.o] === 0n)) expect(isZero(regs[c.o])).toBe(ref[c.o] === 0n);
  }

  it('chains of operations (outputs fed back as inputs, any aliasing) stay normal and exact', () => {
    fc.assert(
      fc.property(
        fc.array(anyValue, { minLength: 4, maxLength: 4 }),
        fc.array(cmd, { maxLength: 60 }),
        (init, cmds) => {
          const regs = init.map(fromBig);
          const ref = init.map((x) => mod(x));
          for (const c of cmds) run(c, regs, ref);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a long deterministic chain (the walk-like mix of 10,000 operations) stays exact', () => {
    const regs = [MAX_LIMBS, P, TWO256 - 1n, 7n].map(fromBig);
    const ref = [MAX_LIMBS, P, TWO256 - 1n, 7n].map((x) => mod(x));
    let s = 0x12345678;
    const rnd = (m: number): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return (s >>> 8) % m;
    };
    const ks = [2, 3, 4, 8, -1, -(2 ** 20 - 1), 2 ** 20 - 1];
    for (let i = 0; i < 10000; i++) {
      const a = rnd(4);
      const b = rnd(4);
      const o = rnd(4);
      switch (i % 5) {
        case 0:
          run({ op: 'mul', a, b, o }, regs, ref);
          break;
        case 1:
          run({ op: 'sqr', a, o }, regs, ref);
          break;
        case 2:
          run({ op: 'sub', a, b, o }, regs, ref);
          break;
        case 3:
          run({ op: 'subMul', a, b, kb: rnd(9), c: rnd(4), kc: rnd(3), o }, regs, ref);
          break;
        default:
          run({ op: 'mulSmall', a, k: ks[rnd(ks.length)], o }, regs, ref);
      }
      // keep a register from collapsing to 0 forever
      if (ref[o] === 0n) {
        regs[o] = fromBig(P + 5n);
        ref[o] = 5n;
      }
    }
  });

  it('powSqrt returns x^((p+1)/4): a square root of squares, a root of -x for non-squares', () => {
    const E = (P + 1n) / 4n;
    const check = (x: bigint): void => {
      const r = powSqrt(x);
      expect(r >= 0n && r < P).toBe(true);
      expect(r).toBe(modPow(x, E, P));
      const isSquare = x === 0n || modPow(x, (P - 1n) / 2n, P) === 1n;
      expect((r * r) % P).toBe(isSquare ? x : P - x);
    };
    for (const x of [0n, 1n, 2n, 4n, 7n, P - 1n, P - 4n, P - 7n, (1n << 255n) % P]) check(x);
    expect(powSqrt(0n)).toBe(0n);
    expect(powSqrt(1n)).toBe(1n);
    expect((powSqrt(4n) * powSqrt(4n)) % P).toBe(4n);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: P - 1n }), (s) => {
        const x = (s * s) % P;
        const r = powSqrt(x);
        expect((r * r) % P).toBe(x);
        expect(r === s || r === mod(-s)).toBe(true);
        // -x is a non-square whenever x != 0 (p = 3 mod 4)
        if (x !== 0n) {
          const nr = powSqrt(P - x);
          expect((nr * nr) % P).toBe(x);
          expect((nr * nr) % P).not.toBe(P - x);
        }
      }),
      { numRuns: 300 },
    );
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: P - 1n }), check), { numRuns: 200 });
  });
});

describe('jacobian: wNAF recoding', () => {
  function checkWnaf(k: bigint, w: number): void {
    const d = wnaf(k, w);
    expect(d).toBeInstanceOf(Int8Array);
    expect(d.length).toBe(k.toString(2).length + 1);
    let sum = 0n;
    let last = -Infinity;
    const bad: string[] = [];
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (v === 0) continue;
      if (Math.abs(v) % 2 !== 1) bad.push(`even digit ${v} at ${i}`);
      if (Math.abs(v) >= 2 ** (w - 1)) bad.push(`digit ${v} at ${i} too large`);
      // at most one non-zero digit in any w consecutive positions
      if (i - last < w) bad.push(`digits at ${last} and ${i} closer than ${w}`);
      last = i;
      sum += BigInt(v) << BigInt(i);
    }
    expect({ k, w, bad }).toEqual({ k: sum, w, bad: [] });
  }

  it('reconstructs k, odd digits below 2^(w-1), non-zero digits at least w apart', () => {
    const edge = [
      0n,
      1n,
      2n,
      3n,
      7n,
      8n,
      15n,
      127n,
      255n,
      N - 1n,
      N,
      N + 1n,
      P - 1n,
      TWO256 - 1n,
      TWO256,
      (1n << 128n) - 1n,
    ];
    for (let w = 2; w <= 8; w++) {
      for (const k of edge) checkWnaf(k, w);
      for (let b = 1; b <= 40; b++) {
        checkWnaf((1n << BigInt(b)) - 1n, w); // all ones: carries to the top
        checkWnaf(1n << BigInt(b), w);
        checkWnaf(((1n << BigInt(b)) - 1n) << 3n, w);
      }
    }
    expect(Array.from(wnaf(0n, 4))).toEqual([0, 0]);
    expect(Array.from(wnaf(15n, 4))).toEqual([-1, 0, 0, 0, 1]); // 15 = 16 - 1
    fc.assert(
      fc.property(
        fc.oneof(
          fc.bigInt({ min: 0n, max: TWO256 - 1n }),
          fc.bigInt({ min: 0n, max: (1n << 130n) - 1n }),
          fc.bigInt({ min: 0n, max: 1000n }),
        ),
        fc.integer({ min: 2, max: 8 }),
        checkWnaf,
      ),
      { numRuns: RUNS },
    );
  });
});

/** k*G for any k >= 0 (noble's multiply wants 1 <= k < n). */
const mulG = (k: bigint): NP => {
  const r = mod(k, N);
  return r === 0n ? Point.ZERO : Point.BASE.multiply(r);
};
const affine = (p: NP): Affine => p.toAffine();

/** Checks that a limb accumulator is the point `want` (the identity exactly when `inf`). */
function expectPoint(acc: LimbJac, want: NP): void {
  if (want.is0()) {
    expect(acc.inf).toBe(true);
    const j = acc.toJac();
    expect(j.isZero()).toBe(true);
    return;
  }
  expect(acc.inf).toBe(false);
  const j = acc.toJac();
  expect(j.z).not.toBe(0n);
  for (const c of [j.x, j.y, j.z]) expect(c >= 0n && c < P).toBe(true);
  const zi = inv(j.z);
  const zi2 = (zi * zi) % P;
  const w = want.toAffine();
  expect((j.x * zi2) % P).toBe(w.x);
  expect((((j.y * zi2) % P) * zi) % P).toBe(w.y);
}

const scalarArb = fc.oneof(
  fc.constantFrom(0n, 1n, 2n, 3n, N - 1n, N - 2n, N, N + 1n, (1n << 128n) - 1n, TWO256 - 1n),
  fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }),
  fc.bigInt({ min: 0n, max: N - 1n }),
  fc.bigInt({ min: 0n, max: 40n }),
);
const dlogArb = fc.oneof(fc.constantFrom(1n, 2n, N - 1n, N - 2n), fc.bigInt({ min: 1n, max: N - 1n }));

describe('jacobian: toAffineBatch', () => {
  it('matches noble affine conversion for random Jacobian representations', () => {
    expect(toAffineBatch([])).toEqual([]);
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            k: dlogArb,
            z: fc.oneof(fc.constantFrom(1n, 2n, P - 1n), fc.bigInt({ min: 1n, max: P - 1n })),
          }),
          { maxLength: 16 },
        ),
        (items) => {
          const pts = items.map(({ k }) => mulG(k));
          const jac = items.map(({ z }, i) => {
            const { x, y } = affine(pts[i]);
            const z2 = (z * z) % P;
            return new Jac((x * z2) % P, (((y * z2) % P) * z) % P, z);
          });
          const out = toAffineBatch(jac);
          expect(out.length).toBe(items.length);
          expect(out).toEqual(pts.map(affine));
        },
      ),
      { numRuns: 80 },
    );
  });

  it("converts noble's projective points (X*Z, Y*Z^2, Z) as noble.ts does", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(dlogArb, dlogArb), { minLength: 1, maxLength: 8 }), (pairs) => {
        const pts = pairs.map(([a, b]) => mulG(a).add(mulG(b))).filter((p) => !p.is0());
        const jac = pts.map(({ X, Y, Z }) => new Jac((X * Z) % P, (((Y * Z) % P) * Z) % P, Z));
        const out = toAffineBatch(jac);
        expect(out).toEqual(pts.map((p) => p.toAffine()));
      }),
      { numRuns: 50 },
    );
  });
});

describe('jacobian: msm', () => {
  it('is the empty sum (inf) for no points or only zero scalars', () => {
    expect(msm([], []).inf).toBe(true);
    const g = affine(Point.BASE);
    expect(msm([g, g], [0n, 0n]).inf).toBe(true);
    expectPoint(msm([g], [1n]), Point.BASE);
    expectPoint(msm([g], [2n]), mulG(2n));
  });

  it('matches sum k_i * P_i (noble) for 1..16 points, repeated and negated points, edge scalars', () => {
    const term = fc.record({ dlog: dlogArb, k: scalarArb, repeat: fc.boolean(), negate: fc.boolean() });
    fc.assert(
      fc.property(fc.array(term, { minLength: 1, maxLength: 16 }), fc.boolean(), (terms, cancel) => {
        // Points are d_i * G with known d_i, so the sum is (sum k_i d_i) * G.
        const dlogs: bigint[] = [];
        const scalars: bigint[] = [];
        for (const t of terms) {
          let d = t.repeat && dlogs.length > 0 ? dlogs[dlogs.length - 1] : t.dlog;
          if (t.negate) d = N - d;
          dlogs.push(d);
          scalars.push(t.k);
        }
        if (cancel) {
          // one more term (G itself) bringing the total to the identity
          const s = mod(
            dlogs.reduce((acc, d, i) => acc + d * scalars[i], 0n),
            N,
          );
          dlogs.push(1n);
          scalars.push(mod(-s, N));
        }
        const total = mod(
          dlogs.reduce((acc, d, i) => acc + d * scalars[i], 0n),
          N,
        );
        if (cancel) expect(total).toBe(0n);
        const acc = msm(
          dlogs.map((d) => affine(mulG(d))),
          scalars,
        );
        expectPoint(acc, mulG(total));
      }),
      { numRuns: 100 },
    );
  });

  it('handles sums that vanish or double along the way (P with -P, P with P, scalar-1 terms)', () => {
    const cases: [bigint[], bigint[]][] = [
      [
        [5n, N - 5n],
        [1n, 1n],
      ], // P + (-P) on the scalar-1 path
      [
        [5n, 5n],
        [1n, 1n],
      ], // P + P on the scalar-1 path (a doubling inside addAffine)
      [
        [5n, 5n],
        [N - 1n, 1n],
      ],
      [
        [5n, N - 5n],
        [123456789n, 123456789n],
      ], // the walk adds T then -T at every digit
      [
        [5n, 5n],
        [123456789n, 123456789n],
      ], // the walk adds T then T at every digit
      [
        [7n, 7n, 7n],
        [3n, N - 3n, 1n],
      ],
      [[9n], [N]],
      [
        [9n, 9n],
        [N - 1n, N + 1n],
      ],
      [
        [1n, 2n, 3n],
        [6n, N - 3n, N - 1n],
      ], // 6G - 6G - 3G = -3G
      [
        [11n, N - 11n, 11n],
        [TWO256 - 1n, TWO256 - 1n, 2n],
      ],
      [
        [13n, 17n],
        [(1n << 300n) + 5n, 0n],
      ], // a scalar beyond 2^256 (the contract only asks k >= 0)
    ];
    for (const [dlogs, scalars] of cases) {
      const total = mod(
        dlogs.reduce((acc, d, i) => acc + d * scalars[i], 0n),
        N,
      );
      const acc = msm(
        dlogs.map((d) => affine(mulG(d))),
        scalars,
      );
      expectPoint(acc, mulG(total));
    }
  });

  it('agrees with noble multiplyUnsafe on unrelated random points', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(dlogArb, fc.bigInt({ min: 0n, max: N - 1n })), { minLength: 1, maxLength: 4 }),
        (items) => {
          const pts = items.map(([d]) => mulG(d));
          let want = Point.ZERO;
          items.forEach(([, k], i) => {
            if (k !== 0n) want = want.add(pts[i].multiplyUnsafe(k));
          });
          expectPoint(
            msm(
              pts.map(affine),
              items.map(([, k]) => k),
            ),
            want,
          );
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe('jacobian: FixedBase', () => {
  const q = 0x1234567890abcdefn * 0xfedcba987654321n + 99n;
  const bases: [string, bigint][] = [
    ['G', 1n],
    ['Q', q],
  ];
  const kArb = fc.oneof(
    fc.constantFrom(0n, 1n, 2n, N - 1n, N, N + 1n, TWO256 - 1n, (1n << 255n) - 1n),
    // every window at half / half + 1 / all ones: the signed-digit carry at each window
    fc.constantFrom(
      ...[0x80n, 0x81n, 0x88n, 0x89n, 0xffn, 0x8n, 0x9n].map((b) =>
        BigInt(`0x${b.toString(16).repeat(64 / b.toString(16).length)}`),
      ),
    ),
    fc.bigInt({ min: 0n, max: TWO256 - 1n }),
    fc.bigInt({ min: 0n, max: N - 1n }),
    fc.bigInt({ min: 0n, max: 300n }),
  );

  for (const bits of [4, 8, 5, 3]) {
    for (const [name, d] of bases) {
      it(`${bits}-bit table of ${name}: mulInto adds k*B (0 <= k < 2^256)`, () => {
        const table = new FixedBase(affine(mulG(d)), bits);
        fc.assert(
          fc.property(kArb, (k) => {
            const acc = new LimbJac();
            table.mulInto(acc, k);
            expectPoint(acc, mulG(d * k));
          }),
          { numRuns: bits === 8 || bits === 4 ? 150 : 40 },
        );
        // onto a non-empty accumulator, as noble.ts adds G's terms after a walk
        fc.assert(
          fc.property(dlogArb, scalarArb, kArb, (e, j, k) => {
            const acc = msm([affine(mulG(e))], [j]);
            table.mulInto(acc, k);
            expectPoint(acc, mulG(e * j + d * k));
          }),
          { numRuns: 25 },
        );
        // accumulator exactly -k*B: the sum is the identity
        for (const k of [1n, 2n, 12345n, N - 1n, (1n << 200n) + 7n]) {
          const acc = msm([affine(mulG(d))], [N - k]);
          table.mulInto(acc, k);
          expect(acc.inf).toBe(true);
          const acc2 = msm([affine(mulG(d))], [k]); // accumulator k*B: doubles
          table.mulInto(acc2, k);
          expectPoint(acc2, mulG(2n * d * k));
        }
      });
    }
  }
});

describe('jacobian: LimbJac', () => {
  it('double, addAffine, clone and toJac follow the group law', () => {
    const p = affine(mulG(77n));
    const lp = { x: fromBig(p.x), y: fromBig(p.y), negY: fromBig(P - p.y) };
    const a = LimbJac.of(lp);
    expectPoint(a, mulG(77n));
    const c = a.clone();
    a.double();
    expectPoint(a, mulG(154n));
    expectPoint(c, mulG(77n)); // the clone did not move
    a.addAffine(lp, true);
    expectPoint(a, mulG(77n));
    a.addAffine(lp, false); // equal points: doubling
    expectPoint(a, mulG(154n));
    c.addAffine(lp, true); // P - P
    expect(c.inf).toBe(true);
    c.double();
    expect(c.inf).toBe(true);
    c.addAffine(lp, true);
    expectPoint(c, mulG(N - 77n));
    expect(new LimbJac().toJac().isZero()).toBe(true);
    expect(Jac.zero().isZero()).toBe(true);
  });
});
