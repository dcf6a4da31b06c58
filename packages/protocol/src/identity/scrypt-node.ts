/**
 * scrypt (RFC 7914) on node:crypto (OpenSSL, on the libuv thread pool): several times faster
 * than pure JS, which matters at the key file's N = 2^17 and the --from-passphrase N = 2^18.
 * Byte-for-byte the same as ./scrypt-noble.ts; the tests check it.
 */
import { scrypt as nodeScrypt } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { checkScryptParams, type ScryptParams } from './scrypt-params.js';

export type { ScryptParams } from './scrypt-params.js';

export function scrypt(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Uint8Array> {
  try {
    checkScryptParams(password, salt, params);
  } catch (e) {
    return Promise.reject(e);
  }
  const { N, r, p, dkLen } = params;
  // OpenSSL refuses anything over maxmem, whose default (32 MiB) is below N = 2^17, r = 8
  // (128 MiB). It needs 128 * r * (N + 2 + p) bytes; twice 128 * r * N * p on top leaves room.
  // The caller has already capped N, r and p, so this is a bound, not an allocation.
  const maxmem = 128 * r * (2 * N * p + p + 2);
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, key: Buffer): void => {
      if (err) {
        reject(new InvalidArgumentError('scrypt', err.message, { cause: err }));
        return;
      }
      // Copy out of the Buffer (it may sit in a shared pool) and wipe it.
      const out = new Uint8Array(key);
      key.fill(0);
      resolve(out);
    };
    try {
      nodeScrypt(password, salt, dkLen, { N, r, p, maxmem }, done);
    } catch (err) {
      // Parameter errors are thrown synchronously (RangeError), not passed to the callback.
      reject(new InvalidArgumentError('scrypt', (err as Error).message, { cause: err }));
    }
  });
}
