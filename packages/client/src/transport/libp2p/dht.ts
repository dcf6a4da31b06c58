/**
 * DHT helpers with the things kad-dht leaves to the caller (DESIGN.md "Nodes": DHT records): a
 * deadline on every query (a lone node's query otherwise waits forever for a first peer), an
 * honest put result (kad-dht's put does not throw when every peer rejects the record), and
 * lookups that end once their results are in, however long a frozen peer keeps its query open
 * (kad-dht reports a get's value and a lookup's closest peers only when the whole query ends).
 */
import { setMaxListeners } from 'node:events';
import type { PeerId, PeerInfo } from '@libp2p/interface';
import type { KadDHT, QueryEvent } from '@libp2p/kad-dht';
import type { Multiaddr } from '@multiformats/multiaddr';
import { InvalidArgumentError, selectNewest } from '@thresh/protocol';
import { AbortedError, DhtError, TimeoutError, type TransportError } from '../errors.js';
import { plainBytes } from './bytes.js';

/** Defaults of {@link DhtOptions}. */
/**
 * kad-dht adds an abort listener to the query's signal for every peer it asks; in a cluster of
 * more than a few nodes that passes Node's default of 10 and prints a (false) leak warning.
 */
const KAD_LISTENERS = 1_000;

export const DHT_DEFAULTS = {
  /** A 50-node cluster answers in well under a second; a lone node never does. */
  timeoutMs: 30_000,
  /**
   * A lookup that has results ends after this long without news (no answer, no error, no new
   * peer asked): what is still outstanding then is a frozen or very slow peer.
   */
  settleMs: 1_000,
} as const;

export interface DhtOptions {
  /** The caller's cancellation; firing it rejects with `AbortedError`. */
  signal?: AbortSignal;
  /** Deadline for the query in ms; past it, `TimeoutError`. @default 30_000 */
  timeoutMs?: number;
  /**
   * getRecord and getClosestPeers: once they have a result, how long the query may go without
   * any event before it is ended with what it found. @default 1_000
   */
  settleMs?: number;
}

/** What a DHT helper needs: the host's kad-dht service. */
export interface DhtHost {
  services: { dht: KadDHT };
  /** The host's own id (left out of lookup results). */
  peerId?: PeerId;
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
 *
 * kad-dht's `get` yields its VALUE only when the whole query has ended, and a frozen peer (its
 * TCP connection open, never answering) keeps the query open for kad-dht's per-peer timeout:
 * so the values are taken from the peers' answers as they arrive (kad-dht verified each one
 * before passing it on; one that fails becomes a QUERY_ERROR). Once some are in and the query
 * has gone quiet for `settleMs`, or reaches its deadline, the best of them is the result.
 */
export async function getRecord(
  host: DhtHost,
  key: Uint8Array,
  options: DhtOptions = {},
): Promise<Uint8Array | undefined> {
  const dht = host.services.dht;
  const answers: Uint8Array[] = [];
  let best: Uint8Array | undefined;
  const ended = await lookup(
    'get',
    options,
    (signal) => dht.get(key, { signal }),
    (event) => {
      if (event.name === 'VALUE') best = plainBytes(event.value);
      else if (event.name === 'PEER_RESPONSE' && event.record != null) {
        answers.push(plainBytes(event.record.value));
      }
    },
    () => answers.length > 0 || best !== undefined,
  );
  // kad-dht's last VALUE is the one its selector chose, among the answers and our own copy
  if (ended === 'complete' || answers.length === 0) return best;
  return answers[await select(dht, key, answers)];
}

/**
 * The peers closest to `key` that answered, closest first. kad-dht yields them only when the
 * whole query has ended; when it is cut short (gone quiet for `settleMs`, or at its deadline),
 * the peers that answered so far and those they named, ordered by their kad distance to the key.
 */
export async function getClosestPeers(
  host: DhtHost,
  key: Uint8Array,
  options: DhtOptions = {},
): Promise<PeerInfo[]> {
  const final: PeerInfo[] = [];
  const answered = new Map<string, PeerId>();
  const learned = new Map<string, PeerId>();
  const addrs = new Map<string, Multiaddr[]>();
  const ended = await lookup(
    'getClosestPeers',
    options,
    (signal) => host.services.dht.getClosestPeers(key, { signal }),
    (event) => {
      if (event.name === 'FINAL_PEER') final.push(event.peer);
      else if (event.name === 'PEER_RESPONSE') {
        answered.set(event.from.toString(), event.from);
        for (const p of event.closer) {
          if (p.multiaddrs.length === 0) continue;
          addrs.set(p.id.toString(), p.multiaddrs);
          learned.set(p.id.toString(), p.id);
        }
      }
    },
    () => answered.size > 0,
  );
  if (ended === 'complete') return final;
  // Cut short: the peers that answered, and those they named (with addresses) that the query
  // had not reached yet: a busy network's answers come slowly, and every caller checks each peer
  // it uses anyway (node records are fetched from the peer itself).
  const self = host.peerId?.toString();
  const candidates = new Map([...learned, ...answered]);
  if (self) candidates.delete(self);
  const target = await kadId(key);
  const byDistance = await Promise.all(
    [...candidates.values()].map(async (id) => ({
      peer: { id, multiaddrs: addrs.get(id.toString()) ?? [] },
      distance: xor(target, await kadId(id.toMultihash().bytes)),
    })),
  );
  return byDistance.sort((a, b) => compareBytes(a.distance, b.distance)).map((x) => x.peer);
}

/**
 * Runs one kad-dht query, handing each event to `onEvent`, until it ends ('complete'); or, once
 * `found()` is true, until no event has come for `settleMs` ('settled') or the deadline passed
 * ('deadline'). Without a result by the deadline: `TimeoutError`; the caller's abort:
 * `AbortedError`; a failing query: `DhtError`.
 */
async function lookup(
  operation: string,
  options: DhtOptions,
  query: (signal: AbortSignal) => AsyncIterable<QueryEvent>,
  onEvent: (event: QueryEvent) => void,
  found: () => boolean,
): Promise<'complete' | 'settled' | 'deadline'> {
  const settleMs = options.settleMs ?? DHT_DEFAULTS.settleMs;
  if (!Number.isSafeInteger(settleMs) || settleMs <= 0) {
    throw new InvalidArgumentError('settleMs', `expected a positive integer, got ${settleMs}`);
  }
  const quiet = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (found()) quiet.abort();
    }, settleMs);
  };
  try {
    await withDeadline(
      operation,
      options,
      async (signal) => {
        rearm();
        const combined = AbortSignal.any([signal, quiet.signal]);
        setMaxListeners(KAD_LISTENERS, combined);
        for await (const event of query(combined)) {
          onEvent(event);
          if (quiet.signal.aborted) break;
          rearm();
        }
      },
      quiet.signal,
    );
    return quiet.signal.aborted ? 'settled' : 'complete';
  } catch (e) {
    if (quiet.signal.aborted) return 'settled';
    // A query that runs into its deadline keeps what it found: one frozen or slow peer must not
    // throw away what the others answered.
    if (e instanceof TimeoutError && found()) return 'deadline';
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** The index of the best of `values` by the namespace's selector (kad-dht's own choice). */
async function select(dht: KadDHT, key: Uint8Array, values: Uint8Array[]): Promise<number> {
  if (values.length === 1) return 0;
  const namespace = new TextDecoder().decode(key).split('/')[1] ?? '';
  const selector = dht.selectors[namespace];
  const i = selector == null ? selectNewest(values) : await selector(key, values);
  return Number.isSafeInteger(i) && i >= 0 && i < values.length ? i : 0;
}

/** kad-dht's position of a key or a peer id's multihash in the keyspace: its SHA-256. */
async function kadId(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ (b[i] ?? 0));
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
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
  ended?: AbortSignal,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DHT_DEFAULTS.timeoutMs;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidArgumentError('timeoutMs', `expected a positive integer, got ${timeoutMs}`);
  }
  const callerSignal = options.signal;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal == null ? deadline : AbortSignal.any([callerSignal, deadline]);
  setMaxListeners(KAD_LISTENERS, signal);
  try {
    signal.throwIfAborted();
    return await run(signal);
  } catch (e) {
    if (ended?.aborted) throw e; // cut short on purpose: the caller keeps what it found
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
