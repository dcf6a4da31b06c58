/**
 * What the store writes inside each value: one schema per record, in the versioned envelope
 * (DESIGN.md "Versions"). Both stores encode through these, so a record that MemoryStore
 * accepts LevelStore accepts too, and what comes back is always a checked copy.
 */
import {
  bytes,
  InvalidArgumentError,
  isThreshError,
  MessageType,
  safeUint,
  u32,
  unixSeconds,
  z,
} from '@thresh/protocol';
import { StoreCorruptionError } from './errors.js';
import {
  DIGEST_BYTES,
  type MetaValue,
  PATH_HASH_BYTES,
  POLICY_ID_BYTES,
  PUBLIC_KEY_BYTES,
  type StoredPolicy,
  type StoredTombstone,
} from './types.js';

/** Cap on each record bytes field (signed records, kfrag, receipt, certificates). */
export const MAX_FIELD_BYTES = 64 * 1024;
export const MAX_HANDOFF_CERTIFICATES = 16;
export const MAX_META_BYTES = 4096;

// Decoded binary fields may be views into a shared (pooled) buffer: hand out copies of our own.
const bin = (len: number | { min?: number; max: number }) => bytes(len).transform((b) => new Uint8Array(b));
const blob = () => bin({ min: 1, max: MAX_FIELD_BYTES });

const policySchema: z.ZodType<StoredPolicy> = z.object({
  policyId: bin(POLICY_ID_BYTES),
  policyDigest: bin(DIGEST_BYTES),
  pathHash: bin(PATH_HASH_BYTES),
  epoch: u32,
  expiry: unixSeconds,
  notBefore: unixSeconds,
  ownerSigningKey: bin(PUBLIC_KEY_BYTES),
  readerEncryptingKey: bin(PUBLIC_KEY_BYTES),
  policy: blob(),
  assignment: blob(),
  kfrag: blob(),
  receipt: blob(),
  storedAt: unixSeconds,
  source: z.enum(['store', 'handoff']),
  handoffCertificates: z.array(blob()).max(MAX_HANDOFF_CERTIFICATES).optional(),
});

const tombstoneSchema: z.ZodType<StoredTombstone> = z.object({
  policyId: bin(POLICY_ID_BYTES),
  revocation: blob(),
  expiry: unixSeconds,
  receivedAt: unixSeconds,
  published: blob().optional(),
});

const metaValueSchema: z.ZodType<MetaValue> = z.union([
  z.string().max(MAX_META_BYTES),
  z.number().refine(Number.isFinite, 'expected a finite number'),
  z.boolean(),
  bin({ max: MAX_META_BYTES }),
]);

export interface Counts {
  policies: number;
  tombstones: number;
}

export const CHECK_TEXT = 'thresh/v1/store';

const MiB = 1024 * 1024;
export const POLICY = new MessageType('store.policy', policySchema, 0, 2 * MiB);
export const TOMBSTONE = new MessageType('store.tombstone', tombstoneSchema, 0, 2 * MAX_FIELD_BYTES);
export const META = new MessageType(
  'store.meta',
  z.object({ value: metaValueSchema }),
  0,
  2 * MAX_META_BYTES,
);
export const COUNTS = new MessageType('store.counts', z.object({ policies: safeUint, tombstones: safeUint }));
export const CHECK = new MessageType('store.check', z.object({ check: z.literal(CHECK_TEXT) }));

/** Labelled guard for a caller's record: InvalidArgumentError naming the field at fault. */
function checked<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.path.length ? `${what}.${issue.path.join('.')}` : what;
  throw new InvalidArgumentError(path, issue.message);
}

/** A checked copy of the caller's policy, with an absent certificate list left out. */
export function checkPolicy(p: StoredPolicy): StoredPolicy {
  const out = checked(policySchema, p, 'policy');
  if (out.handoffCertificates === undefined) delete out.handoffCertificates;
  return out;
}

export function checkTombstone(t: StoredTombstone): StoredTombstone {
  return checked(tombstoneSchema, t, 'tombstone');
}

export function checkMetaValue(value: MetaValue): MetaValue {
  return checked(metaValueSchema, value, 'meta value');
}

const META_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function checkMetaName(name: string): string {
  if (typeof name !== 'string' || !META_NAME.test(name)) {
    throw new InvalidArgumentError(
      'meta name',
      'expected 1..64 of [a-z0-9._-], starting with a letter or digit',
    );
  }
  return name;
}

export function checkPolicyId(id: Uint8Array, field = 'policyId'): Uint8Array {
  if (!(id instanceof Uint8Array) || id.length !== POLICY_ID_BYTES) {
    throw new InvalidArgumentError(field, `expected ${POLICY_ID_BYTES} bytes`);
  }
  return id;
}

export function checkPathHash(h: Uint8Array): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== PATH_HASH_BYTES) {
    throw new InvalidArgumentError('pathHash', `expected ${PATH_HASH_BYTES} bytes`);
  }
  return h;
}

export function checkNow(now: number): number {
  if (!Number.isSafeInteger(now) || now < 0) throw new InvalidArgumentError('now', 'expected Unix seconds');
  return now;
}

export const MAX_QUERY_LIMIT = 10_000;

export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
    throw new InvalidArgumentError('limit', `expected an integer in 1..${MAX_QUERY_LIMIT}`);
  }
  return limit;
}

/** Decodes a stored record; anything that does not decode is StoreCorruptionError, never data. */
export function decodeRecord<T>(
  type: { decode(bytes: Uint8Array): T },
  plaintext: Uint8Array,
  where: string,
): T {
  try {
    return type.decode(plaintext);
  } catch (cause) {
    if (!isThreshError(cause)) throw cause;
    throw new StoreCorruptionError('malformed', `${where}: ${cause.message}`, { cause });
  }
}

/** Byte equality of ids and hashes (none of them secret). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
