import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { AEAD_XCHACHA20_POLY1305, getAead } from '../aead/index.js';
import { DecryptionError } from '../errors.js';
import { draw, type Rng } from './rng.js';

/**
 * Umbral's DEM (UMBRAL.md "DEM"): key = HKDF-SHA256(compressed shared point, no salt, empty
 * info); XChaCha20-Poly1305 (the platform AEAD: node:crypto on Node) with a random 24-byte nonce prepended; AAD = capsule simple bytes.
 */
const NONCE = 24;
const TAG = 16;

function demKey(keySeed: Uint8Array): Uint8Array {
  return hkdf(sha256, keySeed, undefined, new Uint8Array(0), 32);
}

export function demEncrypt(
  keySeed: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  rng: Rng | undefined,
): Uint8Array {
  const key = demKey(keySeed);
  const nonce = draw(rng, NONCE);
  const sealed = getAead(AEAD_XCHACHA20_POLY1305).seal(key, nonce, plaintext, aad);
  key.fill(0);
  const out = new Uint8Array(NONCE + sealed.length);
  out.set(nonce);
  out.set(sealed, NONCE);
  return out;
}

export function demDecrypt(keySeed: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array {
  if (ciphertext.length < NONCE + TAG) {
    throw new DecryptionError(
      `ciphertext too short: ${ciphertext.length} bytes, at least ${NONCE + TAG} needed`,
    );
  }
  const key = demKey(keySeed);
  try {
    return getAead(AEAD_XCHACHA20_POLY1305).open(
      key,
      ciphertext.subarray(0, NONCE),
      ciphertext.subarray(NONCE),
      aad,
    );
  } catch (cause) {
    throw new DecryptionError('decryption failed: wrong key, or the ciphertext or capsule was altered', {
      cause,
    });
  } finally {
    key.fill(0);
  }
}
