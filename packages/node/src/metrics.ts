/**
 * The node's Prometheus metrics (DESIGN.md "Nodes": HTTP API, metrics). Each node has its own
 * prom-client Registry, never the global default one, so several nodes in one process (tests,
 * a local devnet) keep separate counts. Served by the HTTP API at GET /metrics.
 *
 * Labels are closed sets (protocol names, transports, outcomes, wire error codes): nothing a
 * peer sends becomes a label value, so a peer cannot blow up the series count.
 */
import { isErrorReply, PROTOCOL_IDS, type ReencryptReply, type RequestProtocolName } from '@thresh/protocol';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { ServeOutcome } from './net/serve.js';
import type { Logger } from './service.js';

/** The `protocol` label: the request/reply protocols in snake case. */
export type MetricsProtocol = 'store_policy' | 'reencrypt' | 'revoke' | 'node_record' | 'handoff';
/**
 * The `transport` label: served over libp2p, served over the HTTP API, or relayed by this node's
 * gateway to other nodes (counted apart so that relaying never looks like serving).
 */
export type MetricsTransport = 'libp2p' | 'http' | 'gateway';
/** The `outcome` label: serve.ts's outcomes, used for HTTP requests too (see outcomeOfStatus). */
export type MetricsOutcome = ServeOutcome;

const PROTOCOL_LABEL: { readonly [K in RequestProtocolName]: MetricsProtocol } = {
  storePolicy: 'store_policy',
  reencrypt: 'reencrypt',
  revoke: 'revoke',
  nodeRecord: 'node_record',
  handoff: 'handoff',
};

const LABEL_OF_ID: ReadonlyMap<string, MetricsProtocol> = new Map(
  (Object.keys(PROTOCOL_LABEL) as RequestProtocolName[]).map((name) => [
    PROTOCOL_IDS[name],
    PROTOCOL_LABEL[name],
  ]),
);

/** Seconds; reencrypt may take up to its 30 s deadline on a loaded node. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsInit {
  /** Policies held, read at each scrape (e.g. `() => store.countPolicies()`). */
  policies?: () => number | Promise<number>;
  /** Connected peers, read at each scrape. */
  peers?: () => number | Promise<number>;
  /** Crypto worker threads loaded and serving, read at each scrape (0 until the first batch). */
  workersReady?: () => number | Promise<number>;
  /** Register prom-client's default process metrics (CPU, memory, event loop, GC). @default true */
  processMetrics?: boolean;
  /** Extra labels on every series (e.g. { node: '<peer id>' } when several nodes share a scrape). */
  labels?: Record<string, string>;
  /** Where a failing collect callback is reported. @default silent */
  log?: Logger;
}

/** The label set of `thresh_requests_total`. */
type RequestLabels = 'protocol' | 'transport' | 'outcome';

export class NodeMetrics {
  readonly registry: Registry;
  readonly requests: Counter<RequestLabels>;
  readonly duration: Histogram<'protocol' | 'transport'>;
  readonly reencryptItems: Counter<'outcome'>;
  readonly sweepDeleted: Counter<'kind'>;
  readonly policies: Gauge;
  readonly peers: Gauge;
  readonly workersReady: Gauge;

  constructor(init: MetricsInit = {}) {
    const registry = new Registry();
    if (init.labels) registry.setDefaultLabels(init.labels);
    this.registry = registry;
    const registers = [registry];
    this.requests = new Counter({
      name: 'thresh_requests_total',
      help: 'Requests answered, by protocol, transport and outcome (ok, error, busy, timeout, too-large).',
      labelNames: ['protocol', 'transport', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: 'thresh_request_duration_seconds',
      help: 'Time from accepting a request to its reply, by protocol and transport.',
      labelNames: ['protocol', 'transport'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reencryptItems = new Counter({
      name: 'thresh_reencrypt_items_total',
      help: 'Re-encryption request items, by outcome: cfrag, or the wire error code of the item.',
      labelNames: ['outcome'],
      registers,
    });
    this.sweepDeleted = new Counter({
      name: 'thresh_sweep_deleted_total',
      help: 'Records deleted by the expiry sweep, by kind (policy, tombstone).',
      labelNames: ['kind'],
      registers,
    });
    this.policies = scrapedGauge(
      'thresh_policies',
      'Policies (kfrags) this node holds.',
      init.policies,
      init.log,
    );
    this.peers = scrapedGauge('thresh_peers', 'Connected libp2p peers.', init.peers, init.log);
    this.workersReady = scrapedGauge(
      'thresh_crypto_workers_ready',
      'Crypto worker threads loaded and serving (they start on the first re-encryption unless the node held policies at start).',
      init.workersReady,
      init.log,
    );
    registry.registerMetric(this.policies);
    registry.registerMetric(this.peers);
    registry.registerMetric(this.workersReady);
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  }

  /** The Content-Type of `metrics()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric of this node. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Counts one request and its duration. */
  observe(protocol: MetricsProtocol, transport: MetricsTransport, outcome: MetricsOutcome, ms: number): void {
    this.requests.inc({ protocol, transport, outcome });
    if (Number.isFinite(ms) && ms >= 0) this.duration.observe({ protocol, transport }, ms / 1000);
  }

  /**
   * serve.ts's `onOutcome` hook (bound, pass it as it is): `protocol` is a protocol id such as
   * '/thresh/reencrypt/1.0.0'. Ids that are not thresh request protocols are ignored.
   */
  readonly onOutcome = (protocol: string, outcome: ServeOutcome, ms: number): void => {
    const label = LABEL_OF_ID.get(protocol);
    if (label) this.observe(label, 'libp2p', outcome, ms);
  };

  /** Counts the items of a reencrypt reply by outcome; an error reply counts no items. */
  recordReencrypt(reply: ReencryptReply): void {
    if (isErrorReply(reply)) return;
    for (const item of reply.items) {
      this.reencryptItems.inc({ outcome: item.error === undefined ? 'cfrag' : item.error });
    }
  }

  /** Counts what one expiry sweep deleted (service.ts SweepReport). */
  recordSweep(report: { policies: number; tombstones: number }): void {
    if (report.policies > 0) this.sweepDeleted.inc({ kind: 'policy' }, report.policies);
    if (report.tombstones > 0) this.sweepDeleted.inc({ kind: 'tombstone' }, report.tombstones);
  }
}

/** A node's metrics on a registry of its own. */
export function createMetrics(init: MetricsInit = {}): NodeMetrics {
  return new NodeMetrics(init);
}

/** The outcome label of an HTTP reply: the same vocabulary as libp2p streams. */
export function outcomeOfStatus(status: number): MetricsOutcome {
  if (status < 400) return 'ok';
  if (status === 413) return 'too-large';
  if (status === 503) return 'busy';
  if (status === 504) return 'timeout';
  return 'error';
}

/**
 * A gauge set from `read` at each scrape. A failing read keeps the last value (and is logged)
 * rather than failing the whole scrape.
 */
function scrapedGauge(
  name: string,
  help: string,
  read: (() => number | Promise<number>) | undefined,
  log: Logger | undefined,
): Gauge {
  return new Gauge({
    name,
    help,
    registers: [],
    async collect() {
      if (!read) return;
      try {
        const value = await read();
        if (Number.isFinite(value)) this.set(value);
      } catch (e) {
        log?.warn({ metric: name, err: e instanceof Error ? e.name : 'unknown' }, 'metric read failed');
      }
    },
  });
}
