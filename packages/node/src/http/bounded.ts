/**
 * Bounds on HTTP work, as serve.ts bounds libp2p streams (STYLE.md: "Every protocol handler is
 * bounded: ... timeout (AbortSignal), concurrency limit"): a fixed number of slots, BUSY at
 * once beyond them, and a deadline handed to the work as an AbortSignal. A slot stays taken
 * until the work settles, not until the reply is sent, so the limit bounds real work even
 * when a handler overruns its deadline.
 */

import { raceSignal } from '../abort.js';
import { HttpError } from './errors.js';

export class Bounded {
  #running = 0;

  constructor(
    /** What the slots are for, in the BUSY message. */
    readonly what: string,
    readonly maxInFlight: number,
    /** Deadline of a run unless the run names its own. */
    readonly timeoutMs: number,
  ) {}

  get running(): number {
    return this.#running;
  }

  /**
   * Runs `work` in a slot with a deadline. Throws HttpError BUSY (503) when every slot is
   * taken and TIMEOUT (504) when the deadline passes first; `cancel` (the client went away)
   * aborts the work's signal too.
   */
  async run<T>(
    work: (signal: AbortSignal) => Promise<T>,
    options: { cancel?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.#running >= this.maxInFlight) {
      throw new HttpError('BUSY', `${this.what}: too many requests in flight, retry later`);
    }
    this.#running++;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const { cancel } = options;
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = cancel ? AbortSignal.any([deadline, cancel]) : deadline;
    const running = Promise.resolve().then(() => work(signal));
    const release = (): void => {
      this.#running--;
    };
    running.then(release, release);
    try {
      return await raceSignal(running, signal);
    } catch (e) {
      if (deadline.aborted) {
        throw new HttpError('TIMEOUT', `${this.what}: no answer within ${timeoutMs} ms`, { cause: e });
      }
      throw e;
    }
  }
}
