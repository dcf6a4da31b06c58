/**
 * The AEAD contract shared by the node:crypto and @noble/ciphers implementations
 * (DESIGN.md "The encrypted file"). Both sets give the same bytes for the same inputs.
 */
import { InvalidArgumentError } from '../errors.js';

/** 1 = XChaCha20-Poly1305 (the default), 2 = AES-256-GCM. The id is bound into the signed header. */
export type AeadId = 1 | 2;

export interface Aead {
  readonly id: AeadId;
  readonly name: string;
  readonly keyLength: 32;
  /** 24 for XChaCha20-Poly1305, 12 for AES-256-GCM. */
  readonly nonceLength: number;
  readonly tagLength: 16;
  /** Returns ciphertext || tag. Throws InvalidArgumentError on a wrong key or nonce length. */
  seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /**
   * Opens ciphertext || tag. Throws DecryptionError on any authentication failure, including
   * input shorter than the tag; never returns unauthenticated bytes.
   */
  open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array;
}

export const KEY_LENGTH = 32;
export const TAG_LENGTH = 16;
export const XCHACHA_NONCE_LENGTH = 24;
export const GCM_NONCE_LENGTH = 12;

/** Accepts Uint8Array, including Node Buffers and arrays from another realm. */
export function isBytes(value: unknown): value is Uint8Array {
  return (
    value instanceof Uint8Array || (ArrayBuffer.isView(value) && value.constructor?.name === 'Uint8Array')
  );
}

/** Labelled guard: `field` must be a Uint8Array, of exactly `length` bytes when given. */
export function checkBytes(field: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!isBytes(value)) throw new InvalidArgumentError(field, 'expected a Uint8Array');
  if (length !== undefined && value.length !== length) {
    throw new InvalidArgumentError(field, `expected ${length} bytes, got ${value.length}`);
  }
}

/** The guards every seal/open runs before touching the cipher. */
export function checkAeadArgs(
  aead: Pick<Aead, 'keyLength' | 'nonceLength'>,
  key: unknown,
  nonce: unknown,
  data: unknown,
  dataField: 'plaintext' | 'sealed',
  aad: unknown,
): void {
  checkBytes('key', key, aead.keyLength);
  checkBytes('nonce', nonce, aead.nonceLength);
  checkBytes(dataField, data);
  if (aad !== undefined) checkBytes('aad', aad);
}
