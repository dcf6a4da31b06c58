/**
 * MemoryStore: the NodeStore contract in memory, for handler unit tests. Nothing is encrypted
 * and nothing survives the process, but records go through the same schemas as LevelStore's
 * (encoded on put, decoded on get), so callers get the same validation and their own copies.
 */
import { InvalidArgumentError } from '@thresh/protocol';
import { StoreClosedError } from './errors.js';
import {
  checkLimit,
  checkMetaName,
  checkMetaValue,
  checkNow,
  checkPathHash,
  checkPolicy,
  checkPolicyId,
  checkTombstone,
  decodeRecord,
  META,
  POLICY,
  TOMBSTONE,
} from './records.js';
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

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

interface Entry {
  /** The encoded record. */
  bytes: Uint8Array;
  expiry: number;
  /** Hex path hash (policies only). */
  path?: string;
}

export class MemoryStore implements NodeStore {
  #state: 'new' | 'open' | 'closed' = 'new';
  /** By hex policy id. */
  readonly #policies = new Map<string, Entry>();
  readonly #tombstones = new Map<string, Entry>();
  /** Hex path hash -> hex policy ids. */
  readonly #byPath = new Map<string, Set<string>>();
  readonly #meta = new Map<string, Uint8Array>();

  async open(): Promise<void> {
    if (this.#state === 'closed') throw new StoreClosedError('open');
    this.#state = 'open';
  }

  async close(): Promise<void> {
    this.#state = 'closed';
  }

  toString(): string {
    return 'MemoryStore';
  }

  async putPolicy(policy: StoredPolicy, options?: WriteOptions): Promise<void> {
    return this.putPolicies([policy], options);
  }

  async putPolicies(list: readonly StoredPolicy[], _options?: WriteOptions): Promise<void> {
    if (!Array.isArray(list)) throw new InvalidArgumentError('policies', 'expected an array');
    const policies = list.map((p) => checkPolicy(p));
    this.#assertOpen('putPolicies');
    // Every check ran above: from here on nothing throws, so the change is all or nothing.
    for (const p of policies) {
      const id = hex(p.policyId);
      this.#removePolicy(id);
      const path = hex(p.pathHash);
      this.#policies.set(id, { bytes: POLICY.encode(p), expiry: p.expiry, path });
      const ids = this.#byPath.get(path) ?? new Set<string>();
      this.#byPath.set(path, ids.add(id));
    }
  }

  async getPolicy(policyId: Uint8Array): Promise<StoredPolicy | undefined> {
    checkPolicyId(policyId);
    this.#assertOpen('getPolicy');
    const e = this.#policies.get(hex(policyId));
    return e === undefined ? undefined : decodeRecord(POLICY, e.bytes, 'policy');
  }

  async policiesByPathHash(pathHash: Uint8Array): Promise<PathLookup> {
    checkPathHash(pathHash);
    this.#assertOpen('policiesByPathHash');
    const ids = this.#byPath.get(hex(pathHash)) ?? new Set<string>();
    const policies: StoredPolicy[] = [];
    for (const id of ids) {
      const e = this.#policies.get(id);
      if (e !== undefined) policies.push(decodeRecord(POLICY, e.bytes, 'policy'));
    }
    return { policies, dangling: 0 };
  }

  async deletePolicy(policyId: Uint8Array, _options?: WriteOptions): Promise<boolean> {
    checkPolicyId(policyId);
    this.#assertOpen('deletePolicy');
    return this.#removePolicy(hex(policyId));
  }

  async *policies(): AsyncGenerator<StoredPolicy> {
    this.#assertOpen('policies');
    for (const e of [...this.#policies.values()]) yield decodeRecord(POLICY, e.bytes, 'policy');
  }

  async putTombstone(tombstone: StoredTombstone, _options?: WriteOptions): Promise<TombstoneResult> {
    const t = checkTombstone(tombstone);
    this.#assertOpen('putTombstone');
    const id = hex(t.policyId);
    const policyDeleted = this.#removePolicy(id);
    this.#tombstones.set(id, { bytes: TOMBSTONE.encode(t), expiry: t.expiry });
    return { policyDeleted };
  }

  async getTombstone(policyId: Uint8Array): Promise<StoredTombstone | undefined> {
    checkPolicyId(policyId);
    this.#assertOpen('getTombstone');
    const e = this.#tombstones.get(hex(policyId));
    return e === undefined ? undefined : decodeRecord(TOMBSTONE, e.bytes, 'tombstone');
  }

  async deleteTombstone(policyId: Uint8Array, _options?: WriteOptions): Promise<boolean> {
    checkPolicyId(policyId);
    this.#assertOpen('deleteTombstone');
    return this.#tombstones.delete(hex(policyId));
  }

  async *tombstones(): AsyncGenerator<StoredTombstone> {
    this.#assertOpen('tombstones');
    for (const e of [...this.#tombstones.values()]) yield decodeRecord(TOMBSTONE, e.bytes, 'tombstone');
  }

  async expiredPolicies(now: number, limit: number): Promise<ExpiredList> {
    return this.#expired('expiredPolicies', this.#policies, now, limit, (b) =>
      decodeRecord(POLICY, b, 'policy'),
    );
  }

  async expiredTombstones(now: number, limit: number): Promise<ExpiredList> {
    return this.#expired('expiredTombstones', this.#tombstones, now, limit, (b) =>
      decodeRecord(TOMBSTONE, b, 'tombstone'),
    );
  }

  async countPolicies(): Promise<number> {
    this.#assertOpen('countPolicies');
    return this.#policies.size;
  }

  async countTombstones(): Promise<number> {
    this.#assertOpen('countTombstones');
    return this.#tombstones.size;
  }

  async getMeta(name: string): Promise<MetaValue | undefined> {
    checkMetaName(name);
    this.#assertOpen('getMeta');
    const bytes = this.#meta.get(name);
    return bytes === undefined ? undefined : decodeRecord(META, bytes, `meta ${name}`).value;
  }

  async putMeta(name: string, value: MetaValue, _options?: WriteOptions): Promise<void> {
    checkMetaName(name);
    const bytes = META.encode({ value: checkMetaValue(value) });
    this.#assertOpen('putMeta');
    this.#meta.set(name, bytes);
  }

  async repair(): Promise<RepairReport> {
    this.#assertOpen('repair');
    return {
      removedIndexEntries: 0,
      restoredIndexEntries: 0,
      corruptRecords: 0,
      policies: this.#policies.size,
      tombstones: this.#tombstones.size,
    };
  }

  #expired(
    operation: string,
    entries: Map<string, Entry>,
    now: number,
    limit: number,
    decode: (bytes: Uint8Array) => { policyId: Uint8Array; expiry: number },
  ): ExpiredList {
    checkNow(now);
    checkLimit(limit);
    this.#assertOpen(operation);
    const expired = [...entries.entries()]
      .filter(([, e]) => e.expiry <= now)
      .sort(([a, x], [b, y]) => x.expiry - y.expiry || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, limit);
    return {
      entries: expired.map(([, e]) => ({ policyId: decode(e.bytes).policyId, expiry: e.expiry })),
      dangling: 0,
    };
  }

  #removePolicy(id: string): boolean {
    const e = this.#policies.get(id);
    if (e === undefined) return false;
    this.#policies.delete(id);
    const ids = this.#byPath.get(e.path as string);
    ids?.delete(id);
    if (ids?.size === 0) this.#byPath.delete(e.path as string);
    return true;
  }

  #assertOpen(operation: string): void {
    if (this.#state !== 'open') throw new StoreClosedError(operation);
  }
}
