/**
 * The DHT helpers' lookups (transport/libp2p/dht.ts) against a fake kad-dht whose queries
 * answer and then hang, as a query does while it waits for a frozen peer: kad-dht yields a
 * get's VALUE and a lookup's FINAL_PEERs only when the whole query ends, so the helpers take
 * the answers as they arrive and end a quiet query with what it found.
 */

import { generateKeyPair } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { TimeoutError } from '../src/transport/errors.js';
import { type DhtHost, getClosestPeers, getRecord } from '../src/transport/libp2p/dht.js';

const KEY = new TextEncoder().encode('/ns/some-id');
const bytes = (s: string) => new TextEncoder().encode(s);

async function peer(): Promise<PeerId> {
  return peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
}

/** A query that yields `events`, then waits (a frozen peer) until its signal fires or `endAfterMs`. */
function query(events: Partial<QueryEvent>[], endAfterMs?: number) {
  return async function* (_key: Uint8Array, opts: { signal?: AbortSignal }): AsyncGenerator<QueryEvent> {
    for (const e of events) yield e as QueryEvent;
    await new Promise<void>((resolve, reject) => {
      const t = endAfterMs === undefined ? undefined : setTimeout(resolve, endAfterMs);
      opts.signal?.addEventListener('abort', () => {
        clearTimeout(t);
        reject(opts.signal?.reason);
      });
    });
  };
}

function host(dht: Partial<KadDHT>): DhtHost {
  return { services: { dht: { selectors: {}, ...dht } as unknown as KadDHT } };
}

describe('getRecord', () => {
  it('returns a value a peer answered once the query has been quiet for settleMs, not at its deadline', async () => {
    const from = await peer();
    const h = host({
      get: query([{ name: 'PEER_RESPONSE', from, record: { value: bytes('v1') } } as never]) as never,
    });
    // the deadline is far past the test's own timeout: only settling can end this in time
    const v = await getRecord(h, KEY, { timeoutMs: 600_000, settleMs: 100 });
    expect(new TextDecoder().decode(v)).toBe('v1');
  }, 30_000);

  it("picks among several answers with the namespace's selector", async () => {
    const [a, b] = [await peer(), await peer()];
    const h = host({
      get: query([
        { name: 'PEER_RESPONSE', from: a, record: { value: bytes('old') } } as never,
        { name: 'PEER_RESPONSE', from: b, record: { value: bytes('new') } } as never,
      ]) as never,
      selectors: {
        ns: (_k: Uint8Array, values: Uint8Array[]) => values.findIndex((x) => x[0] === 110),
      } as never,
    });
    expect(new TextDecoder().decode(await getRecord(h, KEY, { timeoutMs: 5_000, settleMs: 50 }))).toBe('new');
  });

  it('a complete query returns kad-dht own choice (its VALUE event)', async () => {
    const from = await peer();
    const h = host({
      get: query(
        [
          { name: 'PEER_RESPONSE', from, record: { value: bytes('answer') } } as never,
          { name: 'VALUE', from, value: bytes('chosen') } as never,
        ],
        0,
      ) as never,
    });
    expect(new TextDecoder().decode(await getRecord(h, KEY, { timeoutMs: 5_000, settleMs: 1_000 }))).toBe(
      'chosen',
    );
  });

  it('with no answer at all it waits for the deadline and says so', async () => {
    const h = host({ get: query([]) as never });
    await expect(getRecord(h, KEY, { timeoutMs: 200, settleMs: 50 })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('a query that ends without any value: undefined', async () => {
    const h = host({ get: query([], 0) as never });
    expect(await getRecord(h, KEY, { timeoutMs: 2_000, settleMs: 50 })).toBeUndefined();
  });
});

describe('getClosestPeers', () => {
  it('a quiet query returns the peers that answered, closest to the key first', async () => {
    const peers = await Promise.all([peer(), peer(), peer(), peer()]);
    const h = host({
      getClosestPeers: query(
        peers.map((from) => ({ name: 'PEER_RESPONSE', from, closer: [] }) as never),
      ) as never,
    });
    const found = await getClosestPeers(h, KEY, { timeoutMs: 600_000, settleMs: 100 });
    expect(found.map((p) => p.id.toString()).sort()).toEqual(peers.map((p) => p.toString()).sort());
    // ordered by XOR distance of SHA-256(peer id multihash) to SHA-256(key)
    const dist = async (id: PeerId) => {
      const k = new Uint8Array(await crypto.subtle.digest('SHA-256', KEY));
      const p = new Uint8Array(await crypto.subtle.digest('SHA-256', id.toMultihash().bytes));
      return Buffer.from(k.map((x, i) => x ^ p[i])).toString('hex');
    };
    const ds = await Promise.all(found.map((p) => dist(p.id)));
    expect([...ds].sort()).toEqual(ds);
  }, 30_000);

  it('a quiet query also returns the peers the answers named (with addresses), never the host itself', async () => {
    const [a, named, self] = [await peer(), await peer(), await peer()];
    const addr = multiaddr('/ip4/127.0.0.1/tcp/4001');
    const h = host({
      getClosestPeers: query([
        {
          name: 'PEER_RESPONSE',
          from: a,
          closer: [
            { id: named, multiaddrs: [addr] },
            { id: self, multiaddrs: [addr] },
          ],
        } as never,
      ]) as never,
    });
    h.peerId = self;
    const found = await getClosestPeers(h, KEY, { timeoutMs: 600_000, settleMs: 100 });
    expect(found.map((p) => p.id.toString()).sort()).toEqual([a.toString(), named.toString()].sort());
    expect(found.find((p) => p.id.equals(named))?.multiaddrs.map(String)).toEqual([addr.toString()]);
  }, 30_000);
});
