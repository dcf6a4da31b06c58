import { DecodeError, InvalidArgumentError, OpenReencryptedError } from '../errors.js';
import type { CapsuleFrag } from './capsule-frag.js';
import { bytesEqual, CurvePoint, linearCombination, mulAddGEquals, mulG } from './curve.js';
import { hashCapsulePoints, hashToPolynomialArg, hashToSharedSecret } from './hashing-ds.js';
import { type PublicKey, type SecretKey, secretScalar } from './keys.js';
import { type Rng, randomNonZeroScalar } from './rng.js';
import * as F from './scalar.js';
import { LayoutReader, LayoutWriter } from './serde.js';

/** A capsule: the encapsulated key of one Umbral encryption (E, V, s). 105 bytes serialized. */
export class Capsule {
  private constructor(
    /** @internal */ readonly e: CurvePoint,
    /** @internal */ readonly v: CurvePoint,
    /** @internal */ readonly s: bigint,
  ) {}

  /** Parses and self-checks (s*G == V + h*E) a capsule; anything else is a DecodeError. */
  static fromBytes(bytes: Uint8Array): Capsule {
    const r = new LayoutReader(bytes, 'capsule');
    r.array(3, 'capsule');
    const e = CurvePoint.fromBytes(r.bin(33, 'E'), 'capsule.E');
    const v = CurvePoint.fromBytes(r.bin(33, 'V'), 'capsule.V');
    const s = F.scalarFromBytes(r.bin(32, 's'), true);
    r.end();
    if (s === undefined) throw new DecodeError('capsule.s', 'not a scalar in [1, n-1]');
    const capsule = new Capsule(e, v, s);
    if (!capsule.#selfCheck()) throw new DecodeError('capsule', 'capsule check failed (s*G != V + h*E)');
    return capsule;
  }

  #selfCheck(): boolean {
    // s*G = V + h*E  <=>  h*E + (-s)*G = -V
    const h = hashCapsulePoints(this.e, this.v);
    return mulAddGEquals(this.e, h, F.neg(this.s), this.v.negate());
  }

  toBytes(): Uint8Array {
    return new LayoutWriter()
      .array(3)
      .bin(this.e.toBytes())
      .bin(this.v.toBytes())
      .bin(F.scalarToBytes(this.s))
      .finish();
  }

  /** E || V || s (98 bytes): the DEM's associated data. */
  toBytesSimple(): Uint8Array {
    const out = new Uint8Array(98);
    out.set(this.e.toBytes());
    out.set(this.v.toBytes(), 33);
    out.set(F.scalarToBytes(this.s), 66);
    return out;
  }

  equals(other: Capsule): boolean {
    return other instanceof Capsule && bytesEqual(this.toBytesSimple(), other.toBytesSimple());
  }

  toString(): string {
    return 'Capsule';
  }

  /** @internal Encapsulate: r, u random; E = rG, V = uG, s = u + r*h; K = (r+u)*pk_A. */
  static fromPublicKey(delegatingPk: PublicKey, rng: Rng | undefined): [Capsule, Uint8Array] {
    const r = randomNonZeroScalar(rng);
    const u = randomNonZeroScalar(rng);
    const e = mulG(r, true);
    const v = mulG(u, true);
    const h = hashCapsulePoints(e, v);
    const s = F.add(u, F.mul(r, h));
    const shared = delegatingPk.point.mul(F.add(r, u), true);
    return [new Capsule(e, v, s), keySeed(shared)];
  }

  /** @internal K = sk_A * (E + V). */
  openOriginal(delegatingSk: SecretKey): Uint8Array {
    return keySeed(this.e.add(this.v).mul(secretScalar(delegatingSk), true));
  }

  /** @internal Combines verified cfrags (UMBRAL.md "Decrypt re-encrypted"). */
  openReencrypted(
    receivingSk: SecretKey,
    delegatingPk: PublicKey,
    cfrags: readonly CapsuleFrag[],
  ): Uint8Array {
    if (cfrags.length === 0) throw new OpenReencryptedError('no-cfrags', 'no capsule fragments given');
    const precursor = cfrags[0].precursor;
    if (!cfrags.every((c) => c.precursor.equals(precursor))) {
      throw new OpenReencryptedError(
        'mismatched-cfrags',
        'capsule fragments come from different key fragment sets (policies)',
      );
    }
    const skB = secretScalar(receivingSk);
    const pkB = receivingSk.publicKey().point;
    const dh = precursor.mul(skB, true);
    const xs = cfrags.map((c) => hashToPolynomialArg(precursor, pkB, dh, c.kfragId));
    const d = hashToSharedSecret(precursor, pkB, dh);
    // every inversion of the combination (the m Lagrange denominators and d) in one
    const { numerators, denominators } = lagrangeAtZero(xs);
    const inverses = F.invBatch([...denominators, d]);
    const lambdas = numerators.map((num, i) => F.mul(num, inverses[i]));
    const dInv = inverses[denominators.length];
    let ePrime = CurvePoint.identity();
    let vPrime = CurvePoint.identity();
    for (let i = 0; i < cfrags.length; i++) {
      ePrime = ePrime.add(cfrags[i].e1.mul(lambdas[i], true));
      vPrime = vPrime.add(cfrags[i].v1.mul(lambdas[i], true));
    }
    const h = hashCapsulePoints(this.e, this.v);
    const lhs = delegatingPk.point.mul(F.mul(this.s, dInv), true);
    const rhs = linearCombination([ePrime, vPrime], [h, 1n]);
    if (!lhs.equals(rhs)) {
      throw new OpenReencryptedError(
        'validation-failed',
        'the capsule fragments do not combine to this capsule (too few, or for another capsule or key)',
      );
    }
    return keySeed(ePrime.add(vPrime).mul(d, true));
  }
}

/**
 * lambda_i = prod_{j != i} x_j / (x_j - x_i), as numerator and denominator (all non-zero: the
 * x are hashes, non-zero scalars), so that the caller inverts every denominator at once.
 */
function lagrangeAtZero(xs: readonly bigint[]): { numerators: bigint[]; denominators: bigint[] } {
  const numerators: bigint[] = [];
  const denominators: bigint[] = [];
  for (let i = 0; i < xs.length; i++) {
    let num = 1n;
    let den = 1n;
    for (let j = 0; j < xs.length; j++) {
      if (j === i) continue;
      const diff = F.sub(xs[j], xs[i]);
      if (diff === 0n) {
        throw new OpenReencryptedError('repeating-cfrags', 'the same capsule fragment was given twice');
      }
      num = F.mul(num, xs[j]);
      den = F.mul(den, diff);
    }
    numerators.push(num);
    denominators.push(den);
  }
  return { numerators, denominators };
}

/** The compressed shared point: the DEM's key seed. */
function keySeed(shared: CurvePoint): Uint8Array {
  if (shared.isIdentity()) throw new InvalidArgumentError('capsule', 'degenerate shared point');
  return shared.toBytes().slice();
}
