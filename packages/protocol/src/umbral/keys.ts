import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { CurvePoint, mulG } from './curve.js';
import {
  INFO_FACTORY_DERIVATION,
  INFO_KEY_DERIVATION,
  INFO_SECRET_DERIVATION,
  scalarDigest,
} from './hashing-ds.js';
import { draw, type RngOptions, randomNonZeroScalar } from './rng.js';
import { scalarFromBytes, scalarToBytes } from './scalar.js';
import { abytes, hex } from './util.js';

const inspect = Symbol.for('nodejs.util.inspect.custom');

let scalarOf: (sk: SecretKey) => bigint;

/** A secp256k1 secret key: a scalar in [1, n-1]. It never prints its value. */
export class SecretKey {
  readonly #scalar: bigint;
  #publicKey: PublicKey | undefined;

  static {
    scalarOf = (sk) => sk.#scalar;
  }

  private constructor(scalar: bigint) {
    this.#scalar = scalar;
  }

  /** @internal */
  static fromScalar(k: bigint): SecretKey {
    return new SecretKey(k);
  }

  static random(opts: RngOptions = {}): SecretKey {
    return new SecretKey(randomNonZeroScalar(opts.rng));
  }

  /** 32 big-endian bytes, a scalar in [1, n-1]. */
  static fromBEBytes(bytes: Uint8Array): SecretKey {
    abytes(bytes, 'secret key', DecodeError);
    const k = scalarFromBytes(bytes, true);
    if (k === undefined)
      throw new DecodeError('secret key', 'expected 32 bytes holding a scalar in [1, n-1]');
    return new SecretKey(k);
  }

  toBEBytes(): Uint8Array {
    return scalarToBytes(this.#scalar);
  }

  publicKey(): PublicKey {
    if (this.#publicKey === undefined) this.#publicKey = PublicKey.fromPoint(mulG(this.#scalar, true));
    return this.#publicKey;
  }

  toString(): string {
    return 'SecretKey:...';
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect](): string {
    return this.toString();
  }
}

/** @internal The scalar of a secret key, for the PRE functions of this package only. */
export function secretScalar(sk: SecretKey): bigint {
  if (!(sk instanceof SecretKey)) throw new InvalidArgumentError('secret key', 'expected a SecretKey');
  return scalarOf(sk);
}

/** A secp256k1 public key; its one encoding is the 33-byte compressed SEC1 point. */
export class PublicKey {
  readonly #point: CurvePoint;

  private constructor(point: CurvePoint) {
    this.#point = point;
  }

  /** @internal */
  static fromPoint(point: CurvePoint): PublicKey {
    return new PublicKey(point);
  }

  static fromCompressedBytes(bytes: Uint8Array): PublicKey {
    return new PublicKey(CurvePoint.fromBytes(bytes, 'public key'));
  }

  /** @internal */
  get point(): CurvePoint {
    return this.#point;
  }

  toCompressedBytes(): Uint8Array {
    return this.#point.toBytes().slice();
  }

  equals(other: PublicKey): boolean {
    return other instanceof PublicKey && this.#point.equals(other.#point);
  }

  toString(): string {
    return `PublicKey:${hex(this.#point.toBytes())}`;
  }

  [inspect](): string {
    return this.toString();
  }
}

/** @internal */
export function assertPublicKey(pk: unknown, field: string): asserts pk is PublicKey {
  if (!(pk instanceof PublicKey)) throw new InvalidArgumentError(field, 'expected a PublicKey');
}

const SEED_SIZE = 32;

/**
 * Deterministic derivation of keys and secrets from a 32-byte seed by label (UMBRAL.md
 * "SecretKeyFactory"): HKDF-SHA256 with the label in `info`, then Umbral's ScalarDigest.
 */
export class SecretKeyFactory {
  readonly #seed: Uint8Array;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
  }

  static random(opts: RngOptions = {}): SecretKeyFactory {
    return new SecretKeyFactory(draw(opts.rng, SEED_SIZE).slice());
  }

  static seedSize(): number {
    return SEED_SIZE;
  }

  static fromSecureRandomness(seed: Uint8Array): SecretKeyFactory {
    abytes(seed, 'seed', InvalidArgumentError, SEED_SIZE);
    return new SecretKeyFactory(seed.slice());
  }

  makeKey(label: Uint8Array): SecretKey {
    abytes(label, 'label', InvalidArgumentError);
    const info = concat(INFO_KEY_DERIVATION, label);
    const prk = hkdf(sha256, this.#seed, undefined, info, 64);
    const k = scalarDigest(info, [prk]);
    prk.fill(0);
    return SecretKey.fromScalar(k);
  }

  makeSecret(label: Uint8Array): Uint8Array {
    abytes(label, 'label', InvalidArgumentError);
    return hkdf(sha256, this.#seed, undefined, concat(INFO_SECRET_DERIVATION, label), 64);
  }

  makeFactory(label: Uint8Array): SecretKeyFactory {
    abytes(label, 'label', InvalidArgumentError);
    return new SecretKeyFactory(
      hkdf(sha256, this.#seed, undefined, concat(INFO_FACTORY_DERIVATION, label), 32),
    );
  }

  toString(): string {
    return 'SecretKeyFactory:...';
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect](): string {
    return this.toString();
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
