/**
 * What the client needs of a network (DESIGN.md "Packages": client): find the nodes closest
 * to a key, send one request to one node and read its one reply, and put/get signed DHT
 * values. Small on purpose, so that it can be implemented over libp2p (here) and over a
 * node's HTTP gateway routes later. Bytes in, bytes out: encoding, verification and node
 * choice stay in the client.
 */

import { publicKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId } from '@libp2p/interface';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { sha256 } from '@noble/hashes/sha2.js';
import type { RequestProtocolName } from '@thresh/protocol';
import { threshDhtNamespaces } from './dht-records.js';
import { getClosestPeers, getRecord, putRecord } from './transport/libp2p/dht.js';
import { createThreshLibp2p, type ThreshLibp2p } from './transport/libp2p/host.js';
import { SessionPool } from './transport/libp2p/session.js';

/** A node to talk to: its libp2p PeerId (text form) and multiaddrs (may be empty: look it up). */
export interface PeerInfo {
  id: string;
  addrs: string[];
}

export interface ClosestNodesOptions {
  /**
   * The caller is content with the peers this host already knows when it knows at least this
   * many (a libp2p host's own kad routing table), instead of a lookup over the network.
   */
  localEnough?: number;
}

export interface Transport {
  /** Up to `count` nodes closest to `key` in the DHT (kad distance of the key's hash). */
  closestNodes(
    key: Uint8Array,
    count: number,
    signal?: AbortSignal,
    options?: ClosestNodesOptions,
  ): Promise<PeerInfo[]>;
  /**
   * One request frame to `peer` on protocol `protocol`, its one reply frame back. Rejects with
   * a TransportError (UnreachableError, TimeoutError, AbortedError, ...) when there is no reply.
   */
  call(
    peer: PeerInfo,
    protocol: RequestProtocolName,
    requestBytes: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array>;
  /** Stores a signed DHT value (wire/dht-record.ts) under its key; resolves with how many peers took it. */
  putRecord(key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<{ accepted: number }>;
  /** The newest valid value under `key`, or undefined. */
  getRecord(key: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  /**
   * Where node `nodeId` (its 33-byte signing key, which is also its libp2p key) can be reached,
   * if this transport already knows without asking the network (a libp2p host's open
   * connection to it); else undefined. Optional: the client falls back to the node's record in
   * the DHT.
   */
  knownPeer?(nodeId: Uint8Array): Promise<PeerInfo | undefined>;
  /** Releases the transport's resources (a libp2p host it created). */
  close?(): Promise<void>;
}

export interface Libp2pTransportInit {
  /** Bootstrap multiaddrs of thresh nodes (with /p2p/<PeerId>). */
  bootstrap: string[];
  /** 32 bytes of secp256k1 private key for the client's PeerId. @default random (a fresh PeerId per run) */
  privateKey?: Uint8Array;
  /** Deadline of one DHT query in ms. @default 15_000 */
  dhtTimeoutMs?: number;
  /** Unix seconds, for the DHT record validators. */
  now?: () => number;
}

/**
 * The Transport on a client-mode libp2p host (kad-dht client in thresh's namespace). Either
 * wraps a host the caller made (and does not stop it), or creates one with `create()` (and
 * stops it in `close()`).
 */
export class Libp2pTransport implements Transport {
  readonly #owned: boolean;
  readonly #dhtTimeoutMs: number;
  /** One long-lived session stream per node for every request (transport/libp2p/session.ts). */
  readonly #sessions: SessionPool;

  constructor(
    readonly host: ThreshLibp2p,
    opts: { dhtTimeoutMs?: number; owned?: boolean } = {},
  ) {
    this.#owned = opts.owned ?? false;
    this.#dhtTimeoutMs = opts.dhtTimeoutMs ?? 15_000;
    this.#sessions = new SessionPool(host);
  }

  static async create(init: Libp2pTransportInit): Promise<Libp2pTransport> {
    const host = await createThreshLibp2p({
      privateKey: init.privateKey ?? crypto.getRandomValues(new Uint8Array(32)),
      clientMode: true,
      bootstrap: init.bootstrap,
      dhtNamespaces: threshDhtNamespaces(init.now),
      initialQuerySelfInterval: 0,
    });
    return new Libp2pTransport(host, { dhtTimeoutMs: init.dhtTimeoutMs, owned: true });
  }

  /**
   * The `count` peers closest to `key`: a kad lookup over the network (hundreds of ms: every
   * answer's peer ids cost kad-dht two secp256k1 point decompressions each). With
   * `localEnough`, from the host's own kad routing table instead when it already holds at least
   * that many peers.
   */
  async closestNodes(
    key: Uint8Array,
    count: number,
    signal?: AbortSignal,
    options: ClosestNodesOptions = {},
  ): Promise<PeerInfo[]> {
    const table = routingTableOf(this.host);
    if (options.localEnough !== undefined && table != null && table.size >= options.localEnough) {
      // no addresses: the dial finds them in the peer store, where the routing table's peers are
      return table.closestPeers(sha256(key), { count }).map((id) => ({ id: id.toString(), addrs: [] }));
    }
    const peers = await getClosestPeers(this.host, key, { signal, timeoutMs: this.#dhtTimeoutMs });
    return peers.slice(0, count).map((p) => ({ id: p.id.toString(), addrs: p.multiaddrs.map(String) }));
  }

  async call(
    peer: PeerInfo,
    protocol: RequestProtocolName,
    requestBytes: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    return this.#sessions.call(peer.id, () => target(peer), protocol, requestBytes, { signal });
  }

  /**
   * A node's PeerId is its signing key: when this host has an open connection to it, the
   * addresses of that connection, with no DHT lookup for its node record. Only a live
   * connection counts: the peer store also keeps addresses a restarted node no longer listens
   * on (the fault tests caught a reader dialling such an address), while its DHT record is
   * republished on every start. Noise authenticated the key when the connection opened.
   */
  async knownPeer(nodeId: Uint8Array): Promise<PeerInfo | undefined> {
    let id: PeerId;
    try {
      id = peerIdFromPublicKey(publicKeyFromRaw(nodeId));
    } catch {
      return undefined; // not a secp256k1 key
    }
    if (id.type !== 'secp256k1') return undefined;
    const open = this.host.getConnections(id).filter((c) => c.status === 'open');
    if (open.length === 0) return undefined;
    return { id: id.toString(), addrs: [...new Set(open.map((c) => c.remoteAddr.toString()))] };
  }

  async putRecord(key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<{ accepted: number }> {
    const r = await putRecord(this.host, key, value, { signal, timeoutMs: this.#dhtTimeoutMs });
    return { accepted: r.accepted.length };
  }

  async getRecord(key: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return getRecord(this.host, key, { signal, timeoutMs: this.#dhtTimeoutMs });
  }

  async close(): Promise<void> {
    await this.#sessions.close();
    if (this.#owned) await this.host.stop();
  }
}

type RoutingTable = { size: number; closestPeers(kadId: Uint8Array, o: { count: number }): PeerId[] };

function routingTableOf(host: ThreshLibp2p): RoutingTable | undefined {
  return (host.services.dht as unknown as { routingTable?: RoutingTable }).routingTable;
}

/** The peer's multiaddrs, each ending in its /p2p/ id; or its PeerId for the peer store. */
function target(peer: PeerInfo): Multiaddr[] | ReturnType<typeof peerIdFromString> {
  const addrs: Multiaddr[] = [];
  for (const a of peer.addrs) {
    try {
      const ma = multiaddr(a);
      const hasId = ma.getComponents().some((c) => c.name === 'p2p');
      addrs.push(hasId ? ma : ma.encapsulate(`/p2p/${peer.id}`));
    } catch {
      // an address we cannot parse is skipped; the others (or the peer store) may do
    }
  }
  return addrs.length > 0 ? addrs : peerIdFromString(peer.id);
}
