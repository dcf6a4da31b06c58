/**
 * scrypt (RFC 7914) on @noble/hashes, for browsers and other non-Node runtimes: the reference
 * ./scrypt-node.ts is tested against (same bytes). Async with periodic yields, so a page stays
 * responsive during a key-file unlock.
 */
import { scryptAsync } from '@noble/hashes/scrypt.js';
import { checkScryptParams, type ScryptParams } from './scrypt-params.js';

export type { ScryptParams } from './scrypt-params.js';

export async function scrypt(
  password: Uint8Array,
  salt: Uint8Array,
  params: ScryptParams,
): Promise<Uint8Array> {
  checkScryptParams(password, salt, params);
  const { N, r, p, dkLen } = params;
  // noble refuses work above `maxmem` (default 1 GiB); the caller has already capped N, r, p.
  return scryptAsync(password, salt, { N, r, p, dkLen, maxmem: 128 * r * (N + p + 2) });
}
