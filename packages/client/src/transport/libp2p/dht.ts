/**
 * DHT helpers with the two things kad-dht leaves to the caller (DESIGN.md "Nodes": DHT
 * records): a deadline on every query (a lone node's query otherwise waits forever for a
 * first peer) and an honest put result (kad-dht's put does not throw when every peer
 * rejects the record).
 */
import type { PeerId, PeerInfo } from '@libp2p/interface';
import type { KadDHT } from '@libp2p/kad-dht';
import { InvalidArgumentError, selectNewest } from '@thresh/protocol';
import { AbortedError, DhtError, TimeoutError, type TransportError } from '../errors.js';
import { plainBytes } from './bytes.js';

/** Defaults of {@link DhtOptions}. */
export const DHT_DEFAULTS = {
  /** A 50-node cluster answers in well under a second; a lone node never does. */
  timeoutMs: 30_000,
} as const;

export interface DhtOptions {
  /** The caller's cancellation; firing it rejects with `AbortedError`. */
  signal?: AbortSignal;
  /** Deadline for the query in ms; past it, `TimeoutError`. @default 30_000 */
  timeoutMs?: number;
}

/** What a DHT helper needs: the host's kad-dht service. */
export interface DhtHost {
  services: { dht: KadDHT };
}

const encoder = new TextEncoder();

/**
 * The DHT key of record `id` in `namespace`: '/<namespace>/' then the id bytes. kad-dht reads
 * the namespace between the first two slashes to pick the validator and selector.
 */
export function dhtKey(namespace: string, id: Uint8Array): Uint8Array {
  if (!/^[a-z0-9][a-z0-9-]{0,31}$/.test(namespace)) {
    throw new InvalidArgumentError('namespace', 'expected a lowercase name without "/"');
  }
  if (!(id instanceof Uint8Array) || id.length === 0) {
    throw new InvalidArgumentError('id', 'expected a non-empty Uint8Array');
  }
  const prefix = encoder.encode(`/${namespace}/`);
  const key = new Uint8Array(prefix.length + id.length);
  key.set(prefix);
  key.set(id, prefix.length);
  return key;
}

export interface PutResult {
  /** Peers that stored the record and echoed it back. */
  accepted: PeerId[];
  /** Peers sent the record that rejected it, failed or did not answer. */
  failed: PeerId[];
}

/**
 * Stores `value` under `key` on the closest peers. The record is checked with the host's own
 * validator first (kad-dht stores it locally without checking); a record it rejects gives
 * `InvalidArgumentError` and is sent nowhere. Resolves with who accepted it: zero accepted is
 * not an error here, the caller decides how many it needs.
 */
export async function putRecord(
  host: DhtHost,
  key: Uint8Array,
  value: Uint8Array,
  options: DhtOptions = {},
): Promise<PutResult> {
  await validateLocally(host.services.dht, key, value);
  const accepted = new Map<string, PeerId>();
  const targets = new Map<string, PeerId>();
  const failed = new Set<string>();
  await withDeadline('put', options, async (signal) => {
    for await (const event of host.services.dht.put(key, value, { signal })) {
      if (event.name === 'FINAL_PEER') {
        targets.set(event.peer.id.toString(), event.peer.id);
      } else if (event.name === 'PEER_RESPONSE' && event.messageName === 'PUT_VALUE') {
        accepted.set(event.from.toString(), event.from);
      } else if (event.name === 'QUERY_ERROR' && targets.has(event.from.toString())) {
        // after a target's PUT_VALUE: it refused the record or answered with another one
        failed.add(event.from.toString());
      }
    }
  });
  for (const id of failed) accepted.delete(id);
  return {
    accepted: [...accepted.values()],
    failed: [...targets].filter(([id]) => !accepted.has(id)).map(([, peer]) => peer),
  };
}

/**
 * The best valid value under `key` (by the namespace's selector), or undefined if no peer,
 * and not this host, holds a valid one. Values failing the validator are dropped by kad-dht.
 */
export async function getRecord(
  host: DhtHost,
  key: Uint8Array,
  options: DhtOptions = {},
): Promise<Uint8Array | undefined> {
  const found: Uint8Array[] = [];
  try {
    return await withDeadline('get', options, async (signal) => {
      let best: Uint8Array | undefined;
      for await (const event of host.services.dht.get(key, { signal })) {
        if (event.name === 'VALUE') {
          best = plainBytes(event.value);
          found.push(best);
        }
      }
      return best; // kad-dht's last VALUE is the one its selector chose
    });
  } catch (e) {
    // A query that runs into its deadline keeps what it found: one frozen or slow peer must not
    // throw away valid values from the others (kad-dht validated each one). Newest wins.
    if (e instanceof TimeoutError && found.length > 0) return found[selectNewest(found)];
    throw e;
  }
}

/** The peers closest to `key` that answered, closest first as kad-dht reports them. */
export async function getClosestPeers(
  host: DhtHost,
  key: Uint8Array,
  options: DhtOptions = {},
): Promise<PeerInfo[]> {
  const peers: PeerInfo[] = [];
  try {
    return await withDeadline('getClosestPeers', options, async (signal) => {
      for await (const event of host.services.dht.getClosestPeers(key, { signal })) {
        if (event.name === 'FINAL_PEER') peers.push(event.peer);
      }
      return peers;
    });
  } catch (e) {
    // As in getRecord: the peers found before the deadline are still the closest known.
    if (e instanceof TimeoutError && peers.length > 0) return peers;
    throw e;
  }
}

async function validateLocally(dht: KadDHT, key: Uint8Array, value: Uint8Array): Promise<void> {
  const namespace = new TextDecoder().decode(key).split('/')[1] ?? '';
  const validate = dht.validators[namespace];
  if (validate == null) {
    throw new InvalidArgumentError('key', `no validator for DHT namespace "${namespace}"`);
  }
  try {
    await validate(key, value);
  } catch (e) {
    throw new InvalidArgumentError('value', `rejected by the "${namespace}" validator`, { cause: e });
  }
}

async function withDeadline<T>(
  operation: string,
  options: DhtOptions,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DHT_DEFAULTS.timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidArgumentError('timeoutMs', `expected a positive integer, got ${timeoutMs}`);
  }
  const callerSignal = options.signal;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal == null ? deadline : AbortSignal.any([callerSignal, deadline]);
  try {
    signal.throwIfAborted();
    return await run(signal);
  } catch (e) {
    let err: TransportError;
    if (callerSignal?.aborted) err = new AbortedError(`DHT ${operation} aborted by the caller`, { cause: e });
    else if (deadline.aborted) {
      err = new TimeoutError(timeoutMs, `DHT ${operation} did not finish within ${timeoutMs} ms`, {
        cause: e,
      });
    } else
      err = new DhtError(`DHT ${operation} failed: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    throw err;
  }
}
