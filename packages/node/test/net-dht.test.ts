import { randomBytes } from 'node:crypto';
import {
  createThreshLibp2p,
  type DhtNamespace,
  dhtKey,
  dhtRoutingTableSize,
  getClosestPeers,
  getRecord,
  putRecord,
  type ThreshLibp2p,
} from '@thresh/client';
import { InvalidArgumentError } from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

// Five DHT servers on 127.0.0.1 bootstrapped off the first, plus one DHT client, in the
// private '/thresh/kad/1.0.0' namespace. Every DHT call carries a deadline.
const NS = 'test';
const testNamespace: DhtNamespace = {
  validate(_key, value) {
    if (value[0] !== 0x01) throw new Error('test records start with 0x01');
  },
  // highest second byte wins, standing in for a record's sequence number
  select(_key, values) {
    let best = 0;
    values.forEach((v, i) => {
      if (v[1] > values[best][1]) best = i;
    });
    return best;
  },
};
const DEADLINE = { timeoutMs: 10_000 };

const servers: ThreshLibp2p[] = [];
let client: ThreshLibp2p;

async function host(clientMode: boolean, bootstrap: string[]): Promise<ThreshLibp2p> {
  const h = await createThreshLibp2p({
    privateKey: randomBytes(32),
    clientMode,
    bootstrap,
    initialQuerySelfInterval: 0,
    dhtNamespaces: { [NS]: testNamespace },
  });
  return h;
}

beforeAll(async () => {
  servers.push(await host(false, []));
  const boot = servers[0].getMultiaddrs().map(String);
  servers.push(...(await Promise.all([1, 2, 3, 4].map(() => host(false, boot)))));
  client = await host(true, boot);
  // Discovery: poll until every server knows at least two others (bounded by the hook timeout).
  await vi.waitFor(
    () => {
      for (const s of servers) expect(dhtRoutingTableSize(s)).toBeGreaterThanOrEqual(2);
      expect(dhtRoutingTableSize(client)).toBeGreaterThanOrEqual(1);
    },
    { timeout: 20_000, interval: 100 },
  );
});

afterAll(async () => {
  await Promise.allSettled([...servers, client].filter((h) => h != null).map((h) => h.stop()));
});

describe('kad-dht in the thresh namespace', () => {
  it('runs the DHT in server mode on nodes and client mode in the client', () => {
    for (const s of servers) {
      expect(s.services.dht.getMode()).toBe('server');
      expect(s.getProtocols()).toContain('/thresh/kad/1.0.0');
      expect(s.getProtocols()).not.toContain('/ipfs/kad/1.0.0');
    }
    expect(client.services.dht.getMode()).toBe('client');
    expect(client.peerId.type).toBe('secp256k1');
  });

  it('finds the closest peers to a key', async () => {
    const key = dhtKey(NS, randomBytes(32));
    const peers = await getClosestPeers(servers[2], key, DEADLINE);
    const ids = new Set(servers.map((s) => s.peerId.toString()));
    expect(peers.length).toBeGreaterThanOrEqual(1);
    for (const p of peers) expect(ids.has(p.id.toString())).toBe(true);
  });

  it('puts a valid record on one node and gets it from others', async () => {
    const key = dhtKey(NS, randomBytes(32));
    const value = Uint8Array.of(0x01, 5, ...randomBytes(16));
    const result = await putRecord(servers[1], key, value, DEADLINE);
    expect(result.accepted.length).toBeGreaterThanOrEqual(1);
    expect(result.failed).toHaveLength(0);
    expect(await getRecord(servers[4], key, DEADLINE)).toEqual(value);
    expect(await getRecord(client, key, DEADLINE)).toEqual(value);
  });

  it('never returns a value the validator rejects', async () => {
    const key = dhtKey(NS, randomBytes(32));
    const bad = Uint8Array.of(0x02, 1, 2, 3);
    // our helper refuses to publish it at all
    await expect(putRecord(servers[1], key, bad, DEADLINE)).rejects.toThrow(InvalidArgumentError);
    // kad-dht's raw put stores it locally unchecked and peers refuse it without an error
    for await (const _ of servers[1].services.dht.put(key, bad, { signal: AbortSignal.timeout(10_000) })) {
      // drain
    }
    expect(await getRecord(servers[3], key, DEADLINE)).toBeUndefined();
    expect(await getRecord(servers[1], key, DEADLINE)).toBeUndefined();
  });

  it('a new client asked at once waits for its first peer, then finds the record and peers', async () => {
    const key = dhtKey(NS, randomBytes(32));
    expect(
      (await putRecord(servers[2], key, Uint8Array.of(0x01, 3), DEADLINE)).accepted.length,
    ).toBeGreaterThan(0);
    // started and asked in the same breath: its routing table is still empty
    const fresh = await host(
      true,
      servers.slice(0, 2).map((s) => s.getMultiaddrs()[0].toString()),
    );
    try {
      expect(dhtRoutingTableSize(fresh)).toBe(0);
      const got = await getRecord(fresh, key, DEADLINE);
      expect(got === undefined ? undefined : [...got]).toEqual([0x01, 3]);
      expect((await getClosestPeers(fresh, key, DEADLINE)).length).toBeGreaterThanOrEqual(1);
    } finally {
      await fresh.stop();
    }
  });

  it('a client with no peer at all waits until its deadline, and never answers "nothing"', async () => {
    const lone = await host(true, []);
    try {
      const key = dhtKey(NS, randomBytes(32));
      await expect(getRecord(lone, key, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
      await expect(getClosestPeers(lone, key, { timeoutMs: 300 })).rejects.toMatchObject({
        code: 'ERR_TIMEOUT',
      });
      await expect(putRecord(lone, key, Uint8Array.of(0x01, 1), { timeoutMs: 300 })).rejects.toMatchObject({
        code: 'ERR_TIMEOUT',
      });
    } finally {
      await lone.stop();
    }
  });

  it('gives up at the deadline when the DHT cannot answer', async () => {
    const lone = await host(false, []);
    try {
      const key = dhtKey(NS, randomBytes(32));
      await expect(getRecord(lone, key, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
      const controller = new AbortController();
      const pending = getClosestPeers(lone, key, { signal: controller.signal });
      controller.abort();
      await expect(pending).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    } finally {
      await lone.stop();
    }
  });
});
