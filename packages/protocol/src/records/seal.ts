/**
 * Hybrid encryption of a record to one public key (the StudioML pattern, DESIGN.md "Signed
 * records"): Umbral `encrypt(pk, plaintext)` gives a capsule and a DEM ciphertext
 * (XChaCha20-Poly1305, AAD = the capsule), carried in an envelope
 * [tag, 1, 0, { capsule: bin 105, ct: bin }]. Used by the sealed kfrag and the sealed map.
 */
import { MessageType } from '../codec/envelope.js';
import { z } from '../codec/schema.js';
import { Capsule } from '../umbral/capsule.js';
import { assertPublicKey, type PublicKey, type SecretKey } from '../umbral/keys.js';
import { decryptOriginal, encrypt } from '../umbral/pre.js';
import type { RngOptions } from '../umbral/rng.js';
import { bin, CAPSULE_BYTES } from './common.js';

/** The DEM's overhead: a 24-byte nonce and a 16-byte tag. */
export const DEM_OVERHEAD = 40;

export function sealedSchema(maxPlaintext: number) {
  return z.object({
    capsule: bin(CAPSULE_BYTES),
    ct: bin({ min: DEM_OVERHEAD, max: maxPlaintext + DEM_OVERHEAD }),
  });
}

export type SealedBody = z.infer<ReturnType<typeof sealedSchema>>;

/** A sealed type for plaintexts of at most `maxPlaintext` bytes. */
export function sealedType(tag: string, maxPlaintext: number): MessageType<SealedBody> {
  return new MessageType<SealedBody>(tag, sealedSchema(maxPlaintext), 0, maxPlaintext + DEM_OVERHEAD + 256);
}

export function sealTo(
  type: MessageType<SealedBody>,
  recipient: PublicKey,
  plaintext: Uint8Array,
  opts: RngOptions = {},
): Uint8Array {
  assertPublicKey(recipient, 'recipient key');
  const [capsule, ct] = encrypt(recipient, plaintext, opts);
  return type.encode({ capsule: capsule.toBytes(), ct });
}

/**
 * Decodes and decrypts. A capsule that fails its self-check is a DecodeError; the wrong key or
 * altered bytes a DecryptionError.
 */
export function unsealWith(type: MessageType<SealedBody>, bytes: Uint8Array, sk: SecretKey): Uint8Array {
  const sealed = type.decode(bytes);
  const capsule = Capsule.fromBytes(sealed.capsule);
  return decryptOriginal(sk, capsule, sealed.ct);
}
