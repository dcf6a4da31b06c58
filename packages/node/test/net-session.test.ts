import { randomBytes } from 'node:crypto';
import { PING_PROTOCOL } from '@libp2p/ping';
import { lpStream } from '@libp2p/utils';
import { createThreshLibp2p, SessionPool, type ThreshLibp2p, TransportError } from '@thresh/client';
import {
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  SESSION_PROTOCOL_ID,
  SessionCall,
  SessionReply,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ServedProtocol, type ServeOutcome, serveProtocol } from '../src/net/serve.js';
import { type SessionServer, serveSessions } from '../src/net/session.js';
import { decoder, encoder, errorCode, Gate, onError, untilAborted } from './net-fixtures.js';

// Real libp2p hosts on 127.0.0.1: the node's serveSessions against the client's SessionPool.
// The session protocol carries calls of the real protocol names; the handlers here are stand-ins.

const hosts: ThreshLibp2p[] = [];
let server: ThreshLibp2p;
let client: ThreshLibp2p;
let plain: ThreshLibp2p; // serves the per-stream protocols only
let sessions: SessionServer;
let pool: SessionPool;
const outcomes: Array<{ protocol: string; outcome: ServeOutcome }> = [];
const gate = new Gate();

async function host(): Promise<ThreshLibp2p> {
  const h = await createThreshLibp2p({ privateKey: randomBytes(32) });
  hosts.push(h);
  return h;
}

async function serveAll(h: ThreshLibp2p): Promise<Map<string, ServedProtocol>> {
  const hooks = {
    onError,
    onOutcome: (protocol: string, outcome: ServeOutcome) => {
      outcomes.push({ protocol, outcome });
    },
  };
  const limits = {
    maxRequestBytes: 64 * 1024,
    timeoutMs: 2_000,
    maxConcurrentPerPeer: 8,
    maxConcurrentTotal: 64,
  };
  const routes = new Map<string, ServedProtocol>();
  // nodeRecord: echo; revoke: echo; reencrypt: waits for the gate; handoff: one per peer, gated;
  // storePolicy: its real size cap; status-like slow one: never answers (TIMEOUT at 300 ms)
  routes.set('nodeRecord', await serveProtocol(h, PROTOCOL_IDS.nodeRecord, async (r) => r, limits, hooks));
  routes.set('revoke', await serveProtocol(h, PROTOCOL_IDS.revoke, async (r) => r, limits, hooks));
  const gated = async (req: Uint8Array, { signal }: { signal: AbortSignal }) => {
    await Promise.race([gate.passed, untilAborted(signal)]);
    return req;
  };
  routes.set('reencrypt', await serveProtocol(h, PROTOCOL_IDS.reencrypt, gated, limits, hooks));
  routes.set(
    'handoff',
    await serveProtocol(h, PROTOCOL_IDS.handoff, gated, { ...limits, maxConcurrentPerPeer: 1 }, hooks),
  );
  routes.set(
    'storePolicy',
    await serveProtocol(
      h,
      PROTOCOL_IDS.storePolicy,
      async (_r, { signal }) => untilAborted(signal),
      { ...limits, maxRequestBytes: PROTOCOL_LIMITS.storePolicy.maxRequestBytes, timeoutMs: 300 },
      hooks,
    ),
  );
  return routes;
}

function sessionStreams(from: ThreshLibp2p, to: ThreshLibp2p): number {
  return from
    .getConnections(to.peerId)
    .flatMap((c) => c.streams)
    .filter((s) => s.protocol === SESSION_PROTOCOL_ID && s.status === 'open').length;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<TransportError> {
  const e = await p.then(
    () => expect.unreachable('call resolved'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TransportError);
  expect((e as TransportError).code).toBe(code);
  return e as TransportError;
}

/** A raw session stream, for what a well-behaved client never sends. */
async function rawSession() {
  const stream = await client.dialProtocol(server.peerId, SESSION_PROTOCOL_ID);
  const lp = lpStream(stream);
  return { stream, lp };
}

beforeAll(async () => {
  server = await host();
  client = await host();
  plain = await host();
  sessions = await serveSessions(server, await serveAll(server), { idleMs: 60_000 });
  await serveAll(plain);
  pool = new SessionPool(client);
});

afterAll(async () => {
  await pool.close();
  await Promise.allSettled(hosts.map((h) => h.stop()));
});

const at = (h: ThreshLibp2p) => h.getMultiaddrs();

describe('session protocol', () => {
  it('carries many calls of several protocols on one stream', async () => {
    const calls = Array.from({ length: 40 }, (_, i) =>
      pool.call(
        server.peerId.toString(),
        at(server),
        i % 2 ? 'nodeRecord' : 'revoke',
        encoder.encode(`call ${i}`),
      ),
    );
    const replies = await Promise.all(calls);
    expect(replies.map((r) => decoder.decode(r))).toEqual(calls.map((_, i) => `call ${i}`));
    expect(pool.size).toBe(1);
    expect(sessionStreams(client, server)).toBe(1);
  });

  it('answers out of order: a held call does not hold up the next', async () => {
    gate.close();
    const held = pool.call(server.peerId.toString(), at(server), 'reencrypt', encoder.encode('held'));
    const quick = await pool.call(
      server.peerId.toString(),
      at(server),
      'nodeRecord',
      encoder.encode('quick'),
    );
    expect(decoder.decode(quick)).toBe('quick');
    gate.open();
    expect(decoder.decode(await held)).toBe('held');
    expect(sessionStreams(client, server)).toBe(1);
  });

  it('queues calls past the protocol limit on the client instead of collecting BUSY', async () => {
    gate.close();
    const n = PROTOCOL_LIMITS.reencrypt.maxStreamsPerPeer * 3;
    const calls = Array.from({ length: n }, (_, i) =>
      pool.call(server.peerId.toString(), at(server), 'reencrypt', encoder.encode(`r${i}`)),
    );
    await new Promise((r) => setTimeout(r, 100));
    gate.open();
    const replies = await Promise.all(calls);
    expect(replies.map((r) => decoder.decode(r))).toEqual(calls.map((_, i) => `r${i}`));
  });

  it("applies each protocol's own limits: BUSY, TOO_LARGE, TIMEOUT, and keeps the session", async () => {
    gate.close();
    const peer = server.peerId.toString();
    // handoff is one call per peer on this server; the client allows 4, so the second hears BUSY
    const first = pool.call(peer, at(server), 'handoff', encoder.encode('h1'));
    await new Promise((r) => setTimeout(r, 50));
    expect(errorCode(await pool.call(peer, at(server), 'handoff', encoder.encode('h2')))).toBe('BUSY');
    gate.open();
    expect(decoder.decode(await first)).toBe('h1');
    const big = new Uint8Array(PROTOCOL_LIMITS.storePolicy.maxRequestBytes + 1);
    expect(errorCode(await pool.call(peer, at(server), 'storePolicy', big))).toBe('TOO_LARGE');
    expect(errorCode(await pool.call(peer, at(server), 'storePolicy', encoder.encode('x')))).toBe('TIMEOUT');
    expect(decoder.decode(await pool.call(peer, at(server), 'revoke', encoder.encode('still')))).toBe(
      'still',
    );
    expect(sessionStreams(client, server)).toBe(1);
    const seen = new Set(outcomes.map((o) => o.outcome));
    for (const o of ['ok', 'busy', 'too-large', 'timeout']) expect(seen).toContain(o);
  });

  it("ends with the caller's deadline or abort, typed, and the session lives on", async () => {
    gate.close();
    const peer = server.peerId.toString();
    const timedOut = await expectCode(
      pool.call(peer, at(server), 'reencrypt', encoder.encode('late'), { timeoutMs: 150 }),
      'ERR_TIMEOUT',
    );
    expect(timedOut.name).toBe('TimeoutError');
    const ctl = new AbortController();
    const aborted = pool.call(peer, at(server), 'reencrypt', encoder.encode('gone'), { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    await expectCode(aborted, 'ERR_ABORTED');
    gate.open();
    expect(decoder.decode(await pool.call(peer, at(server), 'nodeRecord', encoder.encode('ok')))).toBe('ok');
  });

  it('resets a session that sends a malformed call, and serves the next one', async () => {
    const { stream, lp } = await rawSession();
    await lp.write(encoder.encode('not an envelope'));
    await expect(lp.read({ signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    expect(stream.status).not.toBe('open');

    const second = await rawSession();
    const call = SessionCall.encode({ id: 7, protocol: 'nodeRecord', body: encoder.encode('raw') });
    await second.lp.write(call);
    const reply = SessionReply.decode(
      (await second.lp.read({ signal: AbortSignal.timeout(5_000) })).subarray(),
    );
    expect(reply.id).toBe(7);
    expect(decoder.decode(reply.body)).toBe('raw');
    second.stream.abort(new Error('done'));
  });

  it('falls back to a stream per request for a node without the session protocol', async () => {
    const reply = await pool.call(plain.peerId.toString(), at(plain), 'nodeRecord', encoder.encode('plain'));
    expect(decoder.decode(reply)).toBe('plain');
    expect(sessionStreams(client, plain)).toBe(0);
    // remembered: the second call does not try again
    expect(
      decoder.decode(await pool.call(plain.peerId.toString(), at(plain), 'revoke', encoder.encode('p2'))),
    ).toBe('p2');
  });

  it('opens a new session when the node closed the old one', async () => {
    const idleServer = await host();
    await serveSessions(idleServer, await serveAll(idleServer), { idleMs: 200 });
    const peer = idleServer.peerId.toString();
    expect(decoder.decode(await pool.call(peer, at(idleServer), 'revoke', encoder.encode('a')))).toBe('a');
    await new Promise((r) => setTimeout(r, 600));
    expect(sessionStreams(client, idleServer)).toBe(0);
    expect(decoder.decode(await pool.call(peer, at(idleServer), 'revoke', encoder.encode('b')))).toBe('b');
  });

  /**
   * A new node host and pool with one session open, `count` calls of `protocol` in flight on it,
   * then the client hangs up (every stream of the connection dies, some calls mid-write).
   */
  async function cutUnderLoad(protocol: 'revoke' | 'nodeRecord', count: number) {
    const h = await host();
    await serveSessions(h, await serveAll(h));
    const fresh = new SessionPool(client);
    const peer = h.peerId.toString();
    const body = new Uint8Array(8 * 1024);
    expect((await fresh.call(peer, at(h), 'nodeRecord', body)).length).toBe(body.length);
    // settled from the start: some calls may fail (revoke's replies are over its 4 KiB limit)
    // before the cut, and a rejection with no handler yet is reported as unhandled
    const settled = Promise.allSettled(
      Array.from({ length: count }, () => fresh.call(peer, at(h), protocol, body)),
    );
    await new Promise((r) => setTimeout(r, 5));
    await client.hangUp(h.peerId);
    return { h, fresh, peer, body, settled: await settled };
  }

  it('a session cut under load fails its calls with typed errors; the next call opens a new one', async () => {
    // revoke: a write, not sent again on a new session when its session ends under it
    const { h, fresh, peer, settled } = await cutUnderLoad('revoke', 200);
    for (const r of settled) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TransportError);
    }
    expect(settled.some((r) => r.status === 'rejected')).toBe(true);
    expect((await fresh.call(peer, at(h), 'nodeRecord', encoder.encode('again'))).length).toBe(5);
    await fresh.close();
  });

  it('a read whose kept session ends under it goes once more on a new one: answered, or unreachable if the node is gone', async () => {
    const { h, fresh, peer, body, settled } = await cutUnderLoad('nodeRecord', 50);
    // the node is still there: every call is answered
    for (const r of settled) expect(r.status).toBe('fulfilled');
    // the node stops: a call on the session kept from before is unreachable, not a stream error
    expect((await fresh.call(peer, at(h), 'nodeRecord', body)).length).toBe(body.length);
    await h.stop();
    await expectCode(fresh.call(peer, at(h), 'nodeRecord', body), 'ERR_UNREACHABLE');
    await fresh.close();
  });

  it('a session cut while calls wait to be written fails them typed, nothing unhandled', async () => {
    // a peer that takes session streams and never reads them: writes wait for the window
    const deaf = await host();
    await deaf.handle(SESSION_PROTOCOL_ID, () => {});
    const fresh = new SessionPool(client);
    const big = new Uint8Array(200 * 1024);
    const calls = Array.from({ length: 4 }, () =>
      fresh.call(deaf.peerId.toString(), at(deaf), 'reencrypt', big),
    );
    await new Promise((r) => setTimeout(r, 200));
    await client.hangUp(deaf.peerId);
    for (const r of await Promise.allSettled(calls)) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TransportError);
    }
    await fresh.close();
  });

  /**
   * A call that times out on the client (the node answers storePolicy only after 300 ms): by the
   * pool's own deadline, or by a deadline signal of the caller's (as the client passes them).
   */
  async function timeOutOnce(fresh: SessionPool, h: ThreshLibp2p, by: 'timeoutMs' | 'signal' = 'timeoutMs') {
    const peer = h.peerId.toString();
    expect((await fresh.call(peer, at(h), 'nodeRecord', encoder.encode('hi'))).length).toBe(2);
    const [before] = client.getConnections(h.peerId);
    const call = (opts: { timeoutMs?: number; signal?: AbortSignal }) =>
      fresh.call(peer, at(h), 'storePolicy', encoder.encode('x'), opts);
    if (by === 'timeoutMs') await expectCode(call({ timeoutMs: 100 }), 'ERR_TIMEOUT');
    else await expectCode(call({ signal: AbortSignal.timeout(100) }), 'ERR_ABORTED');
    return { peer, before };
  }

  it('after a timed-out call, a connection whose node answers a ping is kept', async () => {
    const h = await host();
    await serveSessions(h, await serveAll(h));
    const pinged: string[] = [];
    const fresh = new SessionPool(client, {
      probe: async (p, signal) => {
        pinged.push(p.toString());
        return client.services.ping.ping(p, { signal });
      },
    });
    const { peer, before } = await timeOutOnce(fresh, h);
    await new Promise((r) => setTimeout(r, 500));
    expect(pinged).toEqual([peer]);
    expect(before.status).toBe('open');
    expect((await fresh.call(peer, at(h), 'nodeRecord', encoder.encode('again'))).length).toBe(5);
    expect(client.getConnections(h.peerId).map((c) => c.id)).toEqual([before.id]);
    await fresh.close();
  });

  it.each(['timeoutMs', 'signal'] as const)(
    'after a call timed out (deadline by %s), a connection whose node does not answer a ping is aborted; the next call dials anew',
    async (by) => {
      const h = await host();
      await serveSessions(h, await serveAll(h));
      // the link looks dead: ping streams open, and nothing ever comes back on them
      await h.unhandle(PING_PROTOCOL);
      await h.handle(PING_PROTOCOL, () => {});
      const fresh = new SessionPool(client, { probeTimeoutMs: 300 });
      const { peer, before } = await timeOutOnce(fresh, h, by);
      for (let i = 0; i < 50 && before.status === 'open'; i++) await new Promise((r) => setTimeout(r, 100));
      expect(before.status).not.toBe('open');
      expect((await fresh.call(peer, at(h), 'nodeRecord', encoder.encode('again'))).length).toBe(5);
      expect(client.getConnections(h.peerId).map((c) => c.id)).not.toContain(before.id);
      await fresh.close();
    },
  );

  it('a call the caller cancels (not a deadline) does not make the pool ping', async () => {
    const h = await host();
    await serveSessions(h, await serveAll(h));
    const pinged: string[] = [];
    const fresh = new SessionPool(client, {
      probe: async (p) => {
        pinged.push(p.toString());
      },
    });
    const peer = h.peerId.toString();
    const cancel = new AbortController();
    const call = fresh.call(peer, at(h), 'storePolicy', encoder.encode('x'), { signal: cancel.signal });
    setTimeout(() => cancel.abort(new Error('enough answers')), 100);
    await expectCode(call, 'ERR_ABORTED');
    await timeOutOnce(fresh, h, 'signal');
    expect(pinged).toEqual([peer]);
    await fresh.close();
  });

  it('without a ping service and no probe given, a timed-out call leaves the connection alone', async () => {
    const h = await host();
    await serveSessions(h, await serveAll(h));
    await h.unhandle(PING_PROTOCOL);
    await h.handle(PING_PROTOCOL, () => {});
    const fresh = new SessionPool({ dial: client.dial.bind(client) });
    const { peer, before } = await timeOutOnce(fresh, h);
    await new Promise((r) => setTimeout(r, 500));
    expect(before.status).toBe('open');
    expect((await fresh.call(peer, at(h), 'nodeRecord', encoder.encode('again'))).length).toBe(5);
    await fresh.close();
  });

  it('on close, finishes the calls in flight, then the node answers per stream only', async () => {
    gate.close();
    const peer = server.peerId.toString();
    const inFlight = pool.call(peer, at(server), 'reencrypt', encoder.encode('last'));
    await new Promise((r) => setTimeout(r, 50));
    const closing = sessions.close();
    gate.open();
    expect(decoder.decode(await inFlight)).toBe('last');
    await closing;
    const fresh = new SessionPool(client);
    expect(decoder.decode(await fresh.call(peer, at(server), 'nodeRecord', encoder.encode('after')))).toBe(
      'after',
    );
    await fresh.close();
  });
});
