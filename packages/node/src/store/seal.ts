/**
 * Values at rest (DESIGN.md "Nodes": Storage): XChaCha20-Poly1305 under the store's seal key,
 * a random 24-byte nonce per write, and the record's key as associated data, so a value opens
 * only under the key it was written to. Stored value = nonce || ciphertext || tag.
 */
import { randomBytes } from '@noble/hashes/utils.js';
import { AEAD_XCHACHA20_POLY1305, DecryptionError, getAead } from '@thresh/protocol';
import { StoreCorruptionError } from './errors.js';
import { decodeRecord } from './records.js';

/** A record type: its schema and envelope (a MessageType of @thresh/protocol). */
export interface RecordType<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const aead = getAead(AEAD_XCHACHA20_POLY1305);
export const NONCE_BYTES = aead.nonceLength;
/** What sealing adds to a value: nonce and tag. */
export const SEAL_OVERHEAD = NONCE_BYTES + aead.tagLength;

export class Sealer {
  readonly #key: Uint8Array;

  constructor(sealKey: Uint8Array) {
    this.#key = sealKey;
  }

  seal(recordKey: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const nonce = randomBytes(NONCE_BYTES);
    const sealed = aead.seal(this.#key, nonce, plaintext, recordKey);
    const out = new Uint8Array(NONCE_BYTES + sealed.length);
    out.set(nonce);
    out.set(sealed, NONCE_BYTES);
    return out;
  }

  /** The plaintext (the caller wipes it), or StoreCorruptionError; never unauthenticated bytes. */
  open(recordKey: Uint8Array, value: Uint8Array, what: string): Uint8Array {
    if (value.length < SEAL_OVERHEAD) {
      throw new StoreCorruptionError(
        'unauthenticated',
        `${what}: value of ${value.length} bytes is too short`,
      );
    }
    try {
      return aead.open(this.#key, value.subarray(0, NONCE_BYTES), value.subarray(NONCE_BYTES), recordKey);
    } catch (cause) {
      if (!(cause instanceof DecryptionError)) throw cause;
      throw new StoreCorruptionError('unauthenticated', `${what}: value does not open under its key`, {
        cause,
      });
    }
  }

  /** Encodes and seals a record; the plaintext is wiped. */
  sealRecord<T>(type: RecordType<T>, recordKey: Uint8Array, value: T): Uint8Array {
    const plaintext = type.encode(value);
    try {
      return this.seal(recordKey, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  /** Opens and decodes a record, or StoreCorruptionError; the plaintext is wiped. */
  openRecord<T>(type: RecordType<T>, recordKey: Uint8Array, value: Uint8Array, what: string): T {
    const plaintext = this.open(recordKey, value, what);
    try {
      // decodeRecord copies every binary field, so wiping the plaintext leaves the result whole.
      return decodeRecord(type, plaintext, what);
    } finally {
      plaintext.fill(0);
    }
  }

  /** As openRecord, but 'corrupt' instead of StoreCorruptionError. */
  tryOpenRecord<T>(
    type: RecordType<T>,
    recordKey: Uint8Array,
    value: Uint8Array,
    what: string,
  ): T | 'corrupt' {
    try {
      return this.openRecord(type, recordKey, value, what);
    } catch (e) {
      if (e instanceof StoreCorruptionError) return 'corrupt';
      throw e;
    }
  }

  wipe(): void {
    this.#key.fill(0);
  }
}
