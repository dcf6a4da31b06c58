import { threshRecordVerifier } from '@thresh/client';
import {
  bytesEqual,
  Card,
  decodeDhtValue,
  dhtValidator,
  type HandoffRequest,
  type Identity,
  kfragId,
  kfragPrecursor,
  makeDhtKey,
  makeReceipt,
  type NodeRecordReply,
  nodeIdOf,
  openAndVerifyKFrag,
  openAssignedKFrag,
  type ReceiptReply,
  RecordMismatchError,
  type ReencryptReply,
  type ReencryptReplyItem,
  type ReencryptRequest,
  type RevokeRequest,
  revocationDhtId,
  type StorePolicyRequest,
  tombstoneUntil,
  type VerifiedPolicy,
  verifyAssignment,
  verifyHandoffChain,
  verifyPolicy,
  verifyRevocation,
  WireError,
} from '@thresh/protocol';
import type { NodeStore, StoredPolicy } from './store/index.js';

/** The clock skew a node allows on not-before times (DESIGN.md "Signed records"). */
export const CLOCK_SKEW_SECONDS = 300;

/** What the service needs from the crypto pool (crypto/pool.ts). */
export interface ReencryptEngine {
  reencryptBatch(
    items: { capsule: Uint8Array; kfrag: Uint8Array }[],
    signal?: AbortSignal,
  ): Promise<Array<{ cfrag: Uint8Array } | { error: 'BAD_CAPSULE' | 'BAD_KFRAG' | 'INTERNAL' }>>;
}

/** Structured logger (pino's shape). Never give it a kfrag, a path or a secret. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface ServiceComponents {
  identity: Identity;
  store: NodeStore;
  engine: ReencryptEngine;
  /** Longest policy lifetime accepted (seconds) and most policies held. */
  limits: { maxPolicyLifetime: number; capacity: number };
  /** The node's current signed node record. */
  nodeRecord: () => Uint8Array;
  /** Connected peers, for status. */
  peers?: () => number;
  /**
   * Called after a revocation is stored with its owner-signed DHT value (the node publishes it:
   * DESIGN.md "Revoke": nodes holding tombstones republish it). Must not throw.
   */
  onRevoked?: (published: { key: Uint8Array; value: Uint8Array }) => void;
  version: string;
  now?: () => number;
  log?: Logger;
}

export interface SweepReport {
  policies: number;
  tombstones: number;
}

/** Short, loggable id: never the whole value. */
const short = (b: Uint8Array) => Buffer.from(b).toString('hex').slice(0, 12);

/**
 * The node's request handlers (DESIGN.md "Grant" step 3, "Decrypt", "Revoke", "Nodes"), free
 * of networking: the libp2p server and the HTTP API both call these. Every refusal is a typed
 * error (a WireError for node conditions: REVOKED, NOT_FOUND, CAPACITY, ...), which the
 * transport turns into an error reply; nothing here writes to a socket.
 */
export class NodeService {
  readonly nodeId: Uint8Array;
  readonly #c: ServiceComponents;
  readonly #started: number;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #validateDht: (key: Uint8Array, value: Uint8Array) => Promise<void>;

  constructor(components: ServiceComponents) {
    this.#c = components;
    this.nodeId = nodeIdOf(components.identity.card);
    this.#now = components.now ?? (() => Math.floor(Date.now() / 1000));
    this.#started = this.#now();
    this.#log = components.log ?? silentLogger;
    this.#validateDht = dhtValidator(threshRecordVerifier(this.#now));
  }

  /** store-policy: check everything, store durably, receipt. */
  async storePolicy(req: StorePolicyRequest): Promise<ReceiptReply> {
    return this.#storing(() => this.#storePolicy(req));
  }

  /**
   * Refuses every new store and handoff from now on (the node is leaving: decommission), and
   * resolves once those already running have finished, so a handoff of everything stored sees
   * them all.
   */
  async beginLeaving(): Promise<void> {
    this.#leaving = true;
    while (this.#stores > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /** A decommission that failed: the node takes stores again. */
  endLeaving(): void {
    this.#leaving = false;
  }

  #leaving = false;
  #stores = 0;

  async #storing<T>(work: () => Promise<T>): Promise<T> {
    if (this.#leaving) throw new WireError('CAPACITY', 'this node is leaving the network');
    this.#stores++;
    try {
      return await work();
    } finally {
      this.#stores--;
    }
  }

  async #storePolicy(req: StorePolicyRequest): Promise<ReceiptReply> {
    const now = this.#now();
    const { identity, store, limits } = this.#c;
    const policy = verifyPolicy(req.policy, { now, nodeId: this.nodeId });
    const assignment = verifyAssignment(req.assignment, policy, { nodeId: this.nodeId });
    if (policy.body.expiry - now > limits.maxPolicyLifetime) {
      throw new WireError(
        'CAPACITY',
        `the policy lives until ${policy.body.expiry}; this node holds policies for at most ${limits.maxPolicyLifetime} s`,
      );
    }
    await this.#refuseIfRevoked(policy);
    const existing = await store.getPolicy(policy.id);
    if (existing) return this.#sameVersionReceipt(existing, policy, assignment.kfragId);
    if ((await store.countPolicies()) >= limits.capacity) {
      throw new WireError('CAPACITY', 'this node is full');
    }
    const kfrag = openAssignedKFrag(req.sealedKFrag, identity.encryptingKey, assignment);
    const receipt = makeReceipt(
      identity,
      { op: 'store', policyDigest: policy.digest, kfragId: kfragId(kfrag) },
      { now },
    );
    await store.putPolicy(
      this.#stored(policy, assignment.bytes, kfrag.toBytes(), receipt.bytes, now, 'store'),
      { sync: true },
    );
    this.#log.info({ policy: short(policy.id), op: 'store' }, 'stored a policy');
    return { receipt: receipt.bytes };
  }

  /** handoff (receiving side): check the chain owner -> ... -> this node, store, receipt. */
  async handoff(req: HandoffRequest): Promise<ReceiptReply> {
    return this.#storing(() => this.#handoff(req));
  }

  async #handoff(req: HandoffRequest): Promise<ReceiptReply> {
    const now = this.#now();
    const { identity, store, limits } = this.#c;
    const policy = verifyPolicy(req.policy, { now });
    const chain = verifyHandoffChain({
      policy,
      assignment: req.assignment,
      certificates: req.certificates,
      finalNodeId: this.nodeId,
      now,
    });
    if (policy.body.expiry - now > limits.maxPolicyLifetime) {
      throw new WireError('CAPACITY', `this node holds policies for at most ${limits.maxPolicyLifetime} s`);
    }
    await this.#refuseIfRevoked(policy);
    const existing = await store.getPolicy(policy.id);
    if (existing) return this.#sameVersionReceipt(existing, policy, chain.assignment.kfragId, 'handoff');
    if ((await store.countPolicies()) >= limits.capacity)
      throw new WireError('CAPACITY', 'this node is full');
    const kfrag = openAndVerifyKFrag(req.sealedKFrag, identity.encryptingKey, {
      expectedPolicyDigest: policy.digest,
      expectedNodeId: this.nodeId,
      ownerVerifyingKey: policy.owner.signingKey,
      readerEncryptingKey: policy.reader.encryptingKey,
    });
    if (!bytesEqual(kfragId(kfrag), chain.assignment.kfragId)) {
      throw new RecordMismatchError('sealed-kfrag.kfrag', 'not the kfrag the chain hands over');
    }
    if (!bytesEqual(kfragPrecursor(kfrag), policy.body.precursor)) {
      throw new RecordMismatchError('sealed-kfrag.kfrag', "the kfrag's precursor is not the policy's");
    }
    const receipt = makeReceipt(
      identity,
      { op: 'handoff', policyDigest: policy.digest, kfragId: kfragId(kfrag) },
      { now },
    );
    const stored = this.#stored(
      policy,
      chain.assignment.bytes,
      kfrag.toBytes(),
      receipt.bytes,
      now,
      'handoff',
    );
    stored.handoffCertificates = req.certificates.map((c) => c.slice());
    await store.putPolicy(stored, { sync: true });
    this.#log.info({ policy: short(policy.id), op: 'handoff' }, 'accepted a handed-over kfrag');
    return { receipt: receipt.bytes };
  }

  /** revoke: check the owner's signature, delete the kfrag, keep a tombstone, receipt. */
  async revoke(req: RevokeRequest): Promise<ReceiptReply> {
    const now = this.#now();
    const { identity, store } = this.#c;
    const revocation = verifyRevocation(req.revocation, { now });
    const body = revocation.body;
    const existing = await store.getPolicy(body.policy);
    const ownerKey = Card.fromBytes(body.owner).signingKey.toCompressedBytes();
    if (existing && !bytesEqual(existing.ownerSigningKey, ownerKey)) {
      throw new RecordMismatchError('revocation.owner', "not the policy's owner");
    }
    // Any valid revocation is final: once an id is tombstoned, only its own owner may touch the
    // tombstone again (otherwise a stranger's revocation would replace it and reopen the id),
    // and a later revocation never shortens how long it is kept.
    const prior = await store.getTombstone(body.policy);
    const published = await this.#checkedPublication(req.published, revocation.bytes, ownerKey, body.policy);
    if (prior && !existing) {
      const priorOwner = verifyRevocation(prior.revocation, { now: prior.receivedAt }).body.owner;
      if (!bytesEqual(priorOwner, body.owner)) {
        throw new RecordMismatchError('revocation.owner', 'this id is revoked by another owner');
      }
    }
    await store.putTombstone(
      {
        policyId: body.policy,
        revocation: revocation.bytes,
        expiry: Math.max(tombstoneUntil(body, existing?.expiry), prior?.expiry ?? 0),
        receivedAt: now,
        ...(published
          ? { published: published.value }
          : prior?.published
            ? { published: prior.published }
            : {}),
      },
      { sync: true },
    );
    if (published) this.#c.onRevoked?.(published);
    // A node that never held the policy keeps the tombstone all the same (a late store of that
    // id by that owner is refused) and receipts with zero digest and kfrag id.
    const receipt = makeReceipt(
      identity,
      {
        op: 'revoke',
        policyDigest: existing?.policyDigest ?? new Uint8Array(32),
        kfragId: existing ? kfragIdOfStored(existing) : new Uint8Array(32),
      },
      { now },
    );
    this.#log.info({ policy: short(body.policy), op: 'revoke', held: existing !== undefined }, 'revoked');
    return { receipt: receipt.bytes };
  }

  /**
   * The revocation's DHT value as the owner published it, if it is one: a valid value under the
   * revocation's key, carrying exactly this revocation. Anything else is ignored (the
   * revocation itself is what counts).
   */
  async #checkedPublication(
    value: Uint8Array | undefined,
    revocation: Uint8Array,
    ownerKey: Uint8Array,
    policyId: Uint8Array,
  ): Promise<{ key: Uint8Array; value: Uint8Array } | undefined> {
    if (value === undefined) return undefined;
    const key = makeDhtKey('revocation', ownerKey, revocationDhtId(policyId));
    try {
      await this.#validateDht(key, value);
      if (!bytesEqual(decodeDhtValue(value).record, revocation)) throw new Error('another revocation');
      return { key, value };
    } catch (e) {
      this.#log.debug({ policy: short(policyId), err: String(e) }, 'ignored the published revocation value');
      return undefined;
    }
  }

  /**
   * reencrypt (batched): per item, the deepest level with a live policy (or exactly the policy
   * the reader named), re-encrypted in the crypto pool; per-item errors, never a whole-batch one.
   */
  async reencrypt(req: ReencryptRequest, signal?: AbortSignal): Promise<ReencryptReply> {
    const now = this.#now();
    const out: ReencryptReplyItem[] = new Array(req.items.length);
    const jobs: { capsule: Uint8Array; kfrag: Uint8Array }[] = [];
    const jobOf: { index: number; policyId: Uint8Array; level: number }[] = [];
    // A batch is usually many files of one directory: look each path hash up once per batch.
    const lookups = new Map<string, Promise<StoredPolicy[]>>();
    const byPathHash = (h: Uint8Array) => {
      const key = Buffer.from(h).toString('hex');
      let p = lookups.get(key);
      if (!p) {
        p = this.#c.store.policiesByPathHash(h).then((r) => r.policies);
        lookups.set(key, p);
      }
      return p;
    };
    for (let i = 0; i < req.items.length; i++) {
      const item = req.items[i];
      const found = await this.#findPolicy(item, now, byPathHash);
      if ('error' in found) {
        out[i] = { id: item.id, error: found.error };
        continue;
      }
      jobs.push({ capsule: item.levels[found.level].capsule, kfrag: found.policy.kfrag });
      jobOf.push({ index: i, policyId: found.policy.policyId, level: found.level });
    }
    if (jobs.length) {
      const results = await this.#c.engine.reencryptBatch(jobs, signal);
      results.forEach((r, j) => {
        const { index, policyId, level } = jobOf[j];
        const id = req.items[index].id;
        out[index] =
          'cfrag' in r
            ? { id, cfrag: r.cfrag, policyId, level }
            : { id, error: r.error === 'BAD_CAPSULE' ? 'BAD_CAPSULE' : 'INTERNAL' };
      });
    }
    return { items: out };
  }

  async nodeRecord(): Promise<NodeRecordReply> {
    return { nodeRecord: this.#c.nodeRecord(), status: await this.status() };
  }

  async status(): Promise<{
    peers: number;
    policies: number;
    uptime: number;
    version: string;
    time: number;
  }> {
    const now = this.#now();
    return {
      peers: this.#c.peers?.() ?? 0,
      policies: await this.#c.store.countPolicies(),
      uptime: Math.max(0, now - this.#started),
      version: this.#c.version,
      time: now,
    };
  }

  /** Deletes expired policies and tombstones past their keep-until. */
  async sweep(): Promise<SweepReport> {
    const now = this.#now();
    const { store } = this.#c;
    const report: SweepReport = { policies: 0, tombstones: 0 };
    for (;;) {
      const { entries } = await store.expiredPolicies(now, 500);
      for (const e of entries) if (await store.deletePolicy(e.policyId)) report.policies++;
      if (entries.length < 500) break;
    }
    for (;;) {
      const { entries } = await store.expiredTombstones(now, 500);
      for (const e of entries) if (await store.deleteTombstone(e.policyId)) report.tombstones++;
      if (entries.length < 500) break;
    }
    if (report.policies || report.tombstones) this.#log.info({ ...report }, 'expiry sweep');
    return report;
  }

  /** A revocation applies only to its own owner's policy of that id. */
  async #refuseIfRevoked(policy: VerifiedPolicy): Promise<void> {
    const t = await this.#c.store.getTombstone(policy.id);
    if (!t) return;
    const rev = verifyRevocation(t.revocation, { now: t.receivedAt });
    if (bytesEqual(rev.body.owner, policy.body.owner)) {
      throw new WireError('REVOKED', 'this policy was revoked');
    }
  }

  /** One policy id never has two signed versions: the same one again gets its receipt again. */
  #sameVersionReceipt(
    existing: StoredPolicy,
    policy: VerifiedPolicy,
    kfrag: Uint8Array,
    _op: 'store' | 'handoff' = 'store',
  ): ReceiptReply {
    if (!bytesEqual(existing.policyDigest, policy.digest) || !bytesEqual(kfragIdOfStored(existing), kfrag)) {
      throw new RecordMismatchError('policy.id', 'this node holds another version of this policy id');
    }
    return { receipt: existing.receipt };
  }

  #stored(
    policy: VerifiedPolicy,
    assignment: Uint8Array,
    kfrag: Uint8Array,
    receipt: Uint8Array,
    now: number,
    source: 'store' | 'handoff',
  ): StoredPolicy {
    return {
      policyId: policy.id,
      policyDigest: policy.digest,
      pathHash: policy.body.pathHash,
      epoch: policy.body.epoch,
      expiry: policy.body.expiry,
      notBefore: policy.body.notBefore,
      ownerSigningKey: policy.owner.signingKey.toCompressedBytes(),
      readerEncryptingKey: policy.reader.encryptingKey.toCompressedBytes(),
      policy: policy.bytes,
      assignment,
      kfrag,
      receipt,
      storedAt: now,
      source,
    };
  }

  async #findPolicy(
    item: ReencryptRequest['items'][number],
    now: number,
    byPathHash: (h: Uint8Array) => Promise<StoredPolicy[]>,
  ): Promise<
    { policy: StoredPolicy; level: number } | { error: 'NOT_FOUND' | 'REVOKED' | 'EXPIRED' | 'NOT_YET_VALID' }
  > {
    const { store } = this.#c;
    if (item.policyId) {
      const p = await store.getPolicy(item.policyId);
      if (!p || !bytesEqual(p.pathHash, item.levels[0].pathHash)) {
        return { error: (await store.getTombstone(item.policyId)) ? 'REVOKED' : 'NOT_FOUND' };
      }
      const state = liveness(p, now);
      return state === 'live' ? { policy: p, level: 0 } : { error: state };
    }
    let seenExpired = false;
    for (let level = item.levels.length - 1; level >= 0; level--) {
      const policies = await byPathHash(item.levels[level].pathHash);
      // Several live policies on one level (re-grants): the one that lives longest, then by id,
      // so repeated requests get cfrags of the same policy.
      const live = policies
        .filter((p) => {
          const state = liveness(p, now);
          if (state === 'EXPIRED') seenExpired = true;
          return state === 'live';
        })
        .sort((a, b) => b.expiry - a.expiry || compareBytes(a.policyId, b.policyId));
      if (live.length) return { policy: live[0], level };
    }
    return { error: seenExpired ? 'EXPIRED' : 'NOT_FOUND' };
  }
}

function liveness(p: StoredPolicy, now: number): 'live' | 'EXPIRED' | 'NOT_YET_VALID' {
  if (now >= p.expiry) return 'EXPIRED';
  if (p.notBefore > now + CLOCK_SKEW_SECONDS) return 'NOT_YET_VALID';
  return 'live';
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The kfrag id of a stored policy, read from its kfrag bytes. */
function kfragIdOfStored(p: StoredPolicy): Uint8Array {
  return p.kfrag.subarray(39, 71);
}
