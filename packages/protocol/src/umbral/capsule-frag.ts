import { sha256 } from '@noble/hashes/sha2.js';
import { CapsuleFragVerificationError, DecodeError, InvalidArgumentError } from '../errors.js';
import { Capsule } from './capsule.js';
import { bytesEqual, CurvePoint, mulU, vanish } from './curve.js';
import { hashToCfragVerification, kfragSignatureMessage } from './hashing-ds.js';
import type { VerifiedKeyFrag } from './key-frag.js';
import { assertPublicKey, type PublicKey } from './keys.js';
import { pointU } from './params.js';
import { type RngOptions, randomNonZeroScalar } from './rng.js';
import * as F from './scalar.js';
import { LayoutReader, LayoutWriter } from './serde.js';
import { Signature, verifyDigest } from './signature.js';
import { hex } from './util.js';

const VERIFIED: unique symbol = Symbol('VerifiedCapsuleFrag');

/**
 * A capsule fragment: one node's re-encryption of a capsule with its kfrag, with a proof of
 * correct re-encryption. Untrusted until `verify()`. 381 bytes serialized.
 */
export class CapsuleFrag {
  private constructor(
    /** @internal */ readonly e1: CurvePoint,
    /** @internal */ readonly v1: CurvePoint,
    /** @internal */ readonly kfragId: Uint8Array,
    /** @internal */ readonly precursor: CurvePoint,
    /** @internal */ readonly e2: CurvePoint,
    /** @internal */ readonly v2: CurvePoint,
    /** @internal */ readonly u1: CurvePoint,
    /** @internal */ readonly u2: CurvePoint,
    /** @internal */ readonly z3: bigint,
    /** @internal */ readonly kfragSignature: Signature,
  ) {}

  static fromBytes(bytes: Uint8Array): CapsuleFrag {
    const r = new LayoutReader(bytes, 'cfrag');
    r.array(5, 'cfrag');
    const e1 = CurvePoint.fromBytes(r.bin(33, 'E1'), 'cfrag.E1');
    const v1 = CurvePoint.fromBytes(r.bin(33, 'V1'), 'cfrag.V1');
    const id = r.bin(32, 'kfrag_id');
    const precursor = CurvePoint.fromBytes(r.bin(33, 'precursor'), 'cfrag.precursor');
    r.array(6, 'proof');
    const e2 = CurvePoint.fromBytes(r.bin(33, 'proof.E2'), 'cfrag.proof.E2');
    const v2 = CurvePoint.fromBytes(r.bin(33, 'proof.V2'), 'cfrag.proof.V2');
    const u1 = CurvePoint.fromBytes(r.bin(33, 'proof.U1'), 'cfrag.proof.U1');
    const u2 = CurvePoint.fromBytes(r.bin(33, 'proof.U2'), 'cfrag.proof.U2');
    const z3 = F.scalarFromBytes(r.bin(32, 'proof.z3'), true);
    const sig = Signature.fromBEBytes(r.bin(64, 'proof.kfrag_signature'));
    r.end();
    if (z3 === undefined) throw new DecodeError('cfrag.proof.z3', 'not a scalar in [1, n-1]');
    return new CapsuleFrag(e1, v1, id, precursor, e2, v2, u1, u2, z3, sig);
  }

  toBytes(): Uint8Array {
    return new LayoutWriter()
      .array(5)
      .bin(this.e1.toBytes())
      .bin(this.v1.toBytes())
      .bin(this.kfragId)
      .bin(this.precursor.toBytes())
      .array(6)
      .bin(this.e2.toBytes())
      .bin(this.v2.toBytes())
      .bin(this.u1.toBytes())
      .bin(this.u2.toBytes())
      .bin(F.scalarToBytes(this.z3))
      .bin(this.kfragSignature.bytes)
      .finish();
  }

  /** The fields concatenated without framing (umbral-pre's `toBytesSimple`). */
  toBytesSimple(): Uint8Array {
    const parts = [
      this.e1.toBytes(),
      this.v1.toBytes(),
      this.kfragId,
      this.precursor.toBytes(),
      this.e2.toBytes(),
      this.v2.toBytes(),
      this.u1.toBytes(),
      this.u2.toBytes(),
      F.scalarToBytes(this.z3),
      this.kfragSignature.bytes,
    ];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /**
   * Checks the owner's kfrag signature (over both keys) and the proof of correct
   * re-encryption of this capsule (UMBRAL.md "CFrag verify"). Every scalar here is public,
   * so the equations use variable-time multi-scalar multiplication.
   */
  verify(
    capsule: Capsule,
    verifyingPk: PublicKey,
    delegatingPk: PublicKey,
    receivingPk: PublicKey,
  ): VerifiedCapsuleFrag {
    assertCapsule(capsule);
    assertPublicKey(verifyingPk, 'verifying key');
    assertPublicKey(delegatingPk, 'delegating key');
    assertPublicKey(receivingPk, 'receiving key');
    const u = pointU();
    const h = hashToCfragVerification([
      capsule.e,
      this.e1,
      this.e2,
      capsule.v,
      this.v1,
      this.v2,
      u,
      this.u1,
      this.u2,
    ]);
    const message = kfragSignatureMessage(
      this.kfragId,
      this.u1,
      this.precursor,
      delegatingPk.toCompressedBytes(),
      receivingPk.toCompressedBytes(),
    );
    if (!verifyDigest(this.kfragSignature, verifyingPk, sha256(message))) {
      throw new CapsuleFragVerificationError('signature', 'the kfrag signature in the cfrag does not verify');
    }
    const minusH = F.neg(h);
    const minusOne = F.neg(1n);
    const ok = vanish([
      [
        [capsule.e, this.e1, this.e2],
        [this.z3, minusH, minusOne],
      ],
      [
        [capsule.v, this.v1, this.v2],
        [this.z3, minusH, minusOne],
      ],
      [
        [u, this.u1, this.u2],
        [this.z3, minusH, minusOne],
      ],
    ]);
    if (!ok)
      throw new CapsuleFragVerificationError(
        'proof',
        'the re-encryption proof does not hold for this capsule',
      );
    return new VerifiedCapsuleFrag(VERIFIED, this);
  }

  /** Trusts this cfrag without checking it. Only for cfrags this process made or already verified. */
  skipVerification(): VerifiedCapsuleFrag {
    return new VerifiedCapsuleFrag(VERIFIED, this);
  }

  equals(other: CapsuleFrag): boolean {
    return other instanceof CapsuleFrag && bytesEqual(this.toBytes(), other.toBytes());
  }

  toString(): string {
    return `CapsuleFrag:${hex(this.kfragId).slice(0, 16)}`;
  }

  /** @internal Re-encrypts (UMBRAL.md "Reencrypt"): E1 = rk*E, V1 = rk*V, proof with random t. */
  static reencrypted(capsule: Capsule, vkfrag: VerifiedKeyFrag, opts: RngOptions): CapsuleFrag {
    const kfrag = vkfrag.kfrag;
    const rk = kfrag.rk;
    const e1 = capsule.e.mul(rk, true);
    const v1 = capsule.v.mul(rk, true);
    const t = randomNonZeroScalar(opts.rng);
    const e2 = capsule.e.mul(t, true);
    const v2 = capsule.v.mul(t, true);
    const u2 = mulU(t, true);
    const u = pointU();
    const h = hashToCfragVerification([capsule.e, e1, e2, capsule.v, v1, v2, u, kfrag.commitment, u2]);
    const z3 = F.add(F.mul(rk, h), t);
    return new CapsuleFrag(
      e1,
      v1,
      kfrag.id,
      kfrag.precursor,
      e2,
      v2,
      kfrag.commitment,
      u2,
      z3,
      kfrag.signatureForReceiver,
    );
  }
}

/** A capsule fragment that passed `CapsuleFrag.verify` (or was made here). */
export class VerifiedCapsuleFrag {
  readonly #cfrag: CapsuleFrag;

  /** @internal */
  constructor(token: typeof VERIFIED, cfrag: CapsuleFrag) {
    if (token !== VERIFIED) throw new InvalidArgumentError('cfrag', 'use CapsuleFrag.verify()');
    this.#cfrag = cfrag;
  }

  /** @internal */
  get cfrag(): CapsuleFrag {
    return this.#cfrag;
  }

  /** @internal */
  static fromReencryption(cfrag: CapsuleFrag): VerifiedCapsuleFrag {
    return new VerifiedCapsuleFrag(VERIFIED, cfrag);
  }

  toBytes(): Uint8Array {
    return this.#cfrag.toBytes();
  }

  toBytesSimple(): Uint8Array {
    return this.#cfrag.toBytesSimple();
  }

  unverify(): CapsuleFrag {
    return this.#cfrag;
  }

  equals(other: VerifiedCapsuleFrag): boolean {
    return other instanceof VerifiedCapsuleFrag && this.#cfrag.equals(other.#cfrag);
  }

  toString(): string {
    return `Verified${this.#cfrag.toString()}`;
  }
}

function assertCapsule(c: unknown): asserts c is Capsule {
  if (!(c instanceof Capsule)) {
    throw new InvalidArgumentError('capsule', 'expected a Capsule');
  }
}
