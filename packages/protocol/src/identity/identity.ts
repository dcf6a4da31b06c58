import { InvalidArgumentError } from '../errors.js';
import { type SecretKey, SecretKeyFactory } from '../umbral/keys.js';
import { draw, type RngOptions } from '../umbral/rng.js';
import { Signer } from '../umbral/signature.js';
import { Card } from './card.js';

/**
 * An identity (owner, reader, node): a signing key, an encrypting key, and (for owners) the
 * seed of its path keys, all expanded from one 32-byte secret with Umbral's SecretKeyFactory
 * (DESIGN.md "Keys and cards"). The secret is what a key file stores.
 */
export const IDENTITY_SEED_BYTES = 32;
const LABEL_SIGNING = new TextEncoder().encode('thresh/v1/identity/signing');
const LABEL_ENCRYPTING = new TextEncoder().encode('thresh/v1/identity/encrypting');
const LABEL_PATHS = new TextEncoder().encode('thresh/v1/identity/paths');
const LABEL_STORAGE = new TextEncoder().encode('thresh/v1/identity/storage');

export class Identity {
  readonly signingKey: SecretKey;
  readonly encryptingKey: SecretKey;
  readonly signer: Signer;
  readonly card: Card;
  readonly #seed: Uint8Array;
  readonly #factory: SecretKeyFactory;

  private constructor(seed: Uint8Array) {
    this.#seed = seed;
    this.#factory = SecretKeyFactory.fromSecureRandomness(seed);
    this.signingKey = this.#factory.makeKey(LABEL_SIGNING);
    this.encryptingKey = this.#factory.makeKey(LABEL_ENCRYPTING);
    this.signer = new Signer(this.signingKey);
    this.card = Card.fromKeys(this.signingKey.publicKey(), this.encryptingKey.publicKey());
  }

  static generate(opts: RngOptions = {}): Identity {
    return new Identity(draw(opts.rng, IDENTITY_SEED_BYTES).slice());
  }

  static fromSeed(seed: Uint8Array): Identity {
    if (!(seed instanceof Uint8Array) || seed.length !== IDENTITY_SEED_BYTES) {
      throw new InvalidArgumentError('identity seed', `expected ${IDENTITY_SEED_BYTES} bytes`);
    }
    return new Identity(seed.slice());
  }

  /** The 32-byte secret this identity expands from. Handle as a secret: it is the identity. */
  exportSeed(): Uint8Array {
    return this.#seed.slice();
  }

  /** The factory of this owner's path keys (see pathkeys.ts). */
  pathKeyFactory(): SecretKeyFactory {
    return this.#factory.makeFactory(LABEL_PATHS);
  }

  /** A 64-byte secret for a node's storage key (the node derives its AEAD key from it). */
  storageSecret(): Uint8Array {
    return this.#factory.makeSecret(LABEL_STORAGE);
  }

  toString(): string {
    return `Identity:${this.card.fingerprint()}`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
