/**
 * The client side of the session protocol (@thresh/protocol wire/session.ts): one long-lived
 * stream per node, requests of every protocol sent on it as calls and answered out of order.
 * It saves libp2p's stream set-up on each request (multistream-select, a yamux stream opened
 * and closed: about 3 ms of CPU on each side, per request, on this project's machines), which
 * was most of a request's time on loopback.
 *
 * A pool keeps at most one session per peer, opens it on the first call and drops it when the
 * stream ends, on a malformed reply, or after `idleMs` without calls (shorter than the node's
 * own idle limit, so the client closes first and no call races a closing session). Calls of
 * one protocol in flight to one peer are capped at that protocol's `maxStreamsPerPeer`; more
 * wait their turn here rather than collect BUSY answers. A node that does not speak the
 * protocol is remembered, and its calls take the per-stream path (rpc.ts `request`).
 *
 * A call that times out may mean a slow node, or a connection that is dead without libp2p
 * knowing it yet (a cut link: TCP holds the bytes and backs off, and libp2p's connection monitor
 * pings only once a minute here). The pool then pings the node at once; when the ping goes
 * unanswered too, it aborts the connection, so the next call dials afresh instead of queueing
 * behind the dead one (after a partition heals, the old connection's next TCP retransmission
 * may be tens of seconds away).
 */
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { lpStream } from '@libp2p/utils';
import {
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  type RequestProtocolName,
  SESSION_LIMITS,
  SESSION_PROTOCOL_ID,
  SessionCall,
  SessionReply,
} from '@thresh/protocol';
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
import { type Dialer, errorName, message, openStream, type RequestTarget, request } from './rpc.js';

/** Defaults of {@link SessionPoolOptions}. */
export const SESSION_POOL_DEFAULTS = {
  /** A session with no call in flight for this long is closed (the node's limit is 60 s). */
  idleMs: 45_000,
  /** Deadline for dialling and opening a session stream. */
  openTimeoutMs: 10_000,
  /**
   * How long a peer that does not speak the session protocol is asked per stream before we try
   * again. Short: a node that has just started answers "unsupported" until its handlers are up.
   */
  fallbackMs: 60_000,
  /** How long the ping after a timed-out call may take before the connection is aborted. */
  probeTimeoutMs: 5_000,
} as const;

/** Asks whether `peer` still answers on the connection we have (libp2p's ping). */
export type SessionProbe = (peer: PeerId, signal: AbortSignal) => Promise<unknown>;

export interface SessionPoolOptions {
  /** @default SESSION_POOL_DEFAULTS.idleMs */
  idleMs?: number;
  /** @default SESSION_POOL_DEFAULTS.openTimeoutMs */
  openTimeoutMs?: number;
  /**
   * The check run after a call times out; when it fails, the session's connection is aborted.
   * @default the dialer's own ping service (`services.ping`), if it has one; else no check
   */
  probe?: SessionProbe;
  /** @default SESSION_POOL_DEFAULTS.probeTimeoutMs */
  probeTimeoutMs?: number;
}

/** A host with libp2p's ping service, as thresh's hosts have (host.ts). */
interface WithPing {
  services?: { ping?: { ping(peer: PeerId, options: { signal: AbortSignal }): Promise<number> } };
}

export interface SessionCallOptions {
  signal?: AbortSignal;
  /** @default the protocol's PROTOCOL_LIMITS timeoutMs */
  timeoutMs?: number;
}

/** Sessions to many peers, keyed by PeerId text. */
export class SessionPool {
  readonly #libp2p: Dialer;
  readonly #idleMs: number;
  readonly #openTimeoutMs: number;
  readonly #probe: SessionProbe | undefined;
  readonly #probeTimeoutMs: number;
  readonly #sessions = new Map<string, Promise<Session>>();
  /** Sessions whose connection is being checked after a timed-out call. */
  readonly #probing = new WeakSet<Session>();
  /** Peers that answered "unsupported protocol", with when to try a session again. */
  readonly #perStream = new Map<string, number>();
  #closed = false;

  constructor(libp2p: Dialer & WithPing, options: SessionPoolOptions = {}) {
    this.#libp2p = libp2p;
    this.#idleMs = options.idleMs ?? SESSION_POOL_DEFAULTS.idleMs;
    this.#openTimeoutMs = options.openTimeoutMs ?? SESSION_POOL_DEFAULTS.openTimeoutMs;
    const ping = libp2p.services?.ping;
    this.#probe = options.probe ?? (ping == null ? undefined : (peer, signal) => ping.ping(peer, { signal }));
    this.#probeTimeoutMs = options.probeTimeoutMs ?? SESSION_POOL_DEFAULTS.probeTimeoutMs;
  }

  /** Sessions open (or opening) now; for tests and status. */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * One request of `protocol` to the peer `peerId` (reachable at `target`: computed only when a
   * stream must be opened, since parsing a secp256k1 PeerId costs two point decompressions),
   * its reply frame back.
   * The same errors as rpc.ts `request`: UnreachableError, TimeoutError, AbortedError,
   * ResponseTooLargeError, StreamError, UnsupportedProtocolError.
   */
  async call(
    peerId: string,
    target: RequestTarget | (() => RequestTarget),
    protocol: RequestProtocolName,
    body: Uint8Array,
    options: SessionCallOptions = {},
  ): Promise<Uint8Array> {
    const limits = PROTOCOL_LIMITS[protocol];
    const to = (): RequestTarget => (typeof target === 'function' ? target() : target);
    const timeoutMs = options.timeoutMs ?? limits.timeoutMs;
    const callerSignal = options.signal;
    const perStreamUntil = this.#perStream.get(peerId);
    if (
      this.#closed ||
      body.length > SESSION_LIMITS.maxCallBodyBytes ||
      (perStreamUntil != null && perStreamUntil > Date.now())
    ) {
      return request(this.#libp2p, to(), PROTOCOL_IDS[protocol], body, {
        signal: callerSignal,
        timeoutMs,
        maxResponseBytes: limits.maxResponseBytes,
      });
    }
    if (callerSignal?.aborted) {
      throw new AbortedError('request aborted by the caller before it started', {
        cause: callerSignal.reason,
      });
    }
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = callerSignal == null ? deadline : AbortSignal.any([callerSignal, deadline]);
    const aborted = (cause: unknown): TransportError | undefined => {
      if (callerSignal?.aborted) return new AbortedError('request aborted by the caller', { cause });
      if (deadline.aborted) {
        return new TimeoutError(timeoutMs, `${PROTOCOL_IDS[protocol]}: no reply within ${timeoutMs} ms`, {
          cause,
        });
      }
      return undefined;
    };

    const started = performance.now();
    const attempt = async (again: boolean): Promise<Uint8Array> => {
      let session: Session;
      try {
        session = await raceAbort(this.#session(peerId, to), signal);
      } catch (e) {
        if (e instanceof UnsupportedProtocolError) {
          this.#perStream.set(peerId, Date.now() + SESSION_POOL_DEFAULTS.fallbackMs);
          return request(this.#libp2p, to(), PROTOCOL_IDS[protocol], body, {
            signal: callerSignal,
            timeoutMs,
            maxResponseBytes: limits.maxResponseBytes,
          });
        }
        throw aborted(e) ?? e;
      }
      try {
        return await session.call(protocol, body, signal);
      } catch (e) {
        const err = aborted(e);
        // Given up for want of a reply in time: our deadline, or the caller's (the client passes
        // its store and re-encrypt deadlines as signals: AbortSignal.timeout's reason is a
        // TimeoutError). Not when the caller cancelled for its own reasons.
        if (deadline.aborted || (err != null && errorName(callerSignal?.reason) === 'TimeoutError')) {
          this.#check(session);
        }
        if (err != null) throw err;
        // The session died of a timeout below us (a cut link: libp2p gave up on the connection):
        // for the caller that is this request timing out, as it would on a stream of its own.
        if (e instanceof StreamError && causedByTimeout(e)) {
          throw new TimeoutError(timeoutMs, `${PROTOCOL_IDS[protocol]}: ${e.message}`, { cause: e });
        }
        // A session opened before this call started that ended under it (the peer closed the
        // connection: it stopped or died since) tells nothing of the peer now. A read goes once
        // more on a new session, whose dial does tell (unreachable, or an answer); a write is
        // not sent twice. A session opened for this call (or beside it) that ends is the answer.
        if (
          again &&
          session.openedAt < started &&
          RETRIED.has(protocol) &&
          e instanceof StreamError &&
          session.ended
        ) {
          return attempt(false);
        }
        throw e;
      }
    };
    return attempt(true);
  }

  /** Closes every session; later calls go per stream. */
  async close(): Promise<void> {
    this.#closed = true;
    const sessions = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.all(sessions.map((s) => s.then((x) => x.close()).catch(() => {})));
  }

  /**
   * After a call on `session` timed out: pings its node, and aborts the session's connection
   * when no answer comes in time. One check per session at a time.
   */
  #check(session: Session): void {
    const probe = this.#probe;
    if (probe == null || session.ended || this.#probing.has(session)) return;
    this.#probing.add(session);
    const connection = session.connection;
    probe(connection.remotePeer, AbortSignal.timeout(this.#probeTimeoutMs)).then(
      () => this.#probing.delete(session),
      (e: unknown) => {
        this.#probing.delete(session);
        // A node that answers "unsupported protocol" is there; anything else, the link is not.
        if (errorName(e) === 'UnsupportedProtocolError' || session.ended) return;
        connection.abort(
          new Error(`no answer to a ping after a timed-out call: ${message(e)}`, { cause: e }),
        );
      },
    );
  }

  #session(peerId: string, target: () => RequestTarget): Promise<Session> {
    let session = this.#sessions.get(peerId);
    if (session == null) {
      const opening = this.#open(peerId, target);
      session = opening;
      this.#sessions.set(peerId, opening);
      opening.catch(() => {
        if (this.#sessions.get(peerId) === opening) this.#sessions.delete(peerId);
      });
    }
    return session;
  }

  async #open(peerId: string, target: () => RequestTarget): Promise<Session> {
    // The session outlives the call that opens it, so its own deadline, not the caller's signal.
    const deadline = AbortSignal.timeout(this.#openTimeoutMs);
    const timedOut = (cause: unknown): TransportError | undefined =>
      deadline.aborted
        ? new TimeoutError(
            this.#openTimeoutMs,
            `no session with ${peerId} within ${this.#openTimeoutMs} ms`,
            {
              cause,
            },
          )
        : undefined;
    const to = target();
    let opened: { stream: Stream; connection: Connection };
    try {
      opened = await openStream(this.#libp2p, to, SESSION_PROTOCOL_ID, deadline, timedOut);
    } catch (e) {
      // The addresses we were given may be stale (a node restarted on another port, its new
      // record not yet in the DHT): libp2p's peer store may know newer ones, learned from kad
      // answers. One more try by PeerId alone lets it use them.
      if (!(e instanceof UnreachableError) || !Array.isArray(to)) throw e;
      opened = await openStream(
        this.#libp2p,
        peerIdFromString(peerId),
        SESSION_PROTOCOL_ID,
        deadline,
        timedOut,
      );
    }
    const session = new Session(opened.stream, opened.connection, peerId, this.#idleMs, () => {
      const current = this.#sessions.get(peerId);
      void current?.then(
        (s) => {
          if (s === session && this.#sessions.get(peerId) === current) this.#sessions.delete(peerId);
        },
        () => {}, // a newer session that failed to open is dropped by #session itself
      );
    });
    if (this.#closed) session.close();
    return session;
  }
}

interface Pending {
  resolve(body: Uint8Array): void;
  reject(e: unknown): void;
  maxResponseBytes: number;
}

/** The requests that only read: safe to send again when the session under them ended. */
const RETRIED: ReadonlySet<RequestProtocolName> = new Set<RequestProtocolName>(['reencrypt', 'nodeRecord']);

/** One session stream: calls out, replies matched back by id. */
class Session {
  readonly #stream: Stream;
  readonly #lp: ReturnType<typeof lpStream>;
  readonly #pending = new Map<number, Pending>();
  /** Calls in flight per protocol, and the calls waiting for a slot. */
  readonly #running = new Map<RequestProtocolName, number>();
  readonly #waiting = new Map<RequestProtocolName, Array<() => void>>();
  #nextId = 1;
  #ended: TransportError | undefined;
  /** When the session's stream was opened (performance.now()). */
  readonly openedAt = performance.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    stream: Stream,
    /** The connection the stream runs on. */
    readonly connection: Connection,
    private readonly peerId: string,
    private readonly idleMs: number,
    private readonly onEnd: () => void,
  ) {
    this.#stream = stream;
    this.#lp = lpStream(stream, {
      maxDataLength: SESSION_LIMITS.maxReplyBytes,
      maxBufferSize: SESSION_LIMITS.maxReplyBytes + 16,
    });
    this.#armIdle();
    void this.#readLoop();
  }

  async call(protocol: RequestProtocolName, body: Uint8Array, signal: AbortSignal): Promise<Uint8Array> {
    await this.#acquire(protocol, signal);
    try {
      if (this.#ended != null) throw this.#ended;
      const id = this.#nextId;
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
      const reply = new Promise<Uint8Array>((resolve, reject) => {
        this.#pending.set(id, {
          resolve,
          reject,
          maxResponseBytes: PROTOCOL_LIMITS[protocol].maxResponseBytes,
        });
      });
      // The session may end (rejecting this) while the call is still being written: the write's
      // own error is what the caller then gets, and this rejection must not go unhandled.
      reply.catch(() => {});
      clearTimeout(this.#idleTimer);
      try {
        // A write waiting for the peer's window does not fail when the stream is aborted under
        // it; the session's end (which rejects `reply`) ends the call then, not its deadline.
        const written = this.#lp.write(SessionCall.encode({ id, protocol, body }), { signal });
        written.catch(() => {});
        await Promise.race([written, reply]);
        return await raceAbort(reply, signal);
      } finally {
        this.#pending.delete(id);
        if (this.#pending.size === 0) this.#armIdle();
      }
    } catch (e) {
      if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError') && signal.aborted)
        throw e;
      if (this.#ended != null && e !== this.#ended) throw this.#ended;
      throw e instanceof StreamError || e instanceof ResponseTooLargeError
        ? e
        : new StreamError(`session with ${this.peerId}: ${message(e)}`, { cause: e });
    } finally {
      this.#release(protocol);
    }
  }

  /** Whether the session is over (closed, or its stream ended or failed). */
  get ended(): boolean {
    return this.#ended != null;
  }

  close(): void {
    this.#end(new StreamError(`session with ${this.peerId} closed`));
    void this.#stream
      .close({ signal: AbortSignal.timeout(2_000) })
      .catch(() => this.#stream.abort(new Error('close')));
  }

  async #acquire(protocol: RequestProtocolName, signal: AbortSignal): Promise<void> {
    const running = this.#running.get(protocol) ?? 0;
    if (running < PROTOCOL_LIMITS[protocol].maxStreamsPerPeer) {
      this.#running.set(protocol, running + 1);
      return;
    }
    const queue = this.#waiting.get(protocol) ?? [];
    this.#waiting.set(protocol, queue);
    await new Promise<void>((resolve, reject) => {
      const go = (): void => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = queue.indexOf(go);
        if (i >= 0) queue.splice(i, 1);
        reject(signal.reason);
      };
      queue.push(go);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Hands the slot to the next waiting call of `protocol`, or frees it. */
  #release(protocol: RequestProtocolName): void {
    const next = this.#waiting.get(protocol)?.shift();
    if (next != null) next();
    else this.#running.set(protocol, (this.#running.get(protocol) ?? 1) - 1);
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending.size === 0) this.close();
    }, this.idleMs);
    this.#idleTimer.unref?.();
  }

  async #readLoop(): Promise<void> {
    try {
      while (this.#ended == null) {
        const frame = await this.#lp.read();
        const reply = SessionReply.decode(frame.subarray());
        const pending = this.#pending.get(reply.id);
        if (pending == null) continue; // its caller gave up; the answer is dropped
        if (reply.body.length > pending.maxResponseBytes) {
          pending.reject(
            new ResponseTooLargeError(
              pending.maxResponseBytes,
              `reply longer than ${pending.maxResponseBytes} bytes`,
            ),
          );
        } else {
          pending.resolve(plainBytes(reply.body));
        }
      }
    } catch (e) {
      if (this.#ended != null) return;
      const why =
        e instanceof Error && e.name === 'InvalidDataLengthError'
          ? `reply frame over ${SESSION_LIMITS.maxReplyBytes} bytes`
          : message(e);
      this.#end(new StreamError(`session with ${this.peerId} ended: ${why}`, { cause: e }));
      this.#stream.abort(e instanceof Error ? e : new Error(String(e)));
    }
  }

  #end(err: TransportError): void {
    if (this.#ended != null) return;
    this.#ended = err;
    clearTimeout(this.#idleTimer);
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
    for (const queue of this.#waiting.values()) for (const go of queue.splice(0)) go();
    this.onEnd();
  }
}

/** `work`, or the signal's reason as soon as it fires. */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function causedByTimeout(e: unknown): boolean {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 4; c = c.cause, depth++) {
    if (c.name === 'TimeoutError') return true;
  }
  return false;
}
