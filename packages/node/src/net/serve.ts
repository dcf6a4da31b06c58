/**
 * The server side of thresh's request/response protocols (DESIGN.md "Nodes", Protocols):
 * read one length-prefixed request frame, run the handler, write one reply frame, close.
 * Every stream is bounded (STYLE.md: size cap, deadline, per-peer and total concurrency) and
 * every failure the peer can still hear about gets an error frame built by the injected
 * `onError`, so the wire format stays the protocol package's business. A peer that sends
 * garbage, never sends, or resets costs its own stream and nothing else.
 */
import type { Connection, Libp2p, Logger, PeerId, Stream } from '@libp2p/interface';
import { InvalidArgumentError } from '@thresh/protocol';
import { raceSignal } from '../abort.js';
import { readFrame, writeFrame } from './frame.js';

/** Codes of the error frames this layer itself sends; handlers' own errors go through `mapError`. */
export type ServeErrorCode = 'BUSY' | 'TIMEOUT' | 'TOO_LARGE' | 'MALFORMED' | 'INTERNAL';

/** How one stream ended, for metrics. A reset or malformed stream counts as 'error'. */
export type ServeOutcome = 'ok' | 'error' | 'busy' | 'timeout' | 'too-large';

export interface ServeLimits {
  /** Largest request frame read; a longer one gets TOO_LARGE without being read. */
  maxRequestBytes: number;
  /** Deadline in ms for reading the request and running the handler; past it, TIMEOUT. */
  timeoutMs: number;
  /** Requests of one peer running at once; one more gets BUSY at once. */
  maxConcurrentPerPeer: number;
  /** Requests running at once on this protocol; one more gets BUSY at once. */
  maxConcurrentTotal: number;
}

export interface ServeContext {
  /** The authenticated remote peer (Noise proved it holds the key). */
  peerId: PeerId;
  /** Fires at the request's deadline; the handler must stop then (its slot is held until it does). */
  signal: AbortSignal;
}

export type ServeHandler = (request: Uint8Array, ctx: ServeContext) => Promise<Uint8Array>;

export interface ServeHooks {
  /** Builds the error reply frame for `code`; `message` is safe to send (no internals). */
  onError: (code: ServeErrorCode, message: string) => Uint8Array;
  /** Builds the reply for an error the handler threw, or undefined for a plain INTERNAL. */
  mapError?: (e: unknown) => Uint8Array | undefined;
  /** Called once per stream with its outcome and duration in ms. */
  onOutcome?: (protocol: string, outcome: ServeOutcome, ms: number) => void;
}

/** Defaults of {@link ServeOptions}. */
export const SERVE_DEFAULTS = {
  /** After the reply, how long the client may take to close its end before we reset. */
  lingerMs: 2_000,
  /** Floor of libp2p's per-connection stream limit for the protocol (see `maxInboundStreams`). */
  minInboundStreams: 64,
} as const;

export interface ServeOptions {
  /** @default SERVE_DEFAULTS.lingerMs */
  lingerMs?: number;
  /**
   * libp2p's own cap on open streams of the protocol per connection; past it libp2p resets
   * the stream without a reply. Kept above `maxConcurrentPerPeer` so that a peer over our limit
   * hears BUSY rather than a reset. @default max(64, 4 * maxConcurrentPerPeer)
   */
  maxInboundStreams?: number;
}

/** What serving needs of a libp2p node. */
export type ServeHost = Pick<Libp2p, 'handle' | 'unhandle' | 'logger'>;

/** A served protocol, as the session protocol (session.ts) calls it. */
export interface ServedProtocol {
  readonly protocol: string;
  /** The request frame cap of the protocol. */
  readonly maxRequestBytes: number;
  /**
   * Answers one request frame that arrived some other way than on its own stream (a session
   * call): the same limits, deadline, handler and error frames as a stream. Never rejects.
   */
  answer(request: Uint8Array, peerId: PeerId): Promise<{ frame: Uint8Array; outcome: ServeOutcome }>;
}

/**
 * Registers `handler` for `protocol` on `libp2p`. Throws if the protocol already has a
 * handler (libp2p's DuplicateProtocolHandlerError); `unserve` removes it.
 */
export async function serveProtocol(
  libp2p: ServeHost,
  protocol: string,
  handler: ServeHandler,
  limits: ServeLimits,
  hooks: ServeHooks,
  options: ServeOptions = {},
): Promise<ServedProtocol> {
  checkArguments(protocol, handler, limits, hooks, options);
  const server = new ProtocolServer(
    protocol,
    handler,
    limits,
    hooks,
    options.lingerMs ?? SERVE_DEFAULTS.lingerMs,
    libp2p.logger.forComponent(`thresh:serve:${protocol}`),
  );
  const maxInboundStreams =
    options.maxInboundStreams ?? Math.max(SERVE_DEFAULTS.minInboundStreams, 4 * limits.maxConcurrentPerPeer);
  await libp2p.handle(protocol, (stream, connection) => server.serve(stream, connection), {
    maxInboundStreams,
    // the node's own outbound requests on this protocol (handoff, gateway fan-out) share it
    maxOutboundStreams: maxInboundStreams,
  });
  return server;
}

/** Stops serving `protocol`; streams already accepted run to their end. */
export async function unserve(libp2p: ServeHost, protocol: string): Promise<void> {
  await libp2p.unhandle(protocol);
}

class ProtocolServer implements ServedProtocol {
  private total = 0;
  private readonly perPeer = new Map<string, number>();

  constructor(
    readonly protocol: string,
    private readonly handler: ServeHandler,
    private readonly limits: ServeLimits,
    private readonly hooks: ServeHooks,
    private readonly lingerMs: number,
    private readonly log: Logger,
  ) {}

  get maxRequestBytes(): number {
    return this.limits.maxRequestBytes;
  }

  /** Never rejects: libp2p would only reset the stream, and we have already answered. */
  async serve(stream: Stream, connection: Connection): Promise<void> {
    const started = performance.now();
    let outcome: ServeOutcome = 'error';
    try {
      outcome = await this.exchange(stream, connection.remotePeer);
    } catch (e) {
      this.log.error('stream from %p failed - %e', connection.remotePeer, e);
      stream.abort(asError(e));
    }
    this.reportOutcome(outcome, started);
    await closedWithin(stream, this.lingerMs);
  }

  async answer(request: Uint8Array, peerId: PeerId): Promise<{ frame: Uint8Array; outcome: ServeOutcome }> {
    const started = performance.now();
    let result: { frame: Uint8Array; outcome: ServeOutcome };
    if (request.length > this.limits.maxRequestBytes) {
      result = {
        frame: this.errorFrame('TOO_LARGE', `request frame over ${this.limits.maxRequestBytes} bytes`),
        outcome: 'too-large',
      };
    } else {
      const release = this.acquire(peerId);
      if (release == null) {
        result = {
          frame: this.errorFrame('BUSY', 'too many requests in flight, retry later'),
          outcome: 'busy',
        };
      } else {
        const deadline = AbortSignal.timeout(this.limits.timeoutMs);
        result = await this.run(request, peerId, deadline, release);
      }
    }
    this.reportOutcome(result.outcome, started);
    return result;
  }

  private reportOutcome(outcome: ServeOutcome, started: number): void {
    try {
      this.hooks.onOutcome?.(this.protocol, outcome, performance.now() - started);
    } catch (e) {
      this.log.error('onOutcome threw - %e', e);
    }
  }

  /** Takes one of the peer's request slots; undefined (BUSY) when the peer or the node is at its limit. */
  private acquire(peerId: PeerId): (() => void) | undefined {
    const peer = peerId.toString();
    const running = this.perPeer.get(peer) ?? 0;
    if (this.total >= this.limits.maxConcurrentTotal || running >= this.limits.maxConcurrentPerPeer) {
      return undefined;
    }
    this.total++;
    this.perPeer.set(peer, running + 1);
    let released = false;
    return (): void => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perPeer.get(peer) ?? 1) - 1;
      if (left === 0) this.perPeer.delete(peer);
      else this.perPeer.set(peer, left);
    };
  }

  private async exchange(stream: Stream, peerId: PeerId): Promise<ServeOutcome> {
    const release = this.acquire(peerId);
    if (release == null) {
      await this.reply(stream, this.errorFrame('BUSY', 'too many requests in flight, retry later'));
      return 'busy';
    }
    const deadline = AbortSignal.timeout(this.limits.timeoutMs);
    let request: Uint8Array;
    try {
      request = await readFrame(stream, this.limits.maxRequestBytes, deadline);
    } catch (e) {
      release();
      return this.readFailed(stream, deadline, e);
    }
    // One frame per stream: whatever follows it is dropped unread.
    await stream.closeRead();
    const { frame, outcome } = await this.run(request, peerId, deadline, release);
    await this.reply(stream, frame);
    return outcome;
  }

  /** Runs the handler under `deadline`; the slot (`release`) is the handler's until it settles. */
  private async run(
    request: Uint8Array,
    peerId: PeerId,
    deadline: AbortSignal,
    release: () => void,
  ): Promise<{ frame: Uint8Array; outcome: ServeOutcome }> {
    const work = Promise.resolve().then(() => this.handler(request, { peerId, signal: deadline }));
    // The slot is the handler's until it settles, so the limits bound real work, not replies.
    work.then(release, release);
    try {
      const frame = await raceSignal(work, deadline);
      if (!(frame instanceof Uint8Array)) throw new TypeError('handler returned no Uint8Array');
      return { frame, outcome: 'ok' };
    } catch (e) {
      if (deadline.aborted) {
        return {
          frame: this.errorFrame('TIMEOUT', `no answer within ${this.limits.timeoutMs} ms`),
          outcome: 'timeout',
        };
      }
      this.log('handler failed for %p - %e', peerId, e);
      return { frame: this.mapError(e), outcome: 'error' };
    }
  }

  private async readFailed(stream: Stream, deadline: AbortSignal, e: unknown): Promise<ServeOutcome> {
    if (deadline.aborted) {
      await this.reply(stream, this.errorFrame('TIMEOUT', 'no request frame before the deadline'));
      return 'timeout';
    }
    switch (asError(e).name) {
      case 'FrameTooLargeError':
        await this.reply(
          stream,
          this.errorFrame('TOO_LARGE', `request frame over ${this.limits.maxRequestBytes} bytes`),
        );
        return 'too-large';
      case 'FrameTruncatedError':
        await this.reply(stream, this.errorFrame('MALFORMED', 'stream ended inside the request frame'));
        return 'error';
      default:
        // reset: nobody is listening for an answer
        this.log('request from stream %s unreadable - %e', stream.id, e);
        stream.abort(asError(e));
        return 'error';
    }
  }

  /** Writes the one reply frame and closes our end (`serve` then waits for the peer's end). */
  private async reply(stream: Stream, frame: Uint8Array): Promise<void> {
    if (stream.readStatus === 'readable' || stream.readStatus === 'paused') await stream.closeRead();
    if (stream.writeStatus !== 'writable') return;
    const writeDeadline = AbortSignal.timeout(this.limits.timeoutMs);
    try {
      await writeFrame(stream, frame, writeDeadline);
      await stream.close({ signal: writeDeadline });
    } catch (e) {
      this.log('could not write the reply on stream %s - %e', stream.id, e);
      stream.abort(asError(e));
    }
  }

  private errorFrame(code: ServeErrorCode, message: string): Uint8Array {
    return this.hooks.onError(code, message);
  }

  private mapError(e: unknown): Uint8Array {
    try {
      const frame = this.hooks.mapError?.(e);
      if (frame instanceof Uint8Array) return frame;
    } catch (mapped) {
      this.log.error('mapError threw - %e', mapped);
    }
    return this.errorFrame('INTERNAL', 'internal error');
  }
}

/** Waits for the peer to close its end; resets the stream if it has not within `ms`. */
async function closedWithin(stream: Stream, ms: number): Promise<void> {
  if (stream.status !== 'open') return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const closed = await new Promise<boolean>((resolve) => {
    stream.addEventListener('close', () => resolve(true), { once: true });
    timer = setTimeout(() => resolve(false), ms);
  });
  clearTimeout(timer);
  if (!closed) stream.abort(new Error('peer did not close its end after the reply'));
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

function checkArguments(
  protocol: string,
  handler: ServeHandler,
  limits: ServeLimits,
  hooks: ServeHooks,
  options: ServeOptions,
): void {
  if (typeof protocol !== 'string' || !protocol.startsWith('/')) {
    throw new InvalidArgumentError('protocol', 'expected a protocol id starting with "/"');
  }
  if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'expected a function');
  if (typeof hooks?.onError !== 'function')
    throw new InvalidArgumentError('hooks.onError', 'expected a function');
  for (const field of [
    'maxRequestBytes',
    'timeoutMs',
    'maxConcurrentPerPeer',
    'maxConcurrentTotal',
  ] as const) {
    const value = limits?.[field];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new InvalidArgumentError(`limits.${field}`, `expected a positive integer, got ${value}`);
    }
  }
  for (const field of ['lingerMs', 'maxInboundStreams'] as const) {
    const value = options[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
      throw new InvalidArgumentError(`options.${field}`, `expected a positive integer, got ${value}`);
    }
  }
}
