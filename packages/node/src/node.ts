import { join } from 'node:path';
import { Libp2pRecord } from '@libp2p/record';
import { multiaddr } from '@multiformats/multiaddr';
import {
  createThreshLibp2p,
  getRecord,
  Libp2pTransport,
  putRecord,
  request,
  type ThreshLibp2p,
  threshDhtNamespaces,
} from '@thresh/client';
import {
  Card,
  decodeDhtValue,
  encodeDhtValue,
  errorReply,
  errorReplyFromError,
  HandoffReply,
  HandoffRequest,
  type Identity,
  type MessageType,
  makeDhtKey,
  makeNodeRecord,
  type NodeRecordReply,
  NodeRecordReply as NodeRecordReplyType,
  NodeRecordRequest,
  nodeIdOf,
  nodeRecordDhtId,
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  type ProtocolLimits,
  ReencryptReply,
  ReencryptRequest,
  RevokeReply,
  RevokeRequest,
  revocationDhtId,
  type Signed,
  StorePolicyReply,
  StorePolicyRequest,
  verifyRevocation,
} from '@thresh/protocol';
import { MemoryDatastore } from 'datastore-core';
import { Key } from 'interface-datastore';
import { toString as uint8ArrayToString } from 'uint8arrays/to-string';
import { CryptoPool } from './crypto/index.js';
import { openDataDir } from './datadir.js';
import { type DecommissionReport, decommission } from './decommission.js';
import { createHttpApi, type HttpApi } from './http/index.js';
import { createLogger } from './logger.js';
import { createMetrics, type NodeMetrics } from './metrics.js';
import { type ServedProtocol, type ServeOutcome, serveProtocol, unserve } from './net/serve.js';
import { type SessionServer, serveSessions } from './net/session.js';
import { DEFAULTS, type NodeInit, type NodeOptions, parseHostPort, resolveOptions } from './options.js';
import { type Logger, NodeService } from './service.js';
import { LevelStore } from './store/index.js';
import { VERSION } from './version.js';

export interface StartNodeOptions {
  dataDir: string;
  /** The key file's passphrase; defaults to data-dir/passphrase if present. */
  passphrase?: string;
  /** Flags: override config.json, which overrides the defaults. */
  overrides?: NodeInit;
  log?: Logger;
}

/** A reply type's error frame, for the framing layer's own errors (BUSY, TOO_LARGE, ...). */
const errorFrame =
  <T>(type: MessageType<T>) =>
  (code: Parameters<typeof errorReply>[0], message: string) =>
    type.encode(errorReply(code, message) as T);

/**
 * A running thresh node (DESIGN.md "Nodes"): its libp2p host (kad-dht server mode in the
 * private namespace), the five protocols served with their limits, the encrypted store, the
 * crypto pool, its signed node record published and refreshed in the DHT, and the expiry
 * sweep. `stop()` drains in-flight requests, then closes everything.
 */
export class ThreshNode {
  readonly identity: Identity;
  readonly options: NodeOptions;
  readonly libp2p: ThreshLibp2p;
  readonly service: NodeService;
  readonly store: LevelStore;
  readonly pool: CryptoPool;
  readonly log: Logger;
  readonly adminToken: string;
  readonly dataDir: string;
  readonly metrics: NodeMetrics;
  #http: HttpApi | undefined;
  /** The HTTP API's base URL, when it runs. */
  httpUrl: string | undefined;
  #record: Signed<unknown> | undefined;
  /** This node's own handlers by protocol id (for the gateway's requests to itself). */
  #sessions: SessionServer | undefined;
  #local = new Map<string, (bytes: Uint8Array, signal: AbortSignal) => Promise<Uint8Array>>();
  #timers: NodeJS.Timeout[] = [];
  #inFlight = 0;
  #stopping = false;
  #drained: (() => void) | undefined;

  private constructor(init: {
    identity: Identity;
    options: NodeOptions;
    libp2p: ThreshLibp2p;
    store: LevelStore;
    pool: CryptoPool;
    log: Logger;
    adminToken: string;
    dataDir: string;
  }) {
    this.identity = init.identity;
    this.options = init.options;
    this.libp2p = init.libp2p;
    this.store = init.store;
    this.pool = init.pool;
    this.log = init.log;
    this.adminToken = init.adminToken;
    this.dataDir = init.dataDir;
    this.metrics = createMetrics({
      policies: () => this.store.countPolicies(),
      workersReady: () => this.pool.stats().ready,
      peers: () => this.libp2p.getConnections().length,
      log: this.log as never,
    });
    this.onOutcome = this.metrics.onOutcome;
    this.service = new NodeService({
      identity: this.identity,
      store: this.store,
      engine: this.pool,
      limits: { maxPolicyLifetime: this.options.maxPolicyLifetime, capacity: this.options.capacity },
      nodeRecord: () => this.#record!.bytes,
      peers: () => this.libp2p.getConnections().length,
      version: VERSION,
      log: this.log,
      onRevoked: (published) => void this.#putRevocation(published.key, published.value),
    });
  }

  static async start(opts: StartNodeOptions): Promise<ThreshNode> {
    const dir = opts.dataDir;
    const opened = await openDataDir(dir, opts.passphrase);
    const options = resolveOptions(opened.config, opts.overrides);
    const log = opts.log ?? createLogger({ level: options.logLevel });
    for (const w of opened.warnings) log.warn({ dataDir: dir }, w);
    const store = new LevelStore(join(dir, 'store'), opened.identity.storageSecret());
    await store.open();
    // A node holding no policy never re-encrypts: its workers start on the first batch (a
    // fresh node's start costs ~0.3 CPU-s less per worker). One restarted with policies starts
    // them now and serves at once.
    const pool = new CryptoPool({ workers: options.workers, startOnFirstUse: true });
    let libp2p: ThreshLibp2p | undefined;
    try {
      if ((await store.countPolicies()) > 0) await pool.start();
      // kad-dht keeps the records this node holds in libp2p's datastore under
      // /dht/record/<base32 key>: the validator reads it to refuse values older than those held.
      const datastore = new MemoryDatastore();
      const held = async (key: Uint8Array) => {
        try {
          const raw = await datastore.get(new Key(`/dht/record/${uint8ArrayToString(key, 'base32')}`, false));
          return Libp2pRecord.deserialize(raw).value;
        } catch {
          return undefined;
        }
      };
      libp2p = await createThreshLibp2p({
        datastore,
        privateKey: opened.identity.signingKey.toBEBytes(),
        listen: options.listen,
        announce: options.announce,
        bootstrap: options.bootstrap,
        clientMode: false,
        dhtNamespaces: threshDhtNamespaces(undefined, held),
        initialQuerySelfInterval: options.dhtSelfQuery ? 1000 : 0,
      });
      const node = new ThreshNode({
        identity: opened.identity,
        options,
        libp2p,
        store,
        pool,
        log,
        adminToken: opened.adminToken,
        dataDir: dir,
      });
      await node.#begin();
      return node;
    } catch (e) {
      await Promise.resolve(libp2p?.stop()).catch(() => {});
      await Promise.resolve(pool.stop()).catch(() => {});
      await store.close().catch(() => {});
      throw e;
    }
  }

  get card(): Card {
    return this.identity.card;
  }

  get nodeId(): Uint8Array {
    return nodeIdOf(this.identity.card);
  }

  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  /** Listening multiaddrs, each ending in /p2p/<peer id>. */
  multiaddrs(): string[] {
    return this.libp2p.getMultiaddrs().map((m) => m.toString());
  }

  async #begin(): Promise<void> {
    await this.#refreshRecord(false);
    await this.#serveAll();
    await this.#startHttp();
    this.#timers.push(
      setInterval(() => void this.#sweep(), this.options.sweepInterval * 1000).unref(),
      setInterval(() => {
        void this.#refreshRecord(true);
        void this.#republishRevocations();
      }, this.options.recordRefresh * 1000).unref(),
      setInterval(() => void this.#checkRevocations(), this.options.revocationCheck * 1000).unref(),
    );
    void this.#sweep();
    void this.#publishRecord();
    void this.#checkRevocations();
    this.log.info(
      { peerId: this.peerId, addrs: this.multiaddrs(), fingerprint: this.card.fingerprint() },
      'node started',
    );
  }

  async #serveAll(): Promise<void> {
    const served: Promise<[string, ServedProtocol]>[] = [];
    const wrap = <Req, Res>(
      name: keyof typeof PROTOCOL_LIMITS,
      reqType: MessageType<Req>,
      resType: MessageType<Res>,
      handler: (req: Req, signal: AbortSignal) => Promise<Res>,
    ) => {
      const limits: ProtocolLimits = PROTOCOL_LIMITS[name];
      const mapError = (e: unknown) => {
        const reply = errorReplyFromError(e);
        if (reply.error.code === 'INTERNAL')
          this.log.error({ err: String(e), protocol: name }, 'handler failed');
        return resType.encode(reply as Res);
      };
      const answer = async (bytes: Uint8Array, signal: AbortSignal) => {
        this.#inFlight++;
        try {
          return resType.encode(await handler(reqType.decode(bytes), signal));
        } finally {
          if (--this.#inFlight === 0 && this.#drained) this.#drained();
        }
      };
      // The gateway's requests to this very node (libp2p does not dial itself): the same handler,
      // errors turned into the same error replies.
      this.#local.set(PROTOCOL_IDS[name], (bytes, signal) => answer(bytes, signal).catch(mapError));
      const serving = serveProtocol(
        this.libp2p,
        PROTOCOL_IDS[name],
        (bytes, ctx) => answer(bytes, ctx.signal),
        {
          maxRequestBytes: limits.maxRequestBytes,
          timeoutMs: limits.timeoutMs,
          maxConcurrentPerPeer: limits.maxStreamsPerPeer,
          // Whole-node bound per protocol: enough for a busy cluster, small enough that a flood
          // of peers gets BUSY instead of unbounded memory.
          maxConcurrentTotal: limits.maxStreamsPerPeer * 64,
        },
        {
          onError: errorFrame(resType),
          mapError,
          onOutcome: (protocol, outcome, ms) => this.onOutcome?.(protocol, outcome, ms),
        },
      );
      served.push(serving.then((server) => [name, server]));
    };
    wrap('storePolicy', StorePolicyRequest, StorePolicyReply, (r) => this.service.storePolicy(r));
    wrap('reencrypt', ReencryptRequest, ReencryptReply, async (r, s) => {
      const reply = await this.service.reencrypt(r, s);
      this.metrics.recordReencrypt(reply);
      return reply;
    });
    wrap('revoke', RevokeRequest, RevokeReply, (r) => this.service.revoke(r));
    wrap(
      'nodeRecord',
      NodeRecordRequest,
      NodeRecordReplyType,
      (): Promise<NodeRecordReply> => this.service.nodeRecord(),
    );
    wrap('handoff', HandoffRequest, HandoffReply, (r) => this.service.handoff(r));
    // Every protocol above, also as calls on one long-lived session stream per client.
    this.#sessions = await serveSessions(this.libp2p, new Map(await Promise.all(served)));
  }

  /** Set by the metrics component. */
  onOutcome: ((protocol: string, outcome: ServeOutcome, ms: number) => void) | undefined;

  /** The one sweep (timer and admin route), counted once. */
  async sweepNow(): Promise<{ policies: number; tombstones: number }> {
    const report = await this.service.sweep();
    this.metrics.recordSweep(report);
    return report;
  }

  async #sweep(): Promise<void> {
    try {
      await this.sweepNow();
    } catch (e) {
      this.log.error({ err: String(e) }, 'expiry sweep failed');
    }
  }

  async #startHttp(): Promise<void> {
    if (this.options.http === null) return;
    const { host, port } = parseHostPort(this.options.http);
    this.#http = createHttpApi({
      service: this.service,
      metrics: this.metrics,
      logger: this.log as never,
      adminToken: this.adminToken,
      host,
      port,
      allowedHosts: this.options.httpAllowedHosts,
      describe: async () => ({
        peerId: this.peerId,
        nodeId: Buffer.from(this.nodeId).toString('hex'),
        card: this.card.toString(),
        fingerprint: this.card.fingerprint(),
        addresses: this.multiaddrs(),
        // The signed node record, for clients that reach the network only over HTTP.
        nodeRecord: Buffer.from(this.#record!.bytes).toString('base64'),
      }),
      admin: { sweep: () => this.sweepNow(), decommission: () => this.decommission() },
      gateway: {
        enabled: this.options.gateway,
        relay: (addrs, protocol, bytes, signal) => {
          const self = `/p2p/${this.peerId}`;
          const local = this.#local.get(protocol);
          if (local && addrs.some((a) => a.endsWith(self))) return local(bytes, signal);
          return request(
            this.libp2p,
            addrs.map((a) => multiaddr(a)),
            protocol,
            bytes,
            { signal },
          );
        },
      },
    });
    this.httpUrl = (await this.#http.start()).url;
  }

  /** Signs a new node record (sequence numbers kept in the store, so they grow across restarts). */
  async #refreshRecord(publish: boolean): Promise<void> {
    const seq = Number((await this.store.getMeta('node-record-seq')) ?? 0) + 1;
    await this.store.putMeta('node-record-seq', seq, { sync: true });
    const now = Math.floor(Date.now() / 1000);
    this.#record = makeNodeRecord(this.identity, {
      peer: this.peerId,
      addrs: this.multiaddrs().slice(0, 32),
      maxLifetime: this.options.maxPolicyLifetime,
      capacity: this.options.capacity,
      version: VERSION,
      seq,
      expiry: now + this.options.recordLifetime,
    }) as Signed<unknown>;
    if (publish) await this.#publishRecord();
  }

  async #publishRecord(): Promise<void> {
    const record = this.#record!;
    const id = nodeRecordDhtId();
    const seq = (record.body as { seq: number }).seq;
    try {
      const value = encodeDhtValue(
        { namespace: 'node', id, seq, record: record.bytes },
        this.identity.signer,
      );
      const r = await putRecord(this.libp2p, makeDhtKey('node', this.nodeId, id), value, {
        timeoutMs: 20_000,
      });
      this.log.debug({ accepted: r.accepted.length, failed: r.failed.length }, 'published node record');
    } catch (e) {
      this.log.warn({ err: String(e) }, 'could not publish the node record (will retry at the next refresh)');
    }
  }

  /**
   * DESIGN.md "Revoke": a restarted node applies revocations published in the DHT while it was
   * away. Runs in the background after start (a lone node's lookups just time out).
   */
  async #checkRevocations(): Promise<void> {
    if (this.#checking) return; // one round at a time: a long one is not stacked on
    this.#checking = true;
    let applied = 0;
    try {
      for await (const p of this.store.policies()) {
        if (this.#stopping) return;
        const key = makeDhtKey('revocation', p.ownerSigningKey, revocationDhtId(p.policyId));
        const value = await getRecord(this.libp2p, key, { timeoutMs: 5_000 }).catch(() => undefined);
        if (!value) continue;
        await this.service.revoke({ revocation: decodeDhtValue(value).record });
        applied++;
      }
    } catch (e) {
      this.log.warn({ err: String(e) }, 'revocation check stopped early');
    } finally {
      this.#checking = false;
    }
    if (applied) this.log.info({ applied }, 'applied revocations published while away');
  }

  #checking = false;

  /** Best effort: a revocation's owner-signed DHT value, put in the DHT. */
  async #putRevocation(key: Uint8Array, value: Uint8Array): Promise<boolean> {
    try {
      const r = await putRecord(this.libp2p, key, value, { timeoutMs: 20_000 });
      return r.accepted.length > 0;
    } catch (e) {
      this.log.debug({ err: String(e) }, 'could not publish a revocation (will retry at the next refresh)');
      return false;
    }
  }

  /** DESIGN.md "Revoke": nodes holding tombstones republish the revocation until it expires. */
  async #republishRevocations(): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    let published = 0;
    try {
      for await (const t of this.store.tombstones()) {
        if (this.#stopping) return;
        if (!t.published || t.expiry <= now) continue;
        const owner = verifyRevocation(t.revocation, { now: t.receivedAt }).body.owner;
        const key = makeDhtKey(
          'revocation',
          Card.fromBytes(owner).signingKey.toCompressedBytes(),
          revocationDhtId(t.policyId),
        );
        if (await this.#putRevocation(key, t.published)) published++;
      }
    } catch (e) {
      this.log.warn({ err: String(e) }, 'republishing revocations stopped early');
    }
    if (published) this.log.debug({ published }, 'republished revocations');
  }

  /** Set by decommission(): resolves once the node has stopped. */
  stopped: Promise<void> | undefined;
  #decommissioning: Promise<DecommissionReport> | undefined;

  /**
   * Leaves the network for good (DESIGN.md "Nodes": Handoff): hands every live kfrag over to a
   * replacement node (decommission.ts), then stops. Resolves with the report when the handoff is
   * done; stopping starts right after, so that the admin route calling this answers first
   * (stop() closes the HTTP API and its connections). Await `stopped` for the end. A second
   * call gets the first one's report: one kfrag is never handed to two nodes.
   */
  decommission(): Promise<DecommissionReport> {
    this.#decommissioning ??= (async () => {
      // nothing stored from now on is left behind: new stores and handoffs are refused, and
      // those in flight finish before the store is walked
      await this.service.beginLeaving();
      const report = await decommission({
        identity: this.identity,
        store: this.store,
        transport: new Libp2pTransport(this.libp2p),
        log: this.log,
      });
      this.stopped = new Promise((r) => setTimeout(r, 100)).then(() => this.stop());
      return report;
    })().catch((e: unknown) => {
      this.#decommissioning = undefined; // nothing was handed over twice: it may be tried again
      this.service.endLeaving();
      throw e;
    });
    return this.#decommissioning;
  }

  /** Stops serving, waits for in-flight requests (up to `drainMs`), closes everything. */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#http?.stop().catch(() => {});
    const sessionsClosed = this.#sessions?.close();
    for (const id of Object.values(PROTOCOL_IDS)) {
      if (id !== PROTOCOL_IDS.kad) await unserve(this.libp2p, id).catch(() => {});
    }
    if (this.#inFlight > 0) {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#drained = resolve;
        }),
        new Promise((resolve) => setTimeout(resolve, drainMs).unref()),
      ]);
    }
    // the sessions' last replies are written once their calls are done (bounded as above)
    await Promise.race([sessionsClosed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    await Promise.resolve(this.libp2p.stop()).catch((e: unknown) =>
      this.log.warn({ err: String(e) }, 'libp2p stop'),
    );
    await Promise.resolve(this.pool.stop()).catch(() => {});
    await this.store.close();
    this.log.info({}, 'node stopped');
  }
}

export { DEFAULTS };
