/**
 * AEAD selection by the id bound into the signed file header (DESIGN.md "The encrypted file").
 * `#aead-platform` resolves to node:crypto under Node and to @noble/ciphers elsewhere; both
 * give the same bytes.
 *
 * @example
 * ```ts
 * import { AEAD_XCHACHA20_POLY1305, getAead } from './aead/index.js';
 * const aead = getAead(AEAD_XCHACHA20_POLY1305);
 * const key = crypto.getRandomValues(new Uint8Array(aead.keyLength));
 * const nonce = crypto.getRandomValues(new Uint8Array(aead.nonceLength));
 * const sealed = aead.seal(key, nonce, new TextEncoder().encode('hi'));
 * aead.open(key, nonce, sealed); // -> 'hi' as bytes
 * ```
 */
import { aeads as platformAeads } from '#aead-platform';
import { DecodeError } from '../errors.js';
import type { Aead, AeadId } from './types.js';

export { aeads as nobleAeads } from './noble.js';
export type { Aead, AeadId } from './types.js';

export const AEAD_XCHACHA20_POLY1305: AeadId & 1 = 1;
export const AEAD_AES_256_GCM: AeadId & 2 = 2;
/** The AEAD new files use. */
export const DEFAULT_AEAD_ID: AeadId = AEAD_XCHACHA20_POLY1305;

export function isAeadId(id: unknown): id is AeadId {
  return id === AEAD_XCHACHA20_POLY1305 || id === AEAD_AES_256_GCM;
}

/** The platform's implementation of AEAD `id`; an unknown id (e.g. from a header) is a DecodeError. */
export function getAead(id: number): Aead {
  if (!isAeadId(id)) throw new DecodeError('aead id', `unknown AEAD id ${String(id)}`);
  return platformAeads[id];
}
