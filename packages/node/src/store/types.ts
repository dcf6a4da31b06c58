/**
 * The node's durable store (DESIGN.md "Nodes": Storage; "Revoke, expiry, rotation"). The node
 * decides what a record holds; the store keeps records, their indexes and counters, and never
 * needs to understand the cryptography inside them. Two implementations follow this contract:
 * LevelStore (LevelDB, sealed at rest) and MemoryStore (for handler unit tests); one compliance
 * suite (packages/node/test/store-compliance.ts) runs against both.
 */

/** The on-disk schema this build writes and reads. A store with a newer one is refused. */
export const SCHEMA_VERSION = 1;

export const POLICY_ID_BYTES = 16;
export const DIGEST_BYTES = 32;
export const PATH_HASH_BYTES = 32;
export const PUBLIC_KEY_BYTES = 33;

/** How a node came to hold a policy's kfrag: granted by its owner, or handed off by a node. */
export type PolicySource = 'store' | 'handoff';

/**
 * A live policy as a node holds it. `kfrag` is the verified kfrag: a secret. Never log a
 * StoredPolicy.
 */
export interface StoredPolicy {
  /** 16 bytes. */
  policyId: Uint8Array;
  /** SHA-256 of the signed policy record, 32 bytes. */
  policyDigest: Uint8Array;
  /** The level path hash the policy grants, 32 bytes. Several policies may share one. */
  pathHash: Uint8Array;
  epoch: number;
  /** Unix seconds; the policy is live while now < expiry. */
  expiry: number;
  /** Unix seconds. */
  notBefore: number;
  /** Compressed secp256k1 point, 33 bytes. */
  ownerSigningKey: Uint8Array;
  /** Compressed secp256k1 point, 33 bytes. */
  readerEncryptingKey: Uint8Array;
  /** The signed policy record's bytes. */
  policy: Uint8Array;
  /** The signed assignment record's bytes. */
  assignment: Uint8Array;
  /** The verified kfrag's bytes. Secret. */
  kfrag: Uint8Array;
  /** The receipt this node signed when it stored the policy. */
  receipt: Uint8Array;
  /** Unix seconds. */
  storedAt: number;
  source: PolicySource;
  /** For source 'handoff': the chain of handoff certificates, oldest first. */
  handoffCertificates?: Uint8Array[];
}

/** What remains of a revoked policy: kept until `expiry` so the revocation stays final. */
export interface StoredTombstone {
  /** 16 bytes. */
  policyId: Uint8Array;
  /** The signed revocation record's bytes. */
  revocation: Uint8Array;
  /** Unix seconds: keep until (the node sets the revocation's expiry plus one day). */
  expiry: number;
  /** Unix seconds. */
  receivedAt: number;
  /**
   * The owner-signed DHT value of the revocation (checked), when the owner sent it: the node
   * republishes it while it keeps the tombstone (DESIGN.md "Revoke").
   */
  published?: Uint8Array;
}

export interface WriteOptions {
  /**
   * Resolve only once the write is on disk (fsync). Default false. Use it for every write a
   * receipt acknowledges (store, revoke, handoff).
   */
  sync?: boolean;
}

/** Small values kept under a name (e.g. the node record's sequence number). */
export type MetaValue = string | number | boolean | Uint8Array;

/** Result of a read through an index: records found, and index entries that led nowhere. */
export interface PathLookup {
  policies: StoredPolicy[];
  /**
   * Index entries skipped because their record is missing or no longer matches (never after
   * the store's own atomic batches; only after damage or a foreign writer). Non-zero means:
   * log it and call `repair()`.
   */
  dangling: number;
}

export interface ExpiredEntry {
  policyId: Uint8Array;
  expiry: number;
}

export interface ExpiredList {
  /** In ascending expiry order (ties in unspecified order), at most `limit` entries. */
  entries: ExpiredEntry[];
  /** As in PathLookup; dangling entries do not count against the limit. */
  dangling: number;
}

export interface TombstoneResult {
  /** Whether a live policy with the id was deleted in the same batch. */
  policyDeleted: boolean;
}

export interface RepairReport {
  /** Index entries removed because they pointed at nothing or at a record that moved. */
  removedIndexEntries: number;
  /** Index entries written because a record lacked them. */
  restoredIndexEntries: number;
  /** Records that do not open or decode; left in place (they may be evidence). */
  corruptRecords: number;
  policies: number;
  tombstones: number;
}

export interface NodeStore {
  /** Opens (creating on first use) and checks the schema version and the storage secret. */
  open(): Promise<void>;
  /** Waits for writes under way, then closes. Later calls throw StoreClosedError. */
  close(): Promise<void>;

  /** Inserts or replaces the policy with this id, and its indexes, in one batch. */
  putPolicy(policy: StoredPolicy, options?: WriteOptions): Promise<void>;
  /** As putPolicy for many, in one batch; a later entry with the same id wins. */
  putPolicies(policies: readonly StoredPolicy[], options?: WriteOptions): Promise<void>;
  getPolicy(policyId: Uint8Array): Promise<StoredPolicy | undefined>;
  /** Every stored policy whose pathHash equals `pathHash`, whatever its expiry. */
  policiesByPathHash(pathHash: Uint8Array): Promise<PathLookup>;
  /** Deletes the policy (its kfrag) and its indexes in one batch; false if there was none. */
  deletePolicy(policyId: Uint8Array, options?: WriteOptions): Promise<boolean>;
  /** Every stored policy, in unspecified order. Do not write to the store while iterating. */
  policies(): AsyncIterable<StoredPolicy>;

  /**
   * Stores (or replaces) the tombstone and deletes the policy with the same id, with its kfrag
   * and indexes, in one batch. The store does not refuse a later putPolicy of the id: the node
   * does, by checking getTombstone first.
   */
  putTombstone(tombstone: StoredTombstone, options?: WriteOptions): Promise<TombstoneResult>;
  getTombstone(policyId: Uint8Array): Promise<StoredTombstone | undefined>;
  deleteTombstone(policyId: Uint8Array, options?: WriteOptions): Promise<boolean>;
  /** Every stored tombstone, in unspecified order. */
  tombstones(): AsyncIterable<StoredTombstone>;

  /** Policies with expiry <= now (expired: live while now < expiry), oldest first. */
  expiredPolicies(now: number, limit: number): Promise<ExpiredList>;
  /** Tombstones with expiry <= now, oldest first. */
  expiredTombstones(now: number, limit: number): Promise<ExpiredList>;

  countPolicies(): Promise<number>;
  countTombstones(): Promise<number>;

  /** `name`: 1..64 of [a-z0-9._-], starting with a letter or digit. */
  getMeta(name: string): Promise<MetaValue | undefined>;
  putMeta(name: string, value: MetaValue, options?: WriteOptions): Promise<void>;

  /**
   * Rebuilds indexes and counters from the records (removing dangling entries, restoring
   * missing ones) in one synced batch. For startup after damage, or after a read reported
   * dangling entries.
   */
  repair(): Promise<RepairReport>;
}
