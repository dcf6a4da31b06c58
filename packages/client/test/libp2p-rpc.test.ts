import { randomBytes } from 'node:crypto';
import type { Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { InvalidArgumentError } from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransportError } from '../src/transport/errors.js';
import { createThreshLibp2p, request, type ThreshLibp2p } from '../src/transport/libp2p/index.js';

// Real libp2p hosts on 127.0.0.1; the server side is written by hand with lpStream so this
// file tests the client alone (the node's serveProtocol has its own tests).
const ECHO = '/thresh-test/echo/1.0.0';
const SIZED = '/thresh-test/sized/1.0.0'; // replies with as many bytes as the request's u32
const SILENT = '/thresh-test/silent/1.0.0'; // reads, never answers
const RESET = '/thresh-test/reset/1.0.0'; // reads, then resets
const CLOSE_EARLY = '/thresh-test/close-early/1.0.0'; // reads, closes without a reply
const TRUNCATED = '/thresh-test/truncated/1.0.0'; // announces 100 bytes, sends 10, closes
const MAX = 1024 * 1024;

let server: ThreshLibp2p;
let client: ThreshLibp2p;
let stopped: ThreshLibp2p;
const hosts: ThreshLibp2p[] = [];

async function host(): Promise<ThreshLibp2p> {
  const h = await createThreshLibp2p({ privateKey: randomBytes(32) });
  hosts.push(h);
  return h;
}

async function readRequest(stream: Stream): Promise<Uint8Array> {
  return (await lpStream(stream, { maxDataLength: 4 * MAX }).read()).subarray();
}

async function expectCode(p: Promise<unknown>, code: string): Promise<TransportError> {
  const e = await p.then(
    () => expect.unreachable('request resolved'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TransportError);
  expect((e as TransportError).code).toBe(code);
  return e as TransportError;
}

beforeAll(async () => {
  server = await host();
  client = await host();
  stopped = await host();
  // libp2p's default is 32 streams of one protocol per connection; past it, a reset
  await server.handle(
    ECHO,
    async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 4 * MAX });
      await lp.write(await lp.read());
      await stream.close();
    },
    { maxInboundStreams: 64 },
  );
  await server.handle(SIZED, async (stream) => {
    const lp = lpStream(stream);
    const req = (await lp.read()).subarray();
    const n = new DataView(req.buffer, req.byteOffset, req.byteLength).getUint32(0);
    await lp.write(new Uint8Array(n).fill(7));
    await stream.close();
  });
  await server.handle(SILENT, async (stream) => {
    await readRequest(stream);
  });
  await server.handle(RESET, async (stream) => {
    await readRequest(stream);
    stream.abort(new Error('server gives up'));
  });
  await server.handle(CLOSE_EARLY, async (stream) => {
    await readRequest(stream);
    await stream.close();
  });
  await server.handle(TRUNCATED, async (stream) => {
    await readRequest(stream);
    stream.send(Uint8Array.of(100, ...new Uint8Array(10)));
    await stream.close();
  });
});

afterAll(async () => {
  await Promise.allSettled(hosts.map((h) => h.stop()));
});

describe('request over libp2p', () => {
  it('round-trips a frame by multiaddr, then by PeerId', async () => {
    const payload = randomBytes(1000);
    const byAddr = await request(client, server.getMultiaddrs(), ECHO, payload);
    expect(Buffer.from(byAddr)).toEqual(payload);
    const byId = await request(client, server.peerId, ECHO, new Uint8Array(0));
    expect(byId).toEqual(new Uint8Array(0));
  });

  it('carries many concurrent requests on one connection', async () => {
    const payloads = Array.from({ length: 40 }, (_, i) => randomBytes(100 + i));
    const replies = await Promise.all(payloads.map((p) => request(client, server.peerId, ECHO, p)));
    replies.forEach((r, i) => {
      expect(Buffer.from(r)).toEqual(payloads[i]);
    });
  });

  it('accepts a reply of exactly maxResponseBytes and rejects one byte more', async () => {
    const size = (n: number) => {
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, n);
      return b;
    };
    const big = await request(client, server.peerId, SIZED, size(MAX), { maxResponseBytes: MAX });
    expect(big.length).toBe(MAX);
    const echoed = await request(client, server.peerId, ECHO, randomBytes(MAX - 4));
    expect(echoed.length).toBe(MAX - 4);
    await expectCode(
      request(client, server.peerId, SIZED, size(MAX + 1), { maxResponseBytes: MAX }),
      'ERR_RESPONSE_TOO_LARGE',
    );
    await expectCode(
      request(client, server.peerId, SIZED, size(3 * MAX), { maxResponseBytes: MAX }),
      'ERR_RESPONSE_TOO_LARGE',
    );
  });

  it('times out on a server that never answers', async () => {
    const started = Date.now();
    const e = await expectCode(
      request(client, server.peerId, SILENT, Uint8Array.of(1), { timeoutMs: 300 }),
      'ERR_TIMEOUT',
    );
    expect(e.name).toBe('TimeoutError');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stops when the caller's signal fires", async () => {
    const controller = new AbortController();
    const pending = request(client, server.peerId, SILENT, Uint8Array.of(1), { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user cancelled')), 50);
    await expectCode(pending, 'ERR_ABORTED');
    await expectCode(
      request(client, server.peerId, ECHO, Uint8Array.of(1), { signal: AbortSignal.abort() }),
      'ERR_ABORTED',
    );
  });

  it('reports a stopped node as unreachable', async () => {
    const addrs = stopped.getMultiaddrs();
    await stopped.stop();
    await expectCode(request(client, addrs, ECHO, Uint8Array.of(1), { timeoutMs: 5_000 }), 'ERR_UNREACHABLE');
  });

  it('reports a peer that does not speak the protocol', async () => {
    await expectCode(
      request(client, server.peerId, '/thresh-test/nobody/1.0.0', Uint8Array.of(1)),
      'ERR_UNSUPPORTED_PROTOCOL',
    );
  });

  it('reports resets, early closes and truncated replies as stream errors', async () => {
    await expectCode(request(client, server.peerId, RESET, Uint8Array.of(1)), 'ERR_STREAM');
    await expectCode(request(client, server.peerId, CLOSE_EARLY, Uint8Array.of(1)), 'ERR_STREAM');
    await expectCode(request(client, server.peerId, TRUNCATED, Uint8Array.of(1)), 'ERR_STREAM');
    // and the connection still serves the next request
    expect(await request(client, server.peerId, ECHO, Uint8Array.of(9))).toEqual(Uint8Array.of(9));
  });

  it('rejects bad arguments by name', async () => {
    await expect(request(client, [], ECHO, Uint8Array.of(1))).rejects.toThrow(InvalidArgumentError);
    await expect(request(client, server.peerId, 'echo', Uint8Array.of(1))).rejects.toThrow(/protocol/);
    await expect(request(client, server.peerId, ECHO, Uint8Array.of(1), { timeoutMs: 0 })).rejects.toThrow(
      /timeoutMs/,
    );
  });
});
