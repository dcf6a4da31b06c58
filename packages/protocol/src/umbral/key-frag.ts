import { sha256 } from '@noble/hashes/sha2.js';
import { DecodeError, InvalidArgumentError, KeyFragVerificationError } from '../errors.js';
import { bytesEqual, CurvePoint, mulG, mulU } from './curve.js';
import { hashToPolynomialArg, hashToSharedSecret, kfragSignatureMessage } from './hashing-ds.js';
import { assertPublicKey, type PublicKey, type SecretKey, secretScalar } from './keys.js';
import { U_BYTES } from './params.js';
import { draw, type RngOptions, randomNonZeroScalar } from './rng.js';
import * as F from './scalar.js';
import { LayoutReader, LayoutWriter } from './serde.js';
import { Signature, type Signer, verifyDigest } from './signature.js';
import { hex } from './util.js';

const VERIFIED: unique symbol = Symbol('VerifiedKeyFrag');

/**
 * A re-encryption key fragment as it travels: untrusted until `verify()` turns it into a
 * VerifiedKeyFrag, the only kind `reencrypt` takes. 310 bytes serialized.
 */
export class KeyFrag {
  private constructor(
    /** @internal */ readonly id: Uint8Array,
    /** @internal */ readonly rk: bigint,
    /** @internal */ readonly precursor: CurvePoint,
    /** @internal */ readonly commitment: CurvePoint,
    /** @internal */ readonly signatureForProxy: Signature,
    /** @internal */ readonly signatureForReceiver: Signature,
    /** @internal */ readonly delegatingKeySigned: boolean,
    /** @internal */ readonly receivingKeySigned: boolean,
  ) {}

  static fromBytes(bytes: Uint8Array): KeyFrag {
    const r = new LayoutReader(bytes, 'kfrag');
    r.array(5, 'kfrag');
    r.array(1, 'params');
    if (!bytesEqual(r.bin(33, 'params.U'), U_BYTES))
      throw new DecodeError('kfrag.params.U', "not Umbral's U");
    const id = r.bin(32, 'id');
    const rkBytes = r.bin(32, 'key');
    const precursor = CurvePoint.fromBytes(r.bin(33, 'precursor'), 'kfrag.precursor');
    r.array(5, 'proof');
    const commitment = CurvePoint.fromBytes(r.bin(33, 'proof.commitment'), 'kfrag.proof.commitment');
    const sigProxy = Signature.fromBEBytes(r.bin(64, 'proof.signature_for_proxy'));
    const sigReceiver = Signature.fromBEBytes(r.bin(64, 'proof.signature_for_receiver'));
    const dSigned = r.bool('proof.delegating_key_signed');
    const rSigned = r.bool('proof.receiving_key_signed');
    r.end();
    const rk = F.scalarFromBytes(rkBytes, true);
    if (rk === undefined) throw new DecodeError('kfrag.key', 'not a scalar in [1, n-1]');
    return new KeyFrag(id, rk, precursor, commitment, sigProxy, sigReceiver, dSigned, rSigned);
  }

  toBytes(): Uint8Array {
    return new LayoutWriter()
      .array(5)
      .array(1)
      .bin(U_BYTES)
      .bin(this.id)
      .bin(F.scalarToBytes(this.rk))
      .bin(this.precursor.toBytes())
      .array(5)
      .bin(this.commitment.toBytes())
      .bin(this.signatureForProxy.bytes)
      .bin(this.signatureForReceiver.bytes)
      .bool(this.delegatingKeySigned)
      .bool(this.receivingKeySigned)
      .finish();
  }

  /**
   * Checks the commitment (U1 == rk*U) and the owner's signature. A key whose flag is set in
   * the kfrag must be given; a key given for an unset flag is ignored (as umbral-pre does).
   */
  verify(
    verifyingPk: PublicKey,
    delegatingPk?: PublicKey | null,
    receivingPk?: PublicKey | null,
  ): VerifiedKeyFrag {
    assertPublicKey(verifyingPk, 'verifying key');
    if (delegatingPk != null) assertPublicKey(delegatingPk, 'delegating key');
    if (receivingPk != null) assertPublicKey(receivingPk, 'receiving key');
    if (!mulU(this.rk, true).equals(this.commitment)) throw new KeyFragVerificationError('commitment');
    if (this.delegatingKeySigned && delegatingPk == null) {
      throw new KeyFragVerificationError(
        'delegating-key-missing',
        'the kfrag signs the delegating key: pass it',
      );
    }
    if (this.receivingKeySigned && receivingPk == null) {
      throw new KeyFragVerificationError(
        'receiving-key-missing',
        'the kfrag signs the receiving key: pass it',
      );
    }
    const message = kfragSignatureMessage(
      this.id,
      this.commitment,
      this.precursor,
      this.delegatingKeySigned ? delegatingPk!.toCompressedBytes() : undefined,
      this.receivingKeySigned ? receivingPk!.toCompressedBytes() : undefined,
    );
    if (!verifyDigest(this.signatureForProxy, verifyingPk, sha256(message))) {
      throw new KeyFragVerificationError('signature');
    }
    return new VerifiedKeyFrag(VERIFIED, this);
  }

  /** Trusts this kfrag without checking it. Only for kfrags this process made or already verified. */
  skipVerification(): VerifiedKeyFrag {
    return new VerifiedKeyFrag(VERIFIED, this);
  }

  equals(other: KeyFrag): boolean {
    return other instanceof KeyFrag && bytesEqual(this.toBytes(), other.toBytes());
  }

  toString(): string {
    return `KeyFrag:${hex(this.id).slice(0, 16)}`;
  }
}

/** A key fragment that passed `KeyFrag.verify` (or was made here). */
export class VerifiedKeyFrag {
  readonly #kfrag: KeyFrag;

  /** @internal */
  constructor(token: typeof VERIFIED, kfrag: KeyFrag) {
    if (token !== VERIFIED) throw new InvalidArgumentError('kfrag', 'use KeyFrag.verify()');
    this.#kfrag = kfrag;
  }

  /** @internal */
  get kfrag(): KeyFrag {
    return this.#kfrag;
  }

  toBytes(): Uint8Array {
    return this.#kfrag.toBytes();
  }

  unverify(): KeyFrag {
    return this.#kfrag;
  }

  equals(other: VerifiedKeyFrag): boolean {
    return other instanceof VerifiedKeyFrag && this.#kfrag.equals(other.#kfrag);
  }

  toString(): string {
    return `Verified${this.#kfrag.toString()}`;
  }
}

/** @internal Makes `shares` kfrags of threshold `threshold` (UMBRAL.md "KFrag generation"). */
export function makeKeyFrags(
  delegatingSk: SecretKey,
  receivingPk: PublicKey,
  signer: Signer,
  threshold: number,
  shares: number,
  signDelegatingKey: boolean,
  signReceivingKey: boolean,
  opts: RngOptions,
): VerifiedKeyFrag[] {
  const rng = opts.rng;
  const skA = secretScalar(delegatingSk);
  const pkA = delegatingSk.publicKey().toCompressedBytes();
  const pkBBytes = receivingPk.toCompressedBytes();
  const pkB = receivingPk.point;
  const xA = randomNonZeroScalar(rng);
  const precursor = mulG(xA, true);
  const dh = pkB.mul(xA, true);
  const d = hashToSharedSecret(precursor, pkB, dh);
  const coefficients = [F.mul(skA, F.inv(d))];
  for (let i = 1; i < threshold; i++) coefficients.push(randomNonZeroScalar(rng));
  const out: VerifiedKeyFrag[] = [];
  for (let i = 0; i < shares; i++) {
    const id = draw(rng, 32).slice();
    const x = hashToPolynomialArg(precursor, pkB, dh, id);
    const rk = polyEval(coefficients, x);
    const commitment = mulU(rk, true);
    const sigReceiver = signer.sign(kfragSignatureMessage(id, commitment, precursor, pkA, pkBBytes), { rng });
    const sigProxy = signer.sign(
      kfragSignatureMessage(
        id,
        commitment,
        precursor,
        signDelegatingKey ? pkA : undefined,
        signReceivingKey ? pkBBytes : undefined,
      ),
      { rng },
    );
    const kfrag = new (KeyFrag as unknown as KeyFragCtor)(
      id,
      rk,
      precursor,
      commitment,
      sigProxy,
      sigReceiver,
      signDelegatingKey,
      signReceivingKey,
    );
    out.push(new VerifiedKeyFrag(VERIFIED, kfrag));
  }
  return out;
}

type KeyFragCtor = new (
  id: Uint8Array,
  rk: bigint,
  precursor: CurvePoint,
  commitment: CurvePoint,
  signatureForProxy: Signature,
  signatureForReceiver: Signature,
  delegatingKeySigned: boolean,
  receivingKeySigned: boolean,
) => KeyFrag;

function polyEval(coefficients: readonly bigint[], x: bigint): bigint {
  let result = coefficients[coefficients.length - 1];
  for (let i = coefficients.length - 2; i >= 0; i--) result = F.add(F.mul(result, x), coefficients[i]);
  return result;
}
