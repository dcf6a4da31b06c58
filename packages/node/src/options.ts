import { availableParallelism } from 'node:os';

/**
 * Every option of a node in one place, each optional with its default documented here and
 * resolved once (`resolveOptions`). The config file (data-dir/config.json) and the CLI flags
 * map onto this shape: flags override the file, which overrides these defaults.
 */
export interface NodeInit {
  /** libp2p listen multiaddrs. Default: ['/ip4/127.0.0.1/tcp/0'] (loopback, a free port). */
  listen?: string[];
  /** Multiaddrs (with /p2p/<peer id>) of nodes to join through. Default: none (a new network). */
  bootstrap?: string[];
  /** Addresses to announce instead of the listen addresses (e.g. behind NAT). Default: none. */
  announce?: string[];
  /** HTTP API "host:port", or null to disable it. Default '127.0.0.1:0' (loopback, a free port). */
  http?: string | null;
  /**
   * Extra Host header values the HTTP API accepts ("host:port"), e.g. the address a container's
   * published port is reached at. Loopback names and the bound address are always accepted.
   * Default none.
   */
  httpAllowedHosts?: string[];
  /** Serve the gateway routes (relay store/revoke, fan-out retrieve). Default true. */
  gateway?: boolean;
  /** Longest policy lifetime this node accepts, seconds. Default 366 days. */
  maxPolicyLifetime?: number;
  /** Most policies this node holds. Default 1,000,000. */
  capacity?: number;
  /** Expiry sweep period, seconds. Default 60. */
  sweepInterval?: number;
  /**
   * How often the node looks up, in the DHT, revocations of the policies it holds (a node cut off
   * while an owner revoked learns it so once it can reach the network again), seconds. Default
   * 600. Revocations it holds are republished at every node-record refresh.
   */
  revocationCheck?: number;
  /** Node record: refresh period and lifetime in the DHT, seconds. Defaults 3600 and 129600 (36 h). */
  recordRefresh?: number;
  recordLifetime?: number;
  /** Crypto worker threads. Default: the number of cores. 0 runs crypto on the main thread. */
  workers?: number;
  /** Log level: fatal, error, warn, info, debug, trace, silent. Default 'info'. */
  logLevel?: string;
  /** Run kad-dht's self query at start (off in tests). Default true. */
  dhtSelfQuery?: boolean;
}

export type NodeOptions = Required<Omit<NodeInit, 'http'>> & { http: string | null };

export const DEFAULTS: NodeOptions = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap: [],
  announce: [],
  http: '127.0.0.1:0',
  httpAllowedHosts: [],
  gateway: true,
  maxPolicyLifetime: 366 * 86400,
  capacity: 1_000_000,
  sweepInterval: 60,
  revocationCheck: 600,
  recordRefresh: 3600,
  recordLifetime: 36 * 3600,
  workers: availableParallelism(),
  logLevel: 'info',
  dhtSelfQuery: true,
};

/** Later sources win; undefined fields fall through. */
export function resolveOptions(...sources: (NodeInit | undefined)[]): NodeOptions {
  const out: Record<string, unknown> = { ...DEFAULTS };
  for (const s of sources) {
    if (!s) continue;
    for (const [k, v] of Object.entries(s)) if (v !== undefined) out[k] = v;
  }
  return out as NodeOptions;
}

/** Splits "host:port" (IPv6 hosts in brackets). */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(s.trim());
  if (!m) throw new Error(`expected HOST:PORT, got ${JSON.stringify(s)}`);
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`port out of range in ${JSON.stringify(s)}`);
  return { host: m[1], port };
}
