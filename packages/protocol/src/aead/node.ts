/**
 * The AEADs on node:crypto (OpenSSL), for throughput on Node (DESIGN.md "The encrypted file":
 * target >= 1 GB/s for 1 MiB chunks). Byte-for-byte the same as ./noble.ts; the tests check it.
 *
 * OpenSSL has no XChaCha20-Poly1305, so it is built as draft-irtf-cfrg-xchacha-03 §2.3 does:
 * subkey = HChaCha20(key, nonce[0..16]), then ChaCha20-Poly1305 (RFC 8439) under the subkey
 * with the 12-byte nonce 0x00000000 || nonce[16..24].
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { hchacha } from '@noble/ciphers/chacha.js';
import { DecryptionError } from '../errors.js';
import {
  type Aead,
  type AeadId,
  checkAeadArgs,
  GCM_NONCE_LENGTH,
  KEY_LENGTH,
  TAG_LENGTH,
  XCHACHA_NONCE_LENGTH,
} from './types.js';

type NodeAlgorithm = 'aes-256-gcm' | 'chacha20-poly1305';

// hchacha reads native-endian word views of the bytes and byte-swaps itself on big-endian hosts.
const SIGMA = new Uint32Array(new TextEncoder().encode('expand 32-byte k').buffer);

/** HChaCha20(key, nonce[0..16]) -> 32-byte subkey. The caller wipes it. */
function hchacha20(key: Uint8Array, nonce: Uint8Array): Uint8Array {
  // Copies give aligned word views whatever the inputs' offsets.
  const k = new Uint32Array(8);
  new Uint8Array(k.buffer).set(key);
  const n = new Uint32Array(4);
  new Uint8Array(n.buffer).set(nonce.subarray(0, 16));
  const out = new Uint32Array(8);
  hchacha(SIGMA, k, n, out);
  k.fill(0);
  return new Uint8Array(out.buffer);
}

function sealWith(
  algorithm: NodeAlgorithm,
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array | undefined,
): Uint8Array {
  const cipher = createCipheriv(algorithm as 'aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  if (aad !== undefined && aad.length > 0) cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const rest = cipher.final();
  const tag = cipher.getAuthTag();
  // One copy to lay out ciphertext || tag in a buffer of its own.
  const out = new Uint8Array(body.length + rest.length + TAG_LENGTH);
  out.set(body);
  out.set(rest, body.length);
  out.set(tag, body.length + rest.length);
  return out;
}

function openWith(
  algorithm: NodeAlgorithm,
  name: string,
  key: Uint8Array,
  iv: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array | undefined,
): Uint8Array {
  if (sealed.length < TAG_LENGTH) {
    throw new DecryptionError(`${name}: sealed input of ${sealed.length} bytes is shorter than the tag`);
  }
  const split = sealed.length - TAG_LENGTH;
  const decipher = createDecipheriv(algorithm as 'aes-256-gcm', key, iv, { authTagLength: TAG_LENGTH });
  decipher.setAuthTag(sealed.subarray(split));
  if (aad !== undefined && aad.length > 0) decipher.setAAD(aad);
  const body = decipher.update(sealed.subarray(0, split));
  try {
    decipher.final();
  } catch (cause) {
    // update() already produced unauthenticated plaintext: wipe it, never hand it out.
    body.fill(0);
    throw new DecryptionError(`${name}: authentication failed`, { cause });
  }
  // Return a plain Uint8Array that owns its memory (not a view into a shared Buffer pool).
  if (body.byteOffset === 0 && body.buffer.byteLength === body.length) return new Uint8Array(body.buffer);
  const copy = new Uint8Array(body);
  body.fill(0);
  return copy;
}

const xchacha20poly1305: Aead = {
  id: 1,
  name: 'XChaCha20-Poly1305',
  keyLength: KEY_LENGTH,
  nonceLength: XCHACHA_NONCE_LENGTH,
  tagLength: TAG_LENGTH,
  seal(key, nonce, plaintext, aad) {
    checkAeadArgs(xchacha20poly1305, key, nonce, plaintext, 'plaintext', aad);
    const subkey = hchacha20(key, nonce);
    try {
      return sealWith('chacha20-poly1305', subkey, chachaNonce(nonce), plaintext, aad);
    } finally {
      subkey.fill(0);
    }
  },
  open(key, nonce, sealed, aad) {
    checkAeadArgs(xchacha20poly1305, key, nonce, sealed, 'sealed', aad);
    const subkey = hchacha20(key, nonce);
    try {
      return openWith('chacha20-poly1305', xchacha20poly1305.name, subkey, chachaNonce(nonce), sealed, aad);
    } finally {
      subkey.fill(0);
    }
  },
};

/** 4 zero bytes || the last 8 bytes of the 24-byte XChaCha nonce. */
function chachaNonce(nonce: Uint8Array): Uint8Array {
  const iv = new Uint8Array(12);
  iv.set(nonce.subarray(16, 24), 4);
  return iv;
}

const aes256gcm: Aead = {
  id: 2,
  name: 'AES-256-GCM',
  keyLength: KEY_LENGTH,
  nonceLength: GCM_NONCE_LENGTH,
  tagLength: TAG_LENGTH,
  seal(key, nonce, plaintext, aad) {
    checkAeadArgs(aes256gcm, key, nonce, plaintext, 'plaintext', aad);
    return sealWith('aes-256-gcm', key, nonce, plaintext, aad);
  },
  open(key, nonce, sealed, aad) {
    checkAeadArgs(aes256gcm, key, nonce, sealed, 'sealed', aad);
    return openWith('aes-256-gcm', aes256gcm.name, key, nonce, sealed, aad);
  },
};

export const aeads: Readonly<Record<AeadId, Aead>> = Object.freeze({
  1: Object.freeze(xchacha20poly1305),
  2: Object.freeze(aes256gcm),
});
