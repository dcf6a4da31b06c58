import { sha256 } from '@noble/hashes/sha2.js';
import { createBase58check } from '@scure/base';
import { bytes } from '../codec/schema.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { PublicKey } from '../umbral/keys.js';

/**
 * A public card: what people exchange to name an identity (owner, reader, node). Binary form:
 * version (1 byte, = 1) || signing key (33) || encrypting key (33). Printable form:
 * "thresh1" + base58check(binary form), the 4-byte SHA-256d checksum turning a typo into an
 * error rather than another key. DESIGN.md "Keys and cards".
 */
export const CARD_VERSION = 1;
export const CARD_BYTES = 67;
export const CARD_PREFIX = 'thresh1';

const b58check = createBase58check(sha256);

export class Card {
  private constructor(
    readonly signingKey: PublicKey,
    readonly encryptingKey: PublicKey,
    readonly bytes: Uint8Array,
  ) {}

  static fromKeys(signingKey: PublicKey, encryptingKey: PublicKey): Card {
    if (!(signingKey instanceof PublicKey))
      throw new InvalidArgumentError('signing key', 'expected a PublicKey');
    if (!(encryptingKey instanceof PublicKey))
      throw new InvalidArgumentError('encrypting key', 'expected a PublicKey');
    const b = new Uint8Array(CARD_BYTES);
    b[0] = CARD_VERSION;
    b.set(signingKey.toCompressedBytes(), 1);
    b.set(encryptingKey.toCompressedBytes(), 34);
    return new Card(signingKey, encryptingKey, b);
  }

  static fromBytes(b: Uint8Array): Card {
    if (!(b instanceof Uint8Array)) throw new DecodeError('card', 'expected a Uint8Array');
    if (b.length !== CARD_BYTES)
      throw new DecodeError('card', `expected ${CARD_BYTES} bytes, got ${b.length}`);
    if (b[0] !== CARD_VERSION) throw new DecodeError('card.version', `unsupported card version ${b[0]}`);
    const signing = PublicKey.fromCompressedBytes(b.subarray(1, 34));
    const encrypting = PublicKey.fromCompressedBytes(b.subarray(34, 67));
    return new Card(signing, encrypting, b.slice());
  }

  /** Parses the printable form; a wrong prefix, a typo (checksum) or a bad key is a DecodeError. */
  static parse(text: string): Card {
    if (typeof text !== 'string') throw new DecodeError('card', 'expected a string');
    const t = text.trim();
    if (!t.startsWith(CARD_PREFIX)) throw new DecodeError('card', `a card starts with "${CARD_PREFIX}"`);
    let raw: Uint8Array;
    try {
      raw = b58check.decode(t.slice(CARD_PREFIX.length));
    } catch (cause) {
      throw new DecodeError('card', 'checksum mismatch or bad characters: check for a typo', { cause });
    }
    return Card.fromBytes(raw);
  }

  toString(): string {
    return CARD_PREFIX + b58check.encode(this.bytes);
  }

  /** A short fingerprint to compare by eye: the first 10 bytes of SHA-256(card), hex in groups of 4. */
  fingerprint(): string {
    const h = sha256(this.bytes).subarray(0, 10);
    return Array.from(h, (x) => x.toString(16).padStart(2, '0'))
      .join('')
      .match(/.{4}/g)!
      .join('-');
  }

  equals(other: Card): boolean {
    return other instanceof Card && this.toString() === other.toString();
  }
}

/** Schema of a card field in records: its 67-byte binary form. */
export const cardBytes = bytes(CARD_BYTES);
