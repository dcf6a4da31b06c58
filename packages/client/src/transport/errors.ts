/**
 * Typed errors of the client's transports (libp2p request/response, DHT helpers). Every error
 * has a stable `name` and `code` and wraps the library error that caused it as `cause`, so
 * callers never see a libp2p, yamux or multistream error class directly. Node selection and
 * the reader's "why did each node fail" report (DESIGN.md "Decrypt") switch on `code`.
 */

export type TransportErrorCode =
  | 'ERR_UNREACHABLE'
  | 'ERR_UNSUPPORTED_PROTOCOL'
  | 'ERR_TIMEOUT'
  | 'ERR_ABORTED'
  | 'ERR_RESPONSE_TOO_LARGE'
  | 'ERR_STREAM'
  | 'ERR_DHT';

export abstract class TransportError extends Error {
  abstract readonly code: TransportErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The peer could not be dialled: no address, refused, handshake failed, or it is stopped. */
export class UnreachableError extends TransportError {
  override readonly name = 'UnreachableError';
  readonly code = 'ERR_UNREACHABLE';
}

/** The peer is reachable but does not speak the protocol (not a thresh node, or another major version). */
export class UnsupportedProtocolError extends TransportError {
  override readonly name = 'UnsupportedProtocolError';
  readonly code = 'ERR_UNSUPPORTED_PROTOCOL';
  constructor(
    readonly protocol: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The request's own deadline (`timeoutMs`) passed before a reply arrived. */
export class TimeoutError extends TransportError {
  override readonly name = 'TimeoutError';
  readonly code = 'ERR_TIMEOUT';
  constructor(
    readonly timeoutMs: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The caller's AbortSignal fired; `cause` is the signal's reason. */
export class AbortedError extends TransportError {
  override readonly name = 'AbortedError';
  readonly code = 'ERR_ABORTED';
}

/** The peer announced a reply frame longer than `maxResponseBytes`; nothing of it was buffered. */
export class ResponseTooLargeError extends TransportError {
  override readonly name = 'ResponseTooLargeError';
  readonly code = 'ERR_RESPONSE_TOO_LARGE';
  constructor(
    readonly maxBytes: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The stream was reset, closed before a whole reply frame, or carried a malformed frame. */
export class StreamError extends TransportError {
  override readonly name = 'StreamError';
  readonly code = 'ERR_STREAM';
}

/** A DHT query failed for another reason than its deadline (kad-dht's own errors, as `cause`). */
export class DhtError extends TransportError {
  override readonly name = 'DhtError';
  readonly code = 'ERR_DHT';
}

export function isTransportError(e: unknown): e is TransportError {
  return e instanceof TransportError;
}
