import { InvalidArgumentError } from '../errors.js';

/** scrypt's parameters and their guards, shared by ./scrypt-node.ts and ./scrypt-noble.ts. */
export interface ScryptParams {
  /** CPU/memory cost: a power of two >= 2. */
  readonly N: number;
  /** Block size. */
  readonly r: number;
  /** Parallelization. */
  readonly p: number;
  /** Output length in bytes. */
  readonly dkLen: number;
}

/** The guards both implementations run, so they reject the same inputs with the same errors. */
export function checkScryptParams(password: Uint8Array, salt: Uint8Array, params: ScryptParams): void {
  if (!(password instanceof Uint8Array))
    throw new InvalidArgumentError('scrypt password', 'expected a Uint8Array');
  if (!(salt instanceof Uint8Array)) throw new InvalidArgumentError('scrypt salt', 'expected a Uint8Array');
  const { N, r, p, dkLen } = params ?? ({} as ScryptParams);
  if (!Number.isSafeInteger(N) || N < 2 || (N & (N - 1)) !== 0 || N > 2 ** 30) {
    throw new InvalidArgumentError('scrypt N', 'must be a power of two in [2, 2^30]');
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > 256)
    throw new InvalidArgumentError('scrypt r', 'must be in [1, 256]');
  if (!Number.isSafeInteger(p) || p < 1 || p > 256)
    throw new InvalidArgumentError('scrypt p', 'must be in [1, 256]');
  if (!Number.isSafeInteger(dkLen) || dkLen < 1 || dkLen > 1024) {
    throw new InvalidArgumentError('scrypt dkLen', 'must be in [1, 1024]');
  }
}
