/** Replays a recorded byte stream through the `{ rng }` option of the Umbral functions. */

import { unhex } from './bytes.js';

export interface ReplayRng {
  /** Hands out the next n recorded bytes; throws if fewer than n are left. */
  rng: (n: number) => Uint8Array;
  /** How many recorded bytes have not been drawn. */
  remaining(): number;
  /** The sizes of the draws made so far, in order. */
  draws: number[];
}

export function replayRng(recorded: Uint8Array | string): ReplayRng {
  const bytes = typeof recorded === 'string' ? unhex(recorded) : recorded;
  let pos = 0;
  const draws: number[] = [];
  const rng = (n: number): Uint8Array => {
    if (!Number.isInteger(n) || n < 0) throw new Error(`rng: bad length ${n}`);
    if (pos + n > bytes.length) {
      throw new Error(
        `rng over-drawn: draw #${draws.length} asked for ${n} bytes at offset ${pos}, ` +
          `but only ${bytes.length - pos} of ${bytes.length} recorded bytes are left (draws so far: ${draws.join(',')})`,
      );
    }
    draws.push(n);
    const out = bytes.slice(pos, pos + n);
    pos += n;
    return out;
  };
  return { rng, remaining: () => bytes.length - pos, draws };
}

/** An rng that fails the test if anything draws from it. */
export const forbiddenRng = (n: number): Uint8Array => {
  throw new Error(`unexpected random draw of ${n} bytes`);
};
