/**
 * LevelStore: the node's durable store on LevelDB (`level`), sealed at rest (DESIGN.md "Nodes":
 * Storage). Key layout: ./keys.ts; value sealing: ./seal.ts.
 *
 * Crash safety: every change that touches more than one key is one LevelDB batch, so a kill
 * between calls leaves each change whole or absent. Writes are serialized in this process
 * (read-modify-write of indexes and counters); reads are not, and read each answer from one
 * snapshot, so an index entry seen without its record is real damage, reported as `dangling`.
 */
import { InvalidArgumentError } from '@thresh/protocol';
import { Level } from 'level';
import { StoreClosedError, StoreCorruptionError } from './errors.js';
import {
  deriveStoreKeys,
  type ExpiryKind,
  expiryOfIndexKey,
  KeyLayout,
  PREFIX_POLICY,
  PREFIX_TOMBSTONE,
  prefixRange,
  tagOfIndexKey,
} from './keys.js';
import {
  countsOp,
  type Db,
  del,
  EMPTY,
  hex,
  initStore,
  type Op,
  putIndex,
  rebuildIndexes,
} from './level-admin.js';
import {
  type Counts,
  checkLimit,
  checkMetaName,
  checkMetaValue,
  checkNow,
  checkPathHash,
  checkPolicy,
  checkPolicyId,
  checkTombstone,
  equalBytes,
  META,
  POLICY,
  TOMBSTONE,
} from './records.js';
import { type RecordType, Sealer } from './seal.js';
import type {
  ExpiredList,
  MetaValue,
  NodeStore,
  PathLookup,
  RepairReport,
  StoredPolicy,
  StoredTombstone,
  TombstoneResult,
  WriteOptions,
} from './types.js';

type Bytes = Uint8Array;

type State = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * Path lookups kept in memory (decoded and opened): a node serving re-encryptions spent ~0.6 ms
 * of its main thread per request on the index scan, the multi-get, opening and checking the
 * sealed records (a quarter of it at batches of 1). Any write empties it in effect.
 */
export const PATH_CACHE_SIZE = 4096;

/** A copy whose byte fields are the caller's own (the store hands out copies). */
function copyPolicy(p: StoredPolicy): StoredPolicy {
  const out = { ...p } as Record<string, unknown>;
  // new Uint8Array(v), not v.slice(): a Buffer's slice is a view of the same memory
  for (const [k, v] of Object.entries(out)) if (v instanceof Uint8Array) out[k] = new Uint8Array(v);
  return out as unknown as StoredPolicy;
}

export class LevelStore implements NodeStore {
  readonly location: string;
  readonly #keys: KeyLayout;
  readonly #sealer: Sealer;
  #db: Db | undefined;
  #state: State = 'new';
  #opening: Promise<void> | undefined;
  #counts: Counts = { policies: 0, tombstones: 0 };
  /** The write queue: each write starts after the previous one settled. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Moves when a write is queued and when it settles; a cached path lookup holds for one value. */
  #generation = 0;
  readonly #pathCache = new Map<string, { generation: number; lookup: PathLookup }>();

  /**
   * @param location the store's directory (created if missing), inside the node's data directory
   * @param storageSecret 32..64 bytes (`Identity.storageSecret()`); the store derives its keys
   *   from it and keeps no copy of it
   */
  constructor(location: string, storageSecret: Uint8Array) {
    if (typeof location !== 'string' || location.length === 0) {
      throw new InvalidArgumentError('location', 'expected a directory path');
    }
    const { indexKey, sealKey } = deriveStoreKeys(storageSecret);
    this.location = location;
    this.#keys = new KeyLayout(indexKey);
    this.#sealer = new Sealer(sealKey);
  }

  /** Opens once: a second call while open is a no-op; after close, StoreClosedError. */
  open(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#state === 'opening' && this.#opening !== undefined) return this.#opening;
    if (this.#state !== 'new') return Promise.reject(new StoreClosedError('open'));
    this.#state = 'opening';
    this.#opening = this.#doOpen();
    return this.#opening;
  }

  async #doOpen(): Promise<void> {
    const db: Db = new Level<Bytes, Bytes>(this.location, { keyEncoding: 'view', valueEncoding: 'view' });
    try {
      await db.open();
      this.#counts = await initStore(db, this.#sealer);
    } catch (e) {
      await db.close().catch(() => {});
      this.#wipe();
      throw e;
    }
    this.#db = db;
    this.#state = 'open';
  }

  async close(): Promise<void> {
    // A close during open waits for the open to settle, then closes what it opened.
    if (this.#state === 'opening') await this.#opening?.catch(() => {});
    if (this.#state === 'new') this.#wipe();
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    await this.#tail;
    await this.#db?.close();
    this.#db = undefined;
    this.#wipe();
  }

  toString(): string {
    return `LevelStore(${this.location})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  // ---- policies ----

  putPolicy(policy: StoredPolicy, options?: WriteOptions): Promise<void> {
    return this.putPolicies([policy], options);
  }

  async putPolicies(list: readonly StoredPolicy[], options?: WriteOptions): Promise<void> {
    if (!Array.isArray(list)) throw new InvalidArgumentError('policies', 'expected an array');
    const policies = list.map((p) => checkPolicy(p));
    if (policies.length === 0) return;
    await this.#write('putPolicies', async (db) => {
      const tags = policies.map((p) => this.#keys.idTag(p.policyId));
      const stored = await db.getMany(tags.map((t) => this.#keys.policyKey(t)));
      // A later entry with the same id replaces an earlier one of the same batch.
      const inBatch = new Map<string, StoredPolicy>();
      const ops: Op[] = [];
      let count = this.#counts.policies;
      for (const [i, p] of policies.entries()) {
        const tag = tags[i];
        const key = this.#keys.policyKey(tag);
        const id = hex(tag);
        const raw = stored[i];
        const previous =
          inBatch.get(id) ??
          (raw === undefined ? undefined : this.#sealer.tryOpenRecord(POLICY, key, raw, 'policy'));
        if (previous === undefined) count++;
        else if (previous !== 'corrupt') ops.push(...this.#keys.policyIndexKeys(previous, tag).map(del));
        ops.push({ type: 'put', key, value: this.#sealer.sealRecord(POLICY, key, p) });
        ops.push(...this.#keys.policyIndexKeys(p, tag).map(putIndex));
        inBatch.set(id, p);
      }
      const counts = { ...this.#counts, policies: count };
      ops.push(countsOp(this.#sealer, counts));
      await db.batch(ops, { sync: options?.sync === true });
      this.#counts = counts;
    });
  }

  async getPolicy(policyId: Uint8Array): Promise<StoredPolicy | undefined> {
    checkPolicyId(policyId);
    const db = this.#open('getPolicy');
    const key = this.#keys.policyKey(this.#keys.idTag(policyId));
    const raw = await db.get(key);
    if (raw === undefined) return undefined;
    const p = this.#sealer.openRecord(POLICY, key, raw, 'policy');
    if (!equalBytes(p.policyId, policyId))
      throw new StoreCorruptionError('malformed', 'policy under another id');
    return p;
  }

  async policiesByPathHash(pathHash: Uint8Array): Promise<PathLookup> {
    checkPathHash(pathHash);
    const db = this.#open('policiesByPathHash');
    // Every re-encrypt request reads here; the answer holds until the next write of any kind.
    const cacheKey = Buffer.from(pathHash).toString('latin1');
    const generation = this.#generation;
    const cached = this.#pathCache.get(cacheKey);
    if (cached !== undefined && cached.generation === generation) {
      return { policies: cached.lookup.policies.map(copyPolicy), dangling: cached.lookup.dangling };
    }
    const lookup = await this.#readPath(db, pathHash);
    // kept only if no write was queued, ran or finished meanwhile (each moves the generation)
    if (this.#generation === generation && this.#state === 'open') {
      if (this.#pathCache.size >= PATH_CACHE_SIZE)
        this.#pathCache.delete(this.#pathCache.keys().next().value!);
      this.#pathCache.set(cacheKey, {
        generation,
        lookup: { policies: lookup.policies.map(copyPolicy), dangling: lookup.dangling },
      });
    }
    return lookup;
  }

  async #readPath(db: Db, pathHash: Uint8Array): Promise<PathLookup> {
    const snapshot = db.snapshot();
    try {
      // One range read for the index, then one multi-get for the records, from one snapshot.
      const indexKeys = await db
        .keys({ ...this.#keys.pathRange(this.#keys.pathTag(pathHash)), snapshot })
        .all();
      if (indexKeys.length === 0) return { policies: [], dangling: 0 };
      const keys = indexKeys.map((k) => this.#keys.policyKey(tagOfIndexKey(k)));
      const values = await db.getMany(keys, { snapshot });
      const policies: StoredPolicy[] = [];
      let dangling = 0;
      for (const [i, raw] of values.entries()) {
        const p = raw === undefined ? undefined : this.#sealer.openRecord(POLICY, keys[i], raw, 'policy');
        if (p === undefined || !equalBytes(p.pathHash, pathHash)) dangling++;
        else policies.push(p);
      }
      return { policies, dangling };
    } finally {
      await snapshot.close();
    }
  }

  async deletePolicy(policyId: Uint8Array, options?: WriteOptions): Promise<boolean> {
    checkPolicyId(policyId);
    return this.#write('deletePolicy', async (db) => {
      const tag = this.#keys.idTag(policyId);
      const key = this.#keys.policyKey(tag);
      const raw = await db.get(key);
      if (raw === undefined) return false;
      const ops: Op[] = [{ type: 'del', key }];
      // A record that no longer opens is still deleted; its index entries read as dangling.
      const previous = this.#sealer.tryOpenRecord(POLICY, key, raw, 'policy');
      if (previous !== 'corrupt') ops.push(...this.#keys.policyIndexKeys(previous, tag).map(del));
      const counts = { ...this.#counts, policies: this.#counts.policies - 1 };
      ops.push(countsOp(this.#sealer, counts));
      await db.batch(ops, { sync: options?.sync === true });
      this.#counts = counts;
      return true;
    });
  }

  policies(): AsyncIterable<StoredPolicy> {
    return this.#records('policies', PREFIX_POLICY, POLICY, 'policy');
  }

  // ---- tombstones ----

  async putTombstone(tombstone: StoredTombstone, options?: WriteOptions): Promise<TombstoneResult> {
    const t = checkTombstone(tombstone);
    return this.#write('putTombstone', async (db) => {
      const tag = this.#keys.idTag(t.policyId);
      const policyKey = this.#keys.policyKey(tag);
      const key = this.#keys.tombstoneKey(tag);
      const [rawPolicy, rawTombstone] = await db.getMany([policyKey, key]);
      const ops: Op[] = [];
      const counts = { ...this.#counts };
      if (rawPolicy !== undefined) {
        // Revocation must win over a damaged record: delete it whether or not it opens.
        ops.push({ type: 'del', key: policyKey });
        const previous = this.#sealer.tryOpenRecord(POLICY, policyKey, rawPolicy, 'policy');
        if (previous !== 'corrupt') ops.push(...this.#keys.policyIndexKeys(previous, tag).map(del));
        counts.policies--;
      }
      if (rawTombstone === undefined) counts.tombstones++;
      else {
        const previous = this.#sealer.tryOpenRecord(TOMBSTONE, key, rawTombstone, 'tombstone');
        if (previous !== 'corrupt' && previous.expiry !== t.expiry) {
          ops.push({ type: 'del', key: this.#keys.expiryKey('tombstone', previous.expiry, tag) });
        }
      }
      ops.push({ type: 'put', key, value: this.#sealer.sealRecord(TOMBSTONE, key, t) });
      ops.push({ type: 'put', key: this.#keys.expiryKey('tombstone', t.expiry, tag), value: EMPTY });
      ops.push(countsOp(this.#sealer, counts));
      await db.batch(ops, { sync: options?.sync === true });
      this.#counts = counts;
      return { policyDeleted: rawPolicy !== undefined };
    });
  }

  async getTombstone(policyId: Uint8Array): Promise<StoredTombstone | undefined> {
    checkPolicyId(policyId);
    const db = this.#open('getTombstone');
    const key = this.#keys.tombstoneKey(this.#keys.idTag(policyId));
    const raw = await db.get(key);
    if (raw === undefined) return undefined;
    const t = this.#sealer.openRecord(TOMBSTONE, key, raw, 'tombstone');
    if (!equalBytes(t.policyId, policyId))
      throw new StoreCorruptionError('malformed', 'tombstone under another id');
    return t;
  }

  async deleteTombstone(policyId: Uint8Array, options?: WriteOptions): Promise<boolean> {
    checkPolicyId(policyId);
    return this.#write('deleteTombstone', async (db) => {
      const tag = this.#keys.idTag(policyId);
      const key = this.#keys.tombstoneKey(tag);
      const raw = await db.get(key);
      if (raw === undefined) return false;
      const ops: Op[] = [{ type: 'del', key }];
      const previous = this.#sealer.tryOpenRecord(TOMBSTONE, key, raw, 'tombstone');
      if (previous !== 'corrupt') {
        ops.push({ type: 'del', key: this.#keys.expiryKey('tombstone', previous.expiry, tag) });
      }
      const counts = { ...this.#counts, tombstones: this.#counts.tombstones - 1 };
      ops.push(countsOp(this.#sealer, counts));
      await db.batch(ops, { sync: options?.sync === true });
      this.#counts = counts;
      return true;
    });
  }

  tombstones(): AsyncIterable<StoredTombstone> {
    return this.#records('tombstones', PREFIX_TOMBSTONE, TOMBSTONE, 'tombstone');
  }

  // ---- expiry ----

  expiredPolicies(now: number, limit: number): Promise<ExpiredList> {
    return this.#expired('policy', now, limit);
  }

  expiredTombstones(now: number, limit: number): Promise<ExpiredList> {
    return this.#expired('tombstone', now, limit);
  }

  async #expired(kind: ExpiryKind, now: number, limit: number): Promise<ExpiredList> {
    checkNow(now);
    checkLimit(limit);
    const db = this.#open(kind === 'policy' ? 'expiredPolicies' : 'expiredTombstones');
    const type: RecordType<StoredPolicy | StoredTombstone> = kind === 'policy' ? POLICY : TOMBSTONE;
    const recordKey = (tag: Bytes) =>
      kind === 'policy' ? this.#keys.policyKey(tag) : this.#keys.tombstoneKey(tag);
    const snapshot = db.snapshot();
    try {
      const it = db.keys({ ...this.#keys.expiredRange(kind, now), snapshot });
      try {
        const out: ExpiredList = { entries: [], dangling: 0 };
        // Dangling entries do not count against the limit, so read on until it is met.
        while (out.entries.length < limit) {
          const indexKeys = await it.nextv(limit - out.entries.length);
          if (indexKeys.length === 0) break;
          const keys = indexKeys.map((k) => recordKey(tagOfIndexKey(k)));
          const values = await db.getMany(keys, { snapshot });
          for (const [i, raw] of values.entries()) {
            const expiry = expiryOfIndexKey(indexKeys[i]);
            const r = raw === undefined ? undefined : this.#sealer.openRecord(type, keys[i], raw, kind);
            if (r === undefined || r.expiry !== expiry) out.dangling++;
            else out.entries.push({ policyId: r.policyId, expiry });
          }
        }
        return out;
      } finally {
        await it.close();
      }
    } finally {
      await snapshot.close();
    }
  }

  // ---- counts and meta ----

  async countPolicies(): Promise<number> {
    this.#open('countPolicies');
    return this.#counts.policies;
  }

  async countTombstones(): Promise<number> {
    this.#open('countTombstones');
    return this.#counts.tombstones;
  }

  async getMeta(name: string): Promise<MetaValue | undefined> {
    const key = this.#keys.metaKey(checkMetaName(name));
    const raw = await this.#open('getMeta').get(key);
    return raw === undefined ? undefined : this.#sealer.openRecord(META, key, raw, `meta ${name}`).value;
  }

  async putMeta(name: string, value: MetaValue, options?: WriteOptions): Promise<void> {
    const key = this.#keys.metaKey(checkMetaName(name));
    const sealed = this.#sealer.sealRecord(META, key, { value: checkMetaValue(value) });
    await this.#write('putMeta', (db) => db.put(key, sealed, { sync: options?.sync === true }));
  }

  // ---- repair ----

  async repair(): Promise<RepairReport> {
    return this.#write('repair', async (db) => {
      const { ops, report } = await rebuildIndexes(db, this.#keys, this.#sealer);
      const counts = { policies: report.policies, tombstones: report.tombstones };
      ops.push(countsOp(this.#sealer, counts));
      await db.batch(ops, { sync: true });
      this.#counts = counts;
      return report;
    });
  }

  // ---- internals ----

  #open(operation: string): Db {
    if (this.#state !== 'open' || this.#db === undefined) throw new StoreClosedError(operation);
    return this.#db;
  }

  /** Runs `fn` after every write queued before it, so read-modify-write sees a settled store. */
  #write<T>(operation: string, fn: (db: Db) => Promise<T>): Promise<T> {
    const db = this.#open(operation);
    // the cached path lookups go stale from here (queued) until after it settles
    this.#generation++;
    const run = this.#tail
      .then(() => fn(db))
      .finally(() => {
        this.#generation++;
      });
    this.#tail = run.catch(() => {});
    return run;
  }

  async *#records<T>(operation: string, prefix: Bytes, type: RecordType<T>, what: string): AsyncGenerator<T> {
    const db = this.#open(operation);
    for await (const [key, raw] of db.iterator(prefixRange(prefix)))
      yield this.#sealer.openRecord(type, key, raw, what);
  }

  #wipe(): void {
    this.#state = 'closed';
    this.#generation++;
    this.#pathCache.clear();
    this.#keys.wipe();
    this.#sealer.wipe();
  }
}
