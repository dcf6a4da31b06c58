/**
 * LevelStore's housekeeping: the checks at open (schema version, storage secret) and the
 * rebuild of indexes and counters from the records (`repair`). Key layout: ./keys.ts.
 */
import type { Level } from 'level';
import { StoreCorruptionError, StoreSchemaError } from './errors.js';
import {
  KEY_CHECK,
  KEY_COUNTS,
  KEY_SCHEMA,
  type KeyLayout,
  PREFIX_PATH,
  PREFIX_POLICY,
  PREFIX_POLICY_EXPIRY,
  PREFIX_TOMBSTONE,
  PREFIX_TOMBSTONE_EXPIRY,
  prefixRange,
  tagOfIndexKey,
} from './keys.js';
import { CHECK, CHECK_TEXT, COUNTS, type Counts, equalBytes, POLICY, TOMBSTONE } from './records.js';
import type { Sealer } from './seal.js';
import { type RepairReport, SCHEMA_VERSION } from './types.js';

type Bytes = Uint8Array;
export type Db = Level<Bytes, Bytes>;
export type Op = { type: 'put'; key: Bytes; value: Bytes } | { type: 'del'; key: Bytes };

/** Index entries carry nothing but their key; readers verify the record they point at. */
export const EMPTY = new Uint8Array(0);
export const putIndex = (key: Bytes): Op => ({ type: 'put', key, value: EMPTY });
export const del = (key: Bytes): Op => ({ type: 'del', key });
export const hex = (b: Bytes): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function countsOp(sealer: Sealer, counts: Counts): Op {
  return { type: 'put', key: KEY_COUNTS, value: sealer.sealRecord(COUNTS, KEY_COUNTS, counts) };
}

/** Checks the schema version and the secret, or writes them into a new, empty store. */
export async function initStore(db: Db, sealer: Sealer): Promise<Counts> {
  const schema = await db.get(KEY_SCHEMA);
  if (schema === undefined) {
    const any = await db.keys({ limit: 1 }).all();
    if (any.length > 0) throw new StoreCorruptionError('malformed', 'data without a schema version');
    const counts = { policies: 0, tombstones: 0 };
    const version = new Uint8Array(4);
    new DataView(version.buffer).setUint32(0, SCHEMA_VERSION);
    await db.batch(
      [
        { type: 'put', key: KEY_SCHEMA, value: version },
        { type: 'put', key: KEY_CHECK, value: sealer.sealRecord(CHECK, KEY_CHECK, { check: CHECK_TEXT }) },
        countsOp(sealer, counts),
      ],
      { sync: true },
    );
    return counts;
  }
  if (schema.length !== 4) throw new StoreCorruptionError('malformed', 'schema version is not a u32');
  const version = new DataView(schema.buffer, schema.byteOffset, 4).getUint32(0);
  if (version > SCHEMA_VERSION) throw new StoreSchemaError(version, SCHEMA_VERSION);
  if (version !== SCHEMA_VERSION) throw new StoreCorruptionError('malformed', `schema version ${version}`);
  const check = await db.get(KEY_CHECK);
  if (check === undefined) throw new StoreCorruptionError('malformed', 'no key-check record');
  try {
    sealer.openRecord(CHECK, KEY_CHECK, check, 'key check');
  } catch (cause) {
    if (!(cause instanceof StoreCorruptionError) || cause.reason !== 'unauthenticated') throw cause;
    throw new StoreCorruptionError(
      'wrong-secret',
      'the storage secret does not open this store (another identity?)',
      { cause },
    );
  }
  const counts = await db.get(KEY_COUNTS);
  if (counts === undefined) throw new StoreCorruptionError('malformed', 'no counts record');
  return sealer.openRecord(COUNTS, KEY_COUNTS, counts, 'counts');
}

/**
 * The batch that makes the indexes match the records: entries no record calls for are
 * removed, missing ones restored. Records that do not open are counted and left in place,
 * with any index entries that name them.
 */
export async function rebuildIndexes(
  db: Db,
  keys: KeyLayout,
  sealer: Sealer,
): Promise<{ ops: Op[]; report: RepairReport }> {
  // Every index entry the records call for, by hex key; and tags of records that do not open.
  const wanted = new Map<string, Bytes>();
  const corruptPolicies = new Set<string>();
  const corruptTombstones = new Set<string>();
  const report: RepairReport = {
    removedIndexEntries: 0,
    restoredIndexEntries: 0,
    corruptRecords: 0,
    policies: 0,
    tombstones: 0,
  };
  const want = (key: Bytes) => wanted.set(hex(key), key);
  for await (const [key, raw] of db.iterator(prefixRange(PREFIX_POLICY))) {
    report.policies++;
    const tag = key.subarray(PREFIX_POLICY.length);
    const p = sealer.tryOpenRecord(POLICY, key, raw, 'policy');
    if (p === 'corrupt' || !equalBytes(keys.idTag(p.policyId), tag)) {
      report.corruptRecords++;
      corruptPolicies.add(hex(tag));
    } else for (const key of keys.policyIndexKeys(p, tag)) want(key);
  }
  for await (const [key, raw] of db.iterator(prefixRange(PREFIX_TOMBSTONE))) {
    report.tombstones++;
    const tag = key.subarray(PREFIX_TOMBSTONE.length);
    const t = sealer.tryOpenRecord(TOMBSTONE, key, raw, 'tombstone');
    if (t === 'corrupt' || !equalBytes(keys.idTag(t.policyId), tag)) {
      report.corruptRecords++;
      corruptTombstones.add(hex(tag));
    } else want(keys.expiryKey('tombstone', t.expiry, tag));
  }
  const ops: Op[] = [];
  const indexes: [Bytes, Set<string>][] = [
    [PREFIX_PATH, corruptPolicies],
    [PREFIX_POLICY_EXPIRY, corruptPolicies],
    [PREFIX_TOMBSTONE_EXPIRY, corruptTombstones],
  ];
  for (const [prefix, corrupt] of indexes) {
    for await (const key of db.keys(prefixRange(prefix))) {
      const id = hex(key);
      if (wanted.delete(id)) continue;
      // Entries of a record that does not open cannot be checked: leave them with it.
      if (corrupt.has(hex(tagOfIndexKey(key)))) continue;
      ops.push({ type: 'del', key });
      report.removedIndexEntries++;
    }
  }
  for (const key of wanted.values()) {
    ops.push({ type: 'put', key, value: EMPTY });
    report.restoredIndexEntries++;
  }
  return { ops, report };
}
