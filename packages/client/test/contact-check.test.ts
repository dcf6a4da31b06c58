import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { skipRedundantContactPings } from '../src/transport/libp2p/contact-check.js';
import { createThreshLibp2p, dhtRoutingTableSize, type ThreshLibp2p } from '../src/transport/libp2p/index.js';

// kad-dht pings a peer before it adds it to its routing table; ours takes a peer that has just
// answered identify as verified. A server that does not answer pings shows which is which.
const PING = '/ipfs/ping/1.0.0';
const hosts: ThreshLibp2p[] = [];

async function host(clientMode: boolean, bootstrap: string[] = []): Promise<ThreshLibp2p> {
  const h = await createThreshLibp2p({
    privateKey: randomBytes(32),
    clientMode,
    bootstrap,
    initialQuerySelfInterval: 0,
  });
  hosts.push(h);
  return h;
}

afterAll(async () => {
  await Promise.allSettled(hosts.map((h) => h.stop()));
});

describe('routing-table contact check', () => {
  it('is installed on the kad-dht we ship', async () => {
    expect(skipRedundantContactPings(await host(true))).toBe(true);
  });

  it('adds a peer that has just answered identify, though it answers no ping', async () => {
    const server = await host(false);
    await server.unhandle(PING);
    const client = await host(true, [server.getMultiaddrs()[0].toString()]);
    await expect(
      client.services.ping.ping(server.peerId, { signal: AbortSignal.timeout(5_000) }),
    ).rejects.toThrow();
    await vi.waitFor(() => expect(dhtRoutingTableSize(client)).toBe(1), { timeout: 10_000, interval: 50 });
  });

  it('still pings a peer it has not identified lately: one that answers none stays out', async () => {
    const server = await host(false);
    await server.unhandle(PING);
    const client = await host(true, [server.getMultiaddrs()[0].toString()]);
    const dht = client.services.dht as unknown as {
      routingTable: { add(p: unknown): Promise<void>; size: number };
    };
    await vi.waitFor(() => expect(dhtRoutingTableSize(client)).toBe(1), { timeout: 10_000, interval: 50 });
    // a peer known only by id, never identified here: kad-dht's own ping decides, and fails
    const stranger = await host(false);
    await stranger.unhandle(PING);
    await client.peerStore.merge(stranger.peerId, { multiaddrs: stranger.getMultiaddrs() });
    await dht.routingTable.add(stranger.peerId);
    expect(dht.routingTable.size).toBe(1);
  });
});
