/**
 * The node's side of the session protocol (@thresh/protocol wire/session.ts): read call frames
 * off one long-lived stream, hand each to its protocol's server (the same limits, deadline and
 * handler as a stream of that protocol: serve.ts `ServedProtocol.answer`), and write each reply
 * as it is ready. Calls run side by side; a slow one does not hold up the others.
 *
 * A frame that is not a call, or over the session's cap, resets the session: the peer loses
 * its own stream and nothing else. A session with no call for `idleMs` (and none in flight)
 * is closed.
 */
import type { Connection, Logger, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { SESSION_LIMITS, SESSION_PROTOCOL_ID, SessionCall, SessionReply } from '@thresh/protocol';
import type { ServedProtocol, ServeHost } from './serve.js';

export interface SessionServeOptions {
  /** @default SESSION_LIMITS.idleMs */
  idleMs?: number;
  /** Session streams one peer may hold on one connection. @default SESSION_LIMITS.maxSessionsPerPeer */
  maxSessionsPerPeer?: number;
}

export interface SessionServer {
  /**
   * Stops taking sessions and calls: each open session finishes the calls in flight, writes
   * their replies and closes (the per-stream protocols are stopped separately).
   */
  close(): Promise<void>;
}

/** Serves the session protocol over `routes` (protocol name, e.g. 'reencrypt', to its server). */
export async function serveSessions(
  libp2p: ServeHost,
  routes: ReadonlyMap<string, ServedProtocol>,
  options: SessionServeOptions = {},
): Promise<SessionServer> {
  const idleMs = options.idleMs ?? SESSION_LIMITS.idleMs;
  const log = libp2p.logger.forComponent('thresh:serve:session');
  const maxStreams = options.maxSessionsPerPeer ?? SESSION_LIMITS.maxSessionsPerPeer;
  const closing = new AbortController();
  const open = new Set<Promise<void>>();
  await libp2p.handle(
    SESSION_PROTOCOL_ID,
    (stream, connection) => {
      if (closing.signal.aborted) {
        stream.abort(new Error('the node is stopping'));
        return;
      }
      const session = serveSession(stream, connection, routes, idleMs, closing.signal, log);
      open.add(session);
      void session.finally(() => open.delete(session));
    },
    { maxInboundStreams: maxStreams, maxOutboundStreams: maxStreams },
  );
  return {
    async close() {
      closing.abort();
      await libp2p.unhandle(SESSION_PROTOCOL_ID).catch(() => {});
      await Promise.all(open);
    },
  };
}

async function serveSession(
  stream: Stream,
  connection: Connection,
  routes: ReadonlyMap<string, ServedProtocol>,
  idleMs: number,
  closing: AbortSignal,
  log: Logger,
): Promise<void> {
  const peer = connection.remotePeer;
  const lp = lpStream(stream, {
    maxDataLength: SESSION_LIMITS.maxCallBytes,
    maxBufferSize: SESSION_LIMITS.maxCallBytes + 16,
  });
  let inFlight = 0;
  let onDrained: (() => void) | undefined;
  const drained = (): Promise<void> =>
    inFlight === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onDrained = resolve));
  let writing: Promise<void> = Promise.resolve();
  // Replies are written one after the other: lpStream writes a frame in one send, but a write
  // that waits for the stream to drain must not let a later frame overtake it.
  const write = (frame: Uint8Array): Promise<void> => {
    writing = writing
      .then(() => lp.write(frame))
      .catch((e) => {
        log('cannot write a reply to %p - %e', peer, e);
        stream.abort(e instanceof Error ? e : new Error(String(e)));
      });
    return writing;
  };

  try {
    // One read outstanding at a time, kept across idle checks: the idle timer only decides
    // whether to give up waiting, it never interrupts a frame that is half read.
    let reading: Promise<{ frame: Uint8Array } | { error: unknown }> | undefined;
    while (stream.status === 'open') {
      reading ??= lp.read({ signal: closing }).then(
        (list) => ({ frame: list.subarray() }),
        (error: unknown) => ({ error }),
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<'idle'>((resolve) => {
        timer = setTimeout(() => resolve('idle'), idleMs);
      });
      const next = await Promise.race([reading, idle]);
      clearTimeout(timer);
      if (next === 'idle') {
        if (inFlight > 0) continue; // idle only when nothing is in flight either
        log('closing idle session of %p', peer);
        break;
      }
      reading = undefined;
      if ('error' in next) {
        const e = next.error;
        if (closing.aborted) break;
        if (stream.status === 'open' && stream.remoteWriteStatus === 'closed') break; // no more calls
        if (stream.status === 'open') {
          log('session of %p unreadable - %e', peer, e);
          stream.abort(e instanceof Error ? e : new Error(String(e)));
        }
        return;
      }
      const frame = next.frame;
      let call: SessionCall;
      try {
        call = SessionCall.decode(frame);
      } catch (e) {
        log('malformed session call from %p - %e', peer, e);
        stream.abort(new Error('malformed session call'));
        return;
      }
      const route = routes.get(call.protocol);
      if (route == null) {
        // the schema admits only known protocol names; a node serving fewer resets the session
        stream.abort(new Error(`protocol ${call.protocol} is not served`));
        return;
      }
      inFlight++;
      void route
        .answer(call.body, peer)
        .then(({ frame: body }) => write(SessionReply.encode({ id: call.id, body })))
        .catch((e) => {
          log.error('cannot answer a session call of %p - %e', peer, e);
          stream.abort(e instanceof Error ? e : new Error(String(e)));
        })
        .finally(() => {
          if (--inFlight === 0) onDrained?.();
        });
    }
    await drained();
    await writing;
    await stream.close({ signal: AbortSignal.timeout(5_000) });
  } catch (e) {
    log('session of %p ended - %e', peer, e);
    stream.abort(e instanceof Error ? e : new Error(String(e)));
  }
}
