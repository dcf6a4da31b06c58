/**
 * Typed errors of the node's store. Like @thresh/protocol's errors, each has a stable `name`
 * and `code` and wraps its cause. Input guards throw @thresh/protocol's InvalidArgumentError.
 */

export type StoreErrorCode = 'ERR_STORE_CORRUPT' | 'ERR_STORE_SCHEMA' | 'ERR_STORE_CLOSED';

export abstract class StoreError extends Error {
  abstract readonly code: StoreErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * - `wrong-secret`: the store's key-check record does not open with this storage secret (the
 *   data directory belongs to another identity), detected at open.
 * - `unauthenticated`: a value failed AEAD authentication under its record key (tampered,
 *   damaged, or moved from another key).
 * - `malformed`: a value opened but does not decode to a valid record, or does not belong to
 *   the key it is stored under; or the directory holds data without a schema version.
 */
export type StoreCorruptionReason = 'wrong-secret' | 'unauthenticated' | 'malformed';

/** Stored bytes that do not open or decode: never handed out as data. */
export class StoreCorruptionError extends StoreError {
  override readonly name = 'StoreCorruptionError';
  readonly code = 'ERR_STORE_CORRUPT';
  constructor(
    readonly reason: StoreCorruptionReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`store corrupt (${reason}): ${message}`, options);
  }
}

/** The store on disk has a schema version this build cannot read (written by a newer build). */
export class StoreSchemaError extends StoreError {
  override readonly name = 'StoreSchemaError';
  readonly code = 'ERR_STORE_SCHEMA';
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`store schema version ${found} is not supported (this build reads version ${supported})`);
  }
}

/** An operation on a store that is not open (never opened, or closed). */
export class StoreClosedError extends StoreError {
  override readonly name = 'StoreClosedError';
  readonly code = 'ERR_STORE_CLOSED';
  constructor(operation: string) {
    super(`${operation}: the store is not open`);
  }
}
