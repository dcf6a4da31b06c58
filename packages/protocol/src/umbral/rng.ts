import { randomBytes } from '@noble/hashes/utils.js';
import { InvalidArgumentError } from '../errors.js';
import { bytesToBigInt, CURVE_ORDER } from './scalar.js';

/**
 * A source of random bytes. Every function that draws randomness takes `{ rng }` so that
 * known-answer tests can replay umbral-pre's byte stream; production code leaves it out and
 * gets the platform CSPRNG (crypto.getRandomValues).
 */
export type Rng = (n: number) => Uint8Array;

export interface RngOptions {
  rng?: Rng;
}

export const defaultRng: Rng = (n) => randomBytes(n);

export function draw(rng: Rng | undefined, n: number): Uint8Array {
  const out = (rng ?? defaultRng)(n);
  if (!(out instanceof Uint8Array) || out.length !== n) {
    throw new InvalidArgumentError('rng', `must return a Uint8Array of ${n} bytes`);
  }
  return out;
}

/** A uniformly random non-zero scalar: 32 bytes, redrawn while 0 or >= n (k256's order). */
export function randomNonZeroScalar(rng: Rng | undefined): bigint {
  for (;;) {
    const k = bytesToBigInt(draw(rng, 32));
    if (k !== 0n && k < CURVE_ORDER) return k;
  }
}
