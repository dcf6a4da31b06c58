/**
 * The libp2p host thresh runs on, shared by the client library (DHT client) and the node
 * daemon (DHT server): TCP + Noise + Yamux, identify, ping, and kad-dht in thresh's private
 * protocol namespace (DESIGN.md "Nodes": Discovery). Everything configurable is in
 * {@link ThreshLibp2pInit}, defaulted once in {@link resolveInit}.
 *
 * Callers must load '@thresh/protocol/polyfill' before this module runs on Node 20.
 */
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import { type Identify, identify } from '@libp2p/identify';
import type { ComponentLogger, Libp2p } from '@libp2p/interface';
import {
  type KadDHT,
  kadDHT,
  passthroughMapper,
  type SelectFn,
  type SingleKadDHT,
  type ValidateFn,
} from '@libp2p/kad-dht';
import { type Ping, ping } from '@libp2p/ping';
import { multiaddr } from '@multiformats/multiaddr';
import { InvalidArgumentError } from '@thresh/protocol';
import type { Datastore } from 'interface-datastore';
import { createLibp2p } from 'libp2p';
import { BootstrapDialer } from './bootstrap.js';
import { skipRedundantContactPings } from './contact-check.js';
import { coalescingTcp } from './tcp-coalesce.js';

/** thresh's kad-dht protocol id: a private namespace, so thresh nodes never join the IPFS DHT. */
export const THRESH_DHT_PROTOCOL = '/thresh/kad/1.0.0';

/**
 * One record namespace of the DHT: keys are `/<namespace>/<id bytes>` (see `dhtKey`).
 * kad-dht looks the namespace up for every record it stores, serves or receives.
 */
export interface DhtNamespace {
  /** Throws (or rejects) if `value` is not a valid record for `key`. Runs on put, get and serve. */
  validate(key: Uint8Array, value: Uint8Array): void | Promise<void>;
  /**
   * Index of the best of several valid records for one key (the highest sequence, say). Peers
   * never run it on put; it only picks among the answers of a get.
   */
  select(key: Uint8Array, values: Uint8Array[]): number | Promise<number>;
}

/** Options of {@link createThreshLibp2p}. Only `privateKey` is required. */
export interface ThreshLibp2pInit {
  /**
   * The node's secp256k1 private key, 32 raw bytes; the PeerId derives from it. thresh nodes
   * pass their signing key (DESIGN.md "Roles": node); a client may pass a fresh random key.
   */
  privateKey: Uint8Array;
  /** Multiaddrs to listen on. @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[];
  /** Multiaddrs to announce instead of the listening ones (NAT, containers). @default [] */
  announce?: string[];
  /**
   * Multiaddrs (with /p2p/<PeerId>) dialled after start and again every `bootstrapRetryMs`
   * while the host has no connection. Our own address in the list is skipped. @default []
   */
  bootstrap?: string[];
  /** How often to retry the bootstrap list while unconnected, in ms; 0 disables. @default 5_000 */
  bootstrapRetryMs?: number;
  /**
   * DHT client mode: queries the DHT but does not serve it. The client library keeps the
   * default; the node daemon passes false. @default true
   */
  clientMode?: boolean;
  /** Our record namespaces and their validators/selectors; 'pk' and 'ipns' are reserved. @default {} */
  dhtNamespaces?: Record<string, DhtNamespace>;
  /** kad-dht protocol id. @default THRESH_DHT_PROTOCOL */
  dhtProtocol?: string;
  /**
   * Delay in ms before the first DHT self-query (which fills the routing table). Tests pass 0.
   * @default 1_000 (kad-dht's own default)
   */
  initialQuerySelfInterval?: number;
  /**
   * Extra networks exempt from the inbound rate limit and connection pruning, as multiaddrs
   * with a CIDR, e.g. '/ip4/10.0.0.0/ipcidr/8'. Loopback (127.0.0.0/8, ::1) is always allowed.
   * @default []
   */
  allow?: string[];
  /** Connections kept before pruning; a 50-node local cluster is a full mesh. @default 300 */
  maxConnections?: number;
  /**
   * New inbound connections accepted per second from one non-allow-listed host (libp2p's
   * default of 5 refuses parts of a cluster starting at once). @default 100
   */
  inboundConnectionThreshold?: number;
  /** Inbound connections allowed mid-handshake at once. @default 64 */
  maxIncomingPendingConnections?: number;
  /** Time for one dial, including the Noise and Yamux handshakes, in ms. @default 10_000 */
  dialTimeoutMs?: number;
  /**
   * How often libp2p's connection monitor pings each open connection (a new ping stream each
   * time; a connection whose ping fails is closed), in ms. libp2p's default of 10 s cost an idle
   * node in a 50-node cluster ~25 ms of CPU per second (40 connections, ~3 ms per stream on each
   * side); Yamux's own keep-alive still runs every 30 s. @default 60_000
   */
  connectionPingIntervalMs?: number;
  /** Start the host before returning. @default true */
  start?: boolean;
  /** libp2p's component logger; the node passes one that feeds its own logs. @default libp2p's */
  logger?: ComponentLogger;
  /**
   * libp2p's datastore (where kad-dht keeps the records it holds). The node passes its own so
   * its validator can compare a new value's sequence number with the one held.
   * @default an in-memory datastore
   */
  datastore?: Datastore;
}

/** The defaults of {@link ThreshLibp2pInit}, in one place. */
export const THRESH_LIBP2P_DEFAULTS = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  announce: [],
  bootstrap: [],
  bootstrapRetryMs: 5_000,
  clientMode: true,
  dhtNamespaces: {},
  dhtProtocol: THRESH_DHT_PROTOCOL,
  initialQuerySelfInterval: 1_000,
  allow: [],
  maxConnections: 300,
  inboundConnectionThreshold: 100,
  maxIncomingPendingConnections: 64,
  dialTimeoutMs: 10_000,
  connectionPingIntervalMs: 60_000,
  start: true,
} as const satisfies Omit<Required<ThreshLibp2pInit>, 'privateKey' | 'logger' | 'datastore'>;

/** Always exempt from the inbound rate limit: loopback clusters open many connections at once. */
const LOOPBACK_ALLOW = ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'];

/** Namespaces kad-dht itself uses; ours must not shadow them. */
const RESERVED_NAMESPACES = new Set(['pk', 'ipns']);
const NAMESPACE = /^[a-z0-9][a-z0-9-]{0,31}$/;

export type ResolvedThreshLibp2pInit = Omit<Required<ThreshLibp2pInit>, 'logger' | 'datastore'> &
  Pick<ThreshLibp2pInit, 'logger' | 'datastore'>;

/** Applies the defaults and checks every field, naming the one at fault. */
export function resolveInit(init: ThreshLibp2pInit): ResolvedThreshLibp2pInit {
  const d = THRESH_LIBP2P_DEFAULTS;
  if (!(init.privateKey instanceof Uint8Array) || init.privateKey.length !== 32) {
    throw new InvalidArgumentError('privateKey', 'expected 32 raw bytes of a secp256k1 private key');
  }
  const resolved: ResolvedThreshLibp2pInit = {
    privateKey: init.privateKey,
    listen: init.listen ?? [...d.listen],
    announce: init.announce ?? [...d.announce],
    bootstrap: init.bootstrap ?? [...d.bootstrap],
    bootstrapRetryMs: init.bootstrapRetryMs ?? d.bootstrapRetryMs,
    clientMode: init.clientMode ?? d.clientMode,
    dhtNamespaces: init.dhtNamespaces ?? { ...d.dhtNamespaces },
    dhtProtocol: init.dhtProtocol ?? d.dhtProtocol,
    initialQuerySelfInterval: init.initialQuerySelfInterval ?? d.initialQuerySelfInterval,
    allow: init.allow ?? [...d.allow],
    maxConnections: init.maxConnections ?? d.maxConnections,
    inboundConnectionThreshold: init.inboundConnectionThreshold ?? d.inboundConnectionThreshold,
    maxIncomingPendingConnections: init.maxIncomingPendingConnections ?? d.maxIncomingPendingConnections,
    dialTimeoutMs: init.dialTimeoutMs ?? d.dialTimeoutMs,
    connectionPingIntervalMs: init.connectionPingIntervalMs ?? d.connectionPingIntervalMs,
    start: init.start ?? d.start,
    logger: init.logger,
  };
  for (const field of ['listen', 'announce', 'bootstrap', 'allow'] as const) {
    resolved[field].forEach((addr, i) => {
      try {
        multiaddr(addr);
      } catch (e) {
        throw new InvalidArgumentError(`${field}[${i}]`, `not a multiaddr: ${addr}`, { cause: e });
      }
    });
  }
  for (const ns of Object.keys(resolved.dhtNamespaces)) {
    if (!NAMESPACE.test(ns) || RESERVED_NAMESPACES.has(ns)) {
      throw new InvalidArgumentError(`dhtNamespaces.${ns}`, 'expected a lowercase name, not pk or ipns');
    }
  }
  for (const field of [
    'maxConnections',
    'inboundConnectionThreshold',
    'maxIncomingPendingConnections',
    'dialTimeoutMs',
    'connectionPingIntervalMs',
  ] as const) {
    if (!Number.isSafeInteger(resolved[field]) || resolved[field] <= 0) {
      throw new InvalidArgumentError(field, `expected a positive integer, got ${resolved[field]}`);
    }
  }
  for (const field of ['bootstrapRetryMs', 'initialQuerySelfInterval'] as const) {
    if (!Number.isSafeInteger(resolved[field]) || resolved[field] < 0) {
      throw new InvalidArgumentError(field, `expected a non-negative integer, got ${resolved[field]}`);
    }
  }
  if (!resolved.dhtProtocol.startsWith('/')) {
    throw new InvalidArgumentError('dhtProtocol', 'expected a protocol id starting with "/"');
  }
  return resolved;
}

/** A type, not an interface: libp2p's ServiceMap constraint needs an index signature. */
export type ThreshServices = {
  identify: Identify;
  ping: Ping;
  dht: KadDHT;
};

export type ThreshLibp2p = Libp2p<ThreshServices>;

/**
 * Creates thresh's libp2p host (started unless `init.start` is false).
 *
 * @example
 * ```ts
 * import '@thresh/protocol/polyfill';
 * const host = await createThreshLibp2p({ privateKey: signingKeyBytes, clientMode: false });
 * const addrs = host.getMultiaddrs().map(String); // each ends in /p2p/<peer id>
 * await host.stop();
 * ```
 */
export async function createThreshLibp2p(init: ThreshLibp2pInit): Promise<ThreshLibp2p> {
  const o = resolveInit(init);
  const validators: Record<string, ValidateFn> = {};
  const selectors: Record<string, SelectFn> = {};
  for (const [ns, { validate, select }] of Object.entries(o.dhtNamespaces)) {
    validators[ns] = (key, value) => validate(key, value);
    selectors[ns] = (key, values) => select(key, values);
  }
  const node = await createLibp2p<ThreshServices>({
    start: false,
    privateKey: privateKeyFromRaw(o.privateKey),
    addresses: { listen: o.listen, announce: o.announce },
    transports: [coalescingTcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: o.maxConnections,
      inboundConnectionThreshold: o.inboundConnectionThreshold,
      maxIncomingPendingConnections: o.maxIncomingPendingConnections,
      dialTimeout: o.dialTimeoutMs,
      allow: [...LOOPBACK_ALLOW, ...o.allow],
    },
    connectionMonitor: { pingInterval: o.connectionPingIntervalMs },
    services: {
      identify: identify(),
      ping: ping(),
      dht: kadDHT({
        protocol: o.dhtProtocol,
        clientMode: o.clientMode,
        // kad-dht's default mapper drops loopback and private addresses, which are all a
        // local cluster or a LAN deployment has (kad-dht/src/kad-dht.ts: removePrivateAddressesMapper).
        peerInfoMapper: passthroughMapper,
        initialQuerySelfInterval: o.initialQuerySelfInterval,
        // kad-dht gives each request to a peer an adaptive timeout, at least 5 s, that grows with
        // every request that times out (twice its time feeds the moving average), up to 60 s: a
        // frozen peer would soon hold each query that asks it for a minute. No DHT request here
        // waits longer than a dial may take.
        networkDialTimeout: { maxTimeout: o.dialTimeoutMs },
        validators,
        selectors,
      }),
    },
    ...(o.logger == null ? {} : { logger: o.logger }),
    ...(init.datastore == null ? {} : { datastore: init.datastore }),
  });
  // a peer that has just answered identify joins the routing table without kad-dht's ping
  skipRedundantContactPings(node);
  if (o.bootstrap.length > 0) {
    new BootstrapDialer(node, o.bootstrap, o.bootstrapRetryMs, o.dialTimeoutMs).attach();
  }
  if (o.start) await node.start();
  return node;
}

/** Peers in the DHT routing table (0 before discovery); for status pages and tests. */
export function dhtRoutingTableSize(node: ThreshLibp2p): number {
  const dht = node.services.dht as KadDHT & Partial<Pick<SingleKadDHT, 'routingTable'>>;
  return dht.routingTable?.size ?? 0;
}
