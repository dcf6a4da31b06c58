/**
 * Typed errors of the node's network layer. They stay inside the node: a peer hears about
 * them as error frames (serve.ts), never as these objects.
 */

export type NetErrorCode = 'ERR_FRAME_TOO_LARGE' | 'ERR_FRAME_TRUNCATED';

export abstract class NetError extends Error {
  abstract readonly code: NetErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The length prefix announced more than the cap; the payload was not read. */
export class FrameTooLargeError extends NetError {
  override readonly name = 'FrameTooLargeError';
  readonly code = 'ERR_FRAME_TOO_LARGE';
  constructor(
    readonly maxBytes: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The peer closed its end inside a frame (or before one). */
export class FrameTruncatedError extends NetError {
  override readonly name = 'FrameTruncatedError';
  readonly code = 'ERR_FRAME_TRUNCATED';
}
