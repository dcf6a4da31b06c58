import { randomBytes } from 'node:crypto';
import { lpStream } from '@libp2p/utils';
import { createThreshLibp2p, request, type ThreshLibp2p, TransportError } from '@thresh/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ServeOutcome, serveProtocol, unserve } from '../src/net/serve.js';
import { decoder, encoder, errorCode, Gate, onError, untilAborted } from './net-fixtures.js';

// Real libp2p hosts on 127.0.0.1: the node's serveProtocol against the client's request().
const ECHO = '/thresh-test/echo/1.0.0';
const GATED = '/thresh-test/gated/1.0.0';
const SLOW = '/thresh-test/slow/1.0.0';
const THROWS = '/thresh-test/throws/1.0.0';
const PATIENT = '/thresh-test/patient/1.0.0';
const ONE_AT_A_TIME = '/thresh-test/one/1.0.0';
const MAX = 1024 * 1024;

class Refused extends Error {}

let server: ThreshLibp2p;
let client: ThreshLibp2p;
let other: ThreshLibp2p;
const hosts: ThreshLibp2p[] = [];
const outcomes: Array<{ protocol: string; outcome: ServeOutcome }> = [];
const gate = new Gate();
let entered: () => void = () => {};

async function host(): Promise<ThreshLibp2p> {
  const h = await createThreshLibp2p({ privateKey: randomBytes(32) });
  hosts.push(h);
  return h;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => expect.unreachable('request resolved'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TransportError);
  expect((e as TransportError).code).toBe(code);
}

/** A raw stream that misbehaves: `act` writes what it likes; returns the reply, if any. */
async function raw(protocol: string, act: (send: (b: Uint8Array) => void) => Promise<void> | void) {
  const stream = await client.dialProtocol(server.peerId, protocol);
  const lp = lpStream(stream);
  const reply = lp.read({ signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.subarray(),
    () => undefined,
  );
  await act((b) => stream.send(b));
  return { stream, reply };
}

beforeAll(async () => {
  server = await host();
  client = await host();
  other = await host();
  const hooks = {
    onError,
    mapError: (e: unknown) => (e instanceof Refused ? encoder.encode(`E:REFUSED:${e.message}`) : undefined),
    onOutcome: (protocol: string, outcome: ServeOutcome) => {
      outcomes.push({ protocol, outcome });
    },
  };
  const limits = { maxRequestBytes: MAX, timeoutMs: 2_000, maxConcurrentPerPeer: 8, maxConcurrentTotal: 64 };
  await serveProtocol(server, ECHO, async (req) => req, limits, hooks);
  await serveProtocol(
    server,
    GATED,
    async (req, { signal }) => {
      await Promise.race([gate.passed, untilAborted(signal)]);
      return req;
    },
    { ...limits, maxConcurrentPerPeer: 2 },
    hooks,
  );
  await serveProtocol(
    server,
    SLOW,
    async (_req, { signal }) => untilAborted(signal),
    { ...limits, timeoutMs: 300 },
    hooks,
  );
  await serveProtocol(
    server,
    THROWS,
    async (req) => {
      if (req[0] === 1) throw new Refused('not yours');
      throw new Error('secret internals');
    },
    limits,
    hooks,
  );
  await serveProtocol(server, PATIENT, async (_req, { signal }) => untilAborted(signal), limits, hooks);
  await serveProtocol(
    server,
    ONE_AT_A_TIME,
    async (req, { signal }) => {
      entered();
      await Promise.race([gate.passed, untilAborted(signal)]);
      return req;
    },
    { ...limits, maxConcurrentTotal: 1 },
    hooks,
  );
});

afterAll(async () => {
  await Promise.allSettled(hosts.map((h) => h.stop()));
});

describe('serveProtocol', () => {
  it('echoes, including frames at the cap and empty ones', async () => {
    const small = randomBytes(100);
    expect(Buffer.from(await request(client, server.getMultiaddrs(), ECHO, small))).toEqual(small);
    expect(await request(client, server.peerId, ECHO, new Uint8Array(0))).toEqual(new Uint8Array(0));
    // Buffer.equals: vitest's deep equality takes seconds on a MiB
    const atCap = randomBytes(MAX);
    expect(atCap.equals(await request(client, server.peerId, ECHO, atCap))).toBe(true);
  });

  it('answers an over-cap request with TOO_LARGE without reading it', async () => {
    for (const size of [MAX + 1, 3 * MAX]) {
      const reply = await request(client, server.peerId, ECHO, new Uint8Array(size));
      expect(errorCode(reply)).toBe('TOO_LARGE');
    }
    await vi.waitFor(() => expect(outcomes.filter((o) => o.outcome === 'too-large')).toHaveLength(2));
  });

  it('answers BUSY past the per-peer limit, and serves another peer meanwhile', async () => {
    gate.close();
    const pending = [1, 2, 3].map((i) => request(client, server.peerId, GATED, Uint8Array.of(i)));
    const busy = await Promise.race(pending);
    expect(errorCode(busy)).toBe('BUSY');
    const fromOther = request(other, server.getMultiaddrs(), GATED, Uint8Array.of(4));
    gate.open();
    const replies = await Promise.all([...pending, fromOther]);
    expect(replies.filter((r) => errorCode(r) === 'BUSY')).toHaveLength(1);
    expect(replies.filter((r) => r.length === 1).map((r) => r[0])).toHaveLength(3);
  });

  it('answers BUSY past the total limit, whichever peer asks', async () => {
    gate.close();
    const running = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const first = request(client, server.peerId, ONE_AT_A_TIME, Uint8Array.of(1));
    await running; // the first request holds the one slot
    expect(errorCode(await request(other, server.getMultiaddrs(), ONE_AT_A_TIME, Uint8Array.of(2)))).toBe(
      'BUSY',
    );
    gate.open();
    expect(await first).toEqual(Uint8Array.of(1));
  });

  it('answers TIMEOUT when the handler overruns', async () => {
    const reply = await request(client, server.peerId, SLOW, Uint8Array.of(1));
    expect(errorCode(reply)).toBe('TIMEOUT');
    await vi.waitFor(() =>
      expect(outcomes.some((o) => o.protocol === SLOW && o.outcome === 'timeout')).toBe(true),
    );
  });

  it('answers INTERNAL for a throw, or what mapError makes of it', async () => {
    const internal = await request(client, server.peerId, THROWS, Uint8Array.of(0));
    expect(decoder.decode(internal)).toBe('E:INTERNAL:internal error');
    const mapped = await request(client, server.peerId, THROWS, Uint8Array.of(1));
    expect(decoder.decode(mapped)).toBe('E:REFUSED:not yours');
  });

  it("gives the client ERR_TIMEOUT when its own deadline is shorter than the server's", async () => {
    await expectCode(
      request(client, server.peerId, PATIENT, Uint8Array.of(1), { timeoutMs: 200 }),
      'ERR_TIMEOUT',
    );
  });

  it('survives garbage, silence, truncation and resets, and serves the next caller', async () => {
    // a length prefix that never ends
    const endless = await raw(ECHO, (send) => send(new Uint8Array(12).fill(0xff)));
    expect(errorCode((await endless.reply)!)).toBe('TOO_LARGE');
    // a frame cut short
    const cut = await raw(ECHO, async (send) => {
      send(Uint8Array.of(50, 1, 2, 3));
    });
    await cut.stream.close();
    expect(errorCode((await cut.reply)!)).toBe('MALFORMED');
    // reset right away
    const reset = await raw(ECHO, () => {});
    reset.stream.abort(new Error('gone'));
    // silence: the server's deadline answers it
    const silent = await raw(SLOW, () => {});
    expect(errorCode((await silent.reply)!)).toBe('TIMEOUT');
    // garbage after a valid frame is ignored
    const trailing = await raw(ECHO, (send) => send(Uint8Array.of(1, 42, 0xff, 0xff, 0xff)));
    expect(new Uint8Array((await trailing.reply)!)).toEqual(Uint8Array.of(42));

    const payload = randomBytes(64);
    expect(Buffer.from(await request(client, server.peerId, ECHO, payload))).toEqual(payload);
    expect(Buffer.from(await request(other, server.getMultiaddrs(), ECHO, payload))).toEqual(payload);
  });

  it('reported every kind of outcome to onOutcome', async () => {
    await vi.waitFor(() => {
      const seen = new Set(outcomes.map((o) => o.outcome));
      expect([...seen].sort()).toEqual(['busy', 'error', 'ok', 'timeout', 'too-large']);
    });
  });

  it('stops serving after unserve', async () => {
    await unserve(server, THROWS);
    await expectCode(request(client, server.peerId, THROWS, Uint8Array.of(0)), 'ERR_UNSUPPORTED_PROTOCOL');
  });

  it('rejects bad limits by name', async () => {
    await expect(
      serveProtocol(
        server,
        '/x/1.0.0',
        async (r) => r,
        { maxRequestBytes: 0, timeoutMs: 1, maxConcurrentPerPeer: 1, maxConcurrentTotal: 1 },
        { onError },
      ),
    ).rejects.toThrow(/limits.maxRequestBytes/);
  });
});
