/**
 * The AEADs on @noble/ciphers (pure JS): what browsers and other non-Node runtimes use, and the
 * reference the node:crypto set is tested against (DESIGN.md "The encrypted file").
 */
import { gcm } from '@noble/ciphers/aes.js';
import { xchacha20poly1305 as nobleXChaCha } from '@noble/ciphers/chacha.js';
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

interface NobleCipher {
  encrypt(plaintext: Uint8Array): Uint8Array;
  decrypt(ciphertext: Uint8Array): Uint8Array;
}

function makeAead(
  id: AeadId,
  name: string,
  nonceLength: number,
  cipher: (key: Uint8Array, nonce: Uint8Array, aad?: Uint8Array) => NobleCipher,
): Aead {
  const aead: Aead = {
    id,
    name,
    keyLength: KEY_LENGTH,
    nonceLength,
    tagLength: TAG_LENGTH,
    seal(key, nonce, plaintext, aad) {
      checkAeadArgs(aead, key, nonce, plaintext, 'plaintext', aad);
      return cipher(key, nonce, aad).encrypt(plaintext);
    },
    open(key, nonce, sealed, aad) {
      checkAeadArgs(aead, key, nonce, sealed, 'sealed', aad);
      if (sealed.length < TAG_LENGTH) {
        throw new DecryptionError(`${name}: sealed input of ${sealed.length} bytes is shorter than the tag`);
      }
      try {
        return cipher(key, nonce, aad).decrypt(sealed);
      } catch (cause) {
        throw new DecryptionError(`${name}: authentication failed`, { cause });
      }
    },
  };
  return Object.freeze(aead);
}

export const aeads: Readonly<Record<AeadId, Aead>> = Object.freeze({
  1: makeAead(1, 'XChaCha20-Poly1305', XCHACHA_NONCE_LENGTH, nobleXChaCha),
  2: makeAead(2, 'AES-256-GCM', GCM_NONCE_LENGTH, gcm),
});
