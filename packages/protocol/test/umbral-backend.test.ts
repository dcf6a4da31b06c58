import { describe, expect, it } from 'vitest';
import { availableBackends, setCurveBackend } from '../src/index.js';
import { CurvePoint, mulG, vanish } from '../src/umbral/curve.js';
import { pointU } from '../src/umbral/params.js';
import { randomNonZeroScalar } from '../src/umbral/rng.js';
import * as F from '../src/umbral/scalar.js';

// The equations cfrag verification checks, z*X - h*X1 - X2 = 0, built true and then broken.
function equation(base: CurvePoint): { eq: [CurvePoint[], bigint[]]; x1: CurvePoint } {
  const rk = randomNonZeroScalar(undefined);
  const t = randomNonZeroScalar(undefined);
  const h = randomNonZeroScalar(undefined);
  const x1 = base.mul(rk, true);
  const x2 = base.mul(t, true);
  const z = F.add(t, F.mul(h, rk));
  return {
    eq: [
      [base, x1, x2],
      [z, F.neg(h), F.neg(1n)],
    ],
    x1,
  };
}

for (const name of availableBackends()) {
  describe(`curve backend ${name}`, () => {
    it('accepts true equations and rejects a batch with any one false equation', () => {
      setCurveBackend(name);
      for (let round = 0; round < 5; round++) {
        const bases = [
          mulG(randomNonZeroScalar(undefined), true),
          mulG(randomNonZeroScalar(undefined), true),
          pointU(),
        ];
        const eqs = bases.map((b) => equation(b).eq);
        expect(vanish(eqs)).toBe(true);
        for (let i = 0; i < 3; i++) {
          const broken = eqs.map(([ps, ks]) => [ps.slice(), ks.slice()] as [CurvePoint[], bigint[]]);
          broken[i][1][0] = F.add(broken[i][1][0], 1n); // z + 1
          expect(vanish(broken)).toBe(false);
          const swapped = eqs.map(([ps, ks]) => [ps.slice(), ks.slice()] as [CurvePoint[], bigint[]]);
          swapped[i][0][1] = swapped[(i + 1) % 3][0][1]; // another equation's X1
          expect(vanish(swapped)).toBe(false);
        }
      }
    });

    it('multiplies and adds consistently with the other backend', () => {
      setCurveBackend(name);
      const k = randomNonZeroScalar(undefined);
      const j = randomNonZeroScalar(undefined);
      const p = mulG(k, true);
      const viaSum = p.mul(j, false).add(p);
      const direct = mulG(F.mul(k, F.add(j, 1n)), true);
      expect(viaSum.equals(direct)).toBe(true);
      expect(CurvePoint.fromBytes(direct.toBytes()).equals(direct)).toBe(true);
      expect(p.add(p.mul(F.neg(1n), false)).isIdentity()).toBe(true);
    });
  });
}
