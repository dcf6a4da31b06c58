import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { backend } from './backend/index.js';
import { assertPublicKey, type PublicKey, type SecretKey, secretScalar } from './keys.js';
import { draw, type RngOptions } from './rng.js';
import { bytesToBigInt, CURVE_ORDER, scalarToBytes } from './scalar.js';
import { abytes, hex } from './util.js';

const HALF_ORDER = CURVE_ORDER >> 1n;

/**
 * An ECDSA signature over SHA-256(message), r || s (UMBRAL.md): strict parsing, r and s in
 * [1, n-1] and s low (<= n/2). High-S signatures are rejected, not normalized.
 */
export class Signature {
  readonly #bytes: Uint8Array;

  private constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  /** @internal from a backend's fresh output, which is always low-S. */
  static fromTrusted(bytes: Uint8Array): Signature {
    return new Signature(bytes);
  }

  static fromBEBytes(bytes: Uint8Array): Signature {
    abytes(bytes, 'signature', DecodeError);
    if (bytes.length !== 64) throw new DecodeError('signature', `expected 64 bytes, got ${bytes.length}`);
    const r = bytesToBigInt(bytes.subarray(0, 32));
    const s = bytesToBigInt(bytes.subarray(32));
    if (r === 0n || r >= CURVE_ORDER) throw new DecodeError('signature.r', 'out of range');
    if (s === 0n || s >= CURVE_ORDER) throw new DecodeError('signature.s', 'out of range');
    if (s > HALF_ORDER) throw new DecodeError('signature.s', 'high-S signature (not normalized)');
    return new Signature(bytes.slice());
  }

  static fromDerBytes(bytes: Uint8Array): Signature {
    abytes(bytes, 'signature', DecodeError);
    let sig: InstanceType<typeof secp256k1.Signature>;
    try {
      sig = secp256k1.Signature.fromBytes(bytes, 'der');
    } catch (cause) {
      throw new DecodeError('signature', 'invalid DER encoding', { cause });
    }
    const be = new Uint8Array(64);
    be.set(scalarToBytes(sig.r));
    be.set(scalarToBytes(sig.s), 32);
    return Signature.fromBEBytes(be);
  }

  toBEBytes(): Uint8Array {
    return this.#bytes.slice();
  }

  toDerBytes(): Uint8Array {
    return secp256k1.Signature.fromBytes(this.#bytes, 'compact').toBytes('der');
  }

  /** @internal */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  verify(verifyingPk: PublicKey, message: Uint8Array): boolean {
    assertPublicKey(verifyingPk, 'verifying key');
    abytes(message, 'message', InvalidArgumentError);
    return verifyDigest(this, verifyingPk, sha256(message));
  }

  equals(other: Signature): boolean {
    return other instanceof Signature && hex(this.#bytes) === hex(other.#bytes);
  }

  toString(): string {
    return `Signature:${hex(this.#bytes)}`;
  }
}

/** @internal */
export function verifyDigest(sig: Signature, pk: PublicKey, digest: Uint8Array): boolean {
  const b = backend();
  const h = pk.point.handle(b);
  return h !== null && b.verify(sig.bytes, digest, h, pk.point.toBytes());
}

/** Signs messages with a secret key: ECDSA over SHA-256, RFC 6979 hedged with 32 random bytes. */
export class Signer {
  readonly #sk: SecretKey;

  constructor(secretKey: SecretKey) {
    secretScalar(secretKey); // type guard
    this.#sk = secretKey;
  }

  sign(message: Uint8Array, opts: RngOptions = {}): Signature {
    abytes(message, 'message', InvalidArgumentError);
    return this.signDigest(sha256(message), opts);
  }

  /** @internal */
  signDigest(digest: Uint8Array, opts: RngOptions = {}): Signature {
    const hedge = draw(opts.rng, 32);
    const skBytes = scalarToBytes(secretScalar(this.#sk));
    try {
      return Signature.fromTrusted(backend().sign(digest, skBytes, hedge));
    } finally {
      skBytes.fill(0);
    }
  }

  verifyingKey(): PublicKey {
    return this.#sk.publicKey();
  }

  toString(): string {
    return 'Signer:...';
  }
}
