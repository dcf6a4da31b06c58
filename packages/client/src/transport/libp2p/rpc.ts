/**
 * The client side of thresh's request/response protocols (DESIGN.md "Nodes", Protocols): one
 * length-prefixed frame out, one length-prefixed frame back, on a fresh stream. The bytes are
 * the caller's (msgpack envelopes); this file only moves them and turns every way the exchange
 * can fail into a TransportError.
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import type { Multiaddr } from '@multiformats/multiaddr';
import { InvalidArgumentError } from '@thresh/protocol';
import {
  AbortedError,
  ResponseTooLargeError,
  StreamError,
  TimeoutError,
  type TransportError,
  UnreachableError,
  UnsupportedProtocolError,
} from '../errors.js';
import { plainBytes } from './bytes.js';

/** Defaults of {@link RequestOptions}, in one place. */
export const REQUEST_DEFAULTS = {
  /** Whole exchange: dial, protocol negotiation, write, read. Loopback round trips take ~1 ms. */
  timeoutMs: 10_000,
  /** Largest reply frame accepted: a batched re-encryption reply fits with room to spare. */
  maxResponseBytes: 4 * 1024 * 1024,
  /** After the reply, how long to wait for the server's end-of-stream before resetting. */
  lingerMs: 2_000,
} as const;

/** A varint length prefix of a frame below 2^53 takes at most this many bytes. */
const MAX_PREFIX_BYTES = 8;

export interface RequestOptions {
  /** The caller's cancellation. Firing it rejects with `AbortedError` (ERR_ABORTED). */
  signal?: AbortSignal;
  /** Deadline for the whole exchange in ms; past it, `TimeoutError` (ERR_TIMEOUT). @default 10_000 */
  timeoutMs?: number;
  /** Largest reply frame accepted; a longer one gives `ResponseTooLargeError`. @default 4 MiB */
  maxResponseBytes?: number;
}

/** Whom to ask: a PeerId whose addresses the peer store knows, or the peer's multiaddrs. */
export type RequestTarget = PeerId | Multiaddr[];

/** What `request` needs of a libp2p node. */
export type Dialer = Pick<Libp2p, 'dial'>;

/**
 * Sends one request frame to `peer` on `protocol` and returns the one reply frame.
 *
 * Errors: `UnreachableError` (dial failed), `UnsupportedProtocolError`, `TimeoutError`,
 * `AbortedError`, `ResponseTooLargeError`, `StreamError` (reset or closed early); arguments
 * out of range give `InvalidArgumentError`. Nothing else escapes.
 */
export async function request(
  libp2p: Dialer,
  peer: RequestTarget,
  protocol: string,
  requestBytes: Uint8Array,
  options: RequestOptions = {},
): Promise<Uint8Array> {
  checkArguments(peer, protocol, requestBytes, options);
  const timeoutMs = options.timeoutMs ?? REQUEST_DEFAULTS.timeoutMs;
  const maxResponseBytes = options.maxResponseBytes ?? REQUEST_DEFAULTS.maxResponseBytes;
  const callerSignal = options.signal;
  if (callerSignal?.aborted) {
    throw new AbortedError('request aborted by the caller before it started', { cause: callerSignal.reason });
  }
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal == null ? deadline : AbortSignal.any([callerSignal, deadline]);
  // Whichever signal fired decides the error, whatever the library threw when it noticed.
  const aborted = (cause: unknown): TransportError | undefined => {
    if (callerSignal?.aborted) return new AbortedError('request aborted by the caller', { cause });
    if (deadline.aborted) {
      return new TimeoutError(timeoutMs, `${protocol}: no reply within ${timeoutMs} ms`, { cause });
    }
    return undefined;
  };

  const { stream } = await openStream(libp2p, peer, protocol, signal, aborted);
  try {
    const reply = await exchange(stream, requestBytes, maxResponseBytes, signal);
    void linger(stream);
    return reply;
  } catch (e) {
    stream.abort(e instanceof Error ? e : new Error(String(e)));
    throw aborted(e) ?? streamFailure(e, protocol, maxResponseBytes);
  }
}

/**
 * Dials `peer` (reusing a connection libp2p already has) and opens a stream of `protocol` on
 * it, turning failures into TransportErrors; `aborted` names a failure caused by a fired signal.
 */
export async function openStream(
  libp2p: Dialer,
  peer: RequestTarget,
  protocol: string,
  signal: AbortSignal,
  aborted: (cause: unknown) => TransportError | undefined,
): Promise<{ stream: Stream; connection: Connection }> {
  let connection: Connection;
  try {
    connection = await libp2p.dial(peer, { signal });
  } catch (e) {
    throw aborted(e) ?? new UnreachableError(`cannot dial ${describe(peer)}: ${message(e)}`, { cause: e });
  }
  try {
    return { stream: await connection.newStream(protocol, { signal }), connection };
  } catch (e) {
    const err = aborted(e);
    if (err != null) throw err;
    if (errorName(e) === 'UnsupportedProtocolError') {
      throw new UnsupportedProtocolError(protocol, `${describe(peer)} does not speak ${protocol}`, {
        cause: e,
      });
    }
    throw new StreamError(`${protocol}: cannot open a stream to ${describe(peer)}: ${message(e)}`, {
      cause: e,
    });
  }
}

async function exchange(
  stream: Stream,
  requestBytes: Uint8Array,
  maxResponseBytes: number,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const lp = lpStream(stream, {
    maxDataLength: maxResponseBytes,
    maxBufferSize: maxResponseBytes + MAX_PREFIX_BYTES,
  });
  // Read while writing: a server that answers before it has read everything (BUSY, too large)
  // and then resets still gets its answer through.
  const reading = lp.read({ signal });
  reading.catch(() => {});
  try {
    await lp.write(requestBytes, { signal });
    await stream.close({ signal });
  } catch {
    // A failed write means the stream closed or the signal fired; the read reports which,
    // and returns a reply that arrived before the failure.
  }
  return plainBytes((await reading).subarray());
}

/** The server closes its end right after its reply; reset the stream if it does not. */
async function linger(stream: Stream): Promise<void> {
  if (stream.status !== 'open') return;
  const closed = new Promise<void>((resolve) => {
    stream.addEventListener('close', () => resolve(), { once: true });
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), REQUEST_DEFAULTS.lingerMs);
    timer.unref?.();
  });
  const outcome = await Promise.race([closed, expired]);
  clearTimeout(timer);
  if (outcome === 'expired') stream.abort(new Error('server did not close the stream after its reply'));
}

function streamFailure(e: unknown, protocol: string, maxResponseBytes: number): TransportError {
  switch (errorName(e)) {
    case 'InvalidDataLengthError':
    case 'InvalidDataLengthLengthError':
    case 'StreamBufferError':
      return new ResponseTooLargeError(
        maxResponseBytes,
        `${protocol}: reply longer than ${maxResponseBytes} bytes`,
        { cause: e },
      );
    case 'UnexpectedEOFError':
      return new StreamError(`${protocol}: stream closed before a whole reply frame`, { cause: e });
    case 'StreamResetError':
      return new StreamError(`${protocol}: stream reset by the peer`, { cause: e });
    default:
      return new StreamError(`${protocol}: ${message(e)}`, { cause: e });
  }
}

export function checkArguments(
  peer: RequestTarget,
  protocol: string,
  requestBytes: Uint8Array,
  options: RequestOptions,
): void {
  if (Array.isArray(peer) && peer.length === 0) {
    throw new InvalidArgumentError('peer', 'expected a PeerId or at least one multiaddr');
  }
  if (typeof protocol !== 'string' || !protocol.startsWith('/')) {
    throw new InvalidArgumentError('protocol', 'expected a protocol id starting with "/"');
  }
  if (!(requestBytes instanceof Uint8Array)) {
    throw new InvalidArgumentError('requestBytes', 'expected a Uint8Array');
  }
  checkPositiveInteger('timeoutMs', options.timeoutMs);
  checkPositiveInteger('maxResponseBytes', options.maxResponseBytes);
}

function checkPositiveInteger(field: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
    throw new InvalidArgumentError(field, `expected a positive integer, got ${value}`);
  }
}

function describe(peer: RequestTarget): string {
  return Array.isArray(peer) ? peer.map((ma) => ma.toString()).join(',') : peer.toString();
}

export function errorName(e: unknown): string | undefined {
  return e instanceof Error ? e.name : undefined;
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
