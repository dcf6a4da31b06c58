import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { lpStream } from '@libp2p/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThreshLibp2p, type ThreshLibp2p } from '../src/transport/libp2p/index.js';
import { coalescedConnections } from '../src/transport/libp2p/tcp-coalesce.js';

// Every write a libp2p TCP socket makes in this file, by length. Noise frames are a 2-byte
// length and the ciphertext: written apart, the length goes out as a write of 2 bytes.
const ECHO = '/thresh-test/echo/1.0.0';
const writes: number[] = [];
const originalWrite = net.Socket.prototype.write;
const hosts: ThreshLibp2p[] = [];
let server: ThreshLibp2p;
let client: ThreshLibp2p;

beforeAll(async () => {
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    const chunk = args[0];
    if (chunk instanceof Uint8Array) writes.push(chunk.byteLength);
    return (originalWrite as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof net.Socket.prototype.write;
  server = await createThreshLibp2p({ privateKey: randomBytes(32) });
  client = await createThreshLibp2p({ privateKey: randomBytes(32) });
  hosts.push(server, client);
  await server.handle(ECHO, async (stream) => {
    const lp = lpStream(stream, { maxDataLength: 1024 * 1024 });
    await lp.write(await lp.read());
    await stream.close();
  });
});

afterAll(async () => {
  net.Socket.prototype.write = originalWrite;
  await Promise.all(hosts.map((h) => h.stop()));
});

async function echo(payload: Uint8Array): Promise<Uint8Array> {
  const stream = await client.dialProtocol(server.getMultiaddrs()[0], ECHO);
  const lp = lpStream(stream, { maxDataLength: 1024 * 1024 });
  await lp.write(payload);
  const back = (await lp.read()).subarray();
  await stream.close();
  return back;
}

describe('coalescing TCP transport', () => {
  it('writes each frame, handshake included, with one socket write, and the bytes arrive intact', async () => {
    const before = coalescedConnections();
    writes.length = 0;
    // small frames, and one larger than a Noise message (65,535 bytes): several frames at once
    for (const size of [1, 31, 500, 4096, 200_000]) {
      const payload = randomBytes(size);
      expect(Buffer.from(await echo(payload)).equals(payload)).toBe(true);
    }
    // both ends of the connection
    expect(coalescedConnections() - before).toBeGreaterThanOrEqual(2);
    expect(writes.length).toBeGreaterThan(10);
    expect(writes.filter((n) => n === 2)).toEqual([]);
  });
});
