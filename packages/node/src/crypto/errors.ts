/**
 * Typed errors of the node's crypto pool. Like @thresh/protocol's errors, each has a stable
 * `name` and `code` and wraps its cause. Input guards throw @thresh/protocol's
 * InvalidArgumentError; per-item failures (a bad capsule) are results, not errors.
 */

/**
 * - `not-started`: a batch was submitted before `start()` resolved.
 * - `stopped`: the pool was stopped with the batch pending, or before it was submitted.
 * - `worker-start`: a worker thread failed to load or to set the curve backend.
 * - `worker-crash`: a worker thread died while serving; it is replaced, and the items it was
 *   running come back as INTERNAL (this error is what the pool logs).
 */
export type CryptoPoolErrorReason = 'not-started' | 'stopped' | 'worker-start' | 'worker-crash';

export class CryptoPoolError extends Error {
  override readonly name = 'CryptoPoolError';
  readonly code = 'ERR_CRYPTO_POOL';
  constructor(
    readonly reason: CryptoPoolErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`crypto pool (${reason}): ${message}`, options);
  }
}
