import type { BackendName } from '@thresh/protocol';

/** The crypto pool's options (each optional, default documented here) and its stats snapshot. */

/** The part of the node's structured logger (pino's shape) the pool uses. */
export interface CryptoPoolLog {
  error(obj: object, msg?: string): void;
}

export interface CryptoPoolInit {
  /**
   * Worker threads. 0 runs re-encryption inline on the main thread (tests, tiny deployments).
   * Default: the number of cores (`os.availableParallelism()`), as the node's `workers` option.
   */
  workers?: number;
  /**
   * Start the workers on the first batch instead of waiting for `start()`: the first batch
   * waits for them (~0.3 s of CPU per worker here); a failed start fails that batch and the
   * next batch tries again. A node with no policies never re-encrypts, so it never pays for
   * its workers. Default: false.
   */
  startOnFirstUse?: boolean;
  /** Metrics hook, called once per completed non-empty batch with its size and wall time. Default: none. */
  onBatch?: (size: number, ms: number) => void;
  /** Component logger (worker crashes, hook failures). Default: silent. */
  log?: CryptoPoolLog;
  /**
   * @internal Tests only: lets `crashWorkerForTests` make a worker exit. The worker ignores the
   * crash message unless it was spawned with this flag; node options never map to it.
   */
  testHooks?: boolean;
}

export interface CryptoPoolStats {
  /** Worker threads configured (0: inline). */
  workers: number;
  /** Workers loaded and serving (replacements count once their modules loaded). */
  ready: number;
  /** Workers running a job. */
  busy: number;
  /** Jobs (batch slices) waiting in the per-worker queues. */
  queuedJobs: number;
  /** The curve backend each ready worker reported (inline: the main thread's). */
  backends: BackendName[];
}

/** Most worker threads one pool runs. */
export const MAX_WORKERS = 256;
