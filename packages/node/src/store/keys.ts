/**
 * LevelStore's key layout (DESIGN.md "Nodes": record keys are never readable data). Every id
 * and path hash appears on disk only as HMAC-SHA256 under the store's index key, so a copy of
 * the data directory cannot be matched against ids or path hashes seen on the network. Layout
 * (all keys binary; `tag` = 32-byte HMAC tag; `u64be` = expiry in Unix seconds):
 *
 *   s/schema                      u32be schema version, in the clear (read before any key)
 *   s/check                       sealed key-check record: a wrong storage secret fails at open
 *   s/counts                      sealed { policies, tombstones }
 *   m/<name>                      sealed meta value; name is a constant of the code
 *   p/<idTag>                     sealed policy record (holds the kfrag)
 *   t/<idTag>                     sealed tombstone record
 *   h/<pathTag>/<idTag>           empty: path-hash index
 *   e/p/<u64be expiry><idTag>     empty: policy expiry index
 *   e/t/<u64be expiry><idTag>     empty: tombstone expiry index
 *
 * idTag = HMAC(indexKey, 0x01 || policyId), pathTag = HMAC(indexKey, 0x02 || pathHash).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { InvalidArgumentError } from '@thresh/protocol';

export const MIN_SECRET_BYTES = 32;
export const MAX_SECRET_BYTES = 64;
export const TAG_BYTES = 32;

const INFO_INDEX = utf8ToBytes('thresh/v1/store/index');
const INFO_SEAL = utf8ToBytes('thresh/v1/store/seal');
const TAG_POLICY_ID = Uint8Array.of(0x01);
const TAG_PATH_HASH = Uint8Array.of(0x02);

/** The two keys of a store, each HKDF-SHA256 (RFC 5869) of the storage secret with its own info. */
export function deriveStoreKeys(secret: Uint8Array): { indexKey: Uint8Array; sealKey: Uint8Array } {
  if (!(secret instanceof Uint8Array))
    throw new InvalidArgumentError('storage secret', 'expected a Uint8Array');
  if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
    throw new InvalidArgumentError(
      'storage secret',
      `expected ${MIN_SECRET_BYTES}..${MAX_SECRET_BYTES} bytes, got ${secret.length}`,
    );
  }
  return {
    indexKey: hkdf(sha256, secret, undefined, INFO_INDEX, 32),
    sealKey: hkdf(sha256, secret, undefined, INFO_SEAL, 32),
  };
}

const ascii = (s: string) => utf8ToBytes(s);
export const KEY_SCHEMA = ascii('s/schema');
export const KEY_CHECK = ascii('s/check');
export const KEY_COUNTS = ascii('s/counts');
export const PREFIX_META = ascii('m/');
export const PREFIX_POLICY = ascii('p/');
export const PREFIX_TOMBSTONE = ascii('t/');
export const PREFIX_PATH = ascii('h/');
export const PREFIX_POLICY_EXPIRY = ascii('e/p/');
export const PREFIX_TOMBSTONE_EXPIRY = ascii('e/t/');
const SLASH = ascii('/');

export type ExpiryKind = 'policy' | 'tombstone';

export interface Range {
  gte: Uint8Array;
  lt: Uint8Array;
}

export function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(n));
  return out;
}

/** Every key that starts with `prefix`. */
export function prefixRange(prefix: Uint8Array): Range {
  const lt = prefix.slice();
  // The least key above every key with this prefix: bump the last byte below 0xff, drop the rest.
  let i = lt.length - 1;
  while (i >= 0 && lt[i] === 0xff) i--;
  if (i < 0) throw new InvalidArgumentError('prefix', 'has no upper bound');
  lt[i]++;
  return { gte: prefix, lt: lt.subarray(0, i + 1) };
}

export class KeyLayout {
  readonly #indexKey: Uint8Array;

  constructor(indexKey: Uint8Array) {
    this.#indexKey = indexKey;
  }

  idTag(policyId: Uint8Array): Uint8Array {
    return hmac(sha256, this.#indexKey, concatBytes(TAG_POLICY_ID, policyId));
  }

  pathTag(pathHash: Uint8Array): Uint8Array {
    return hmac(sha256, this.#indexKey, concatBytes(TAG_PATH_HASH, pathHash));
  }

  policyKey(idTag: Uint8Array): Uint8Array {
    return concatBytes(PREFIX_POLICY, idTag);
  }

  tombstoneKey(idTag: Uint8Array): Uint8Array {
    return concatBytes(PREFIX_TOMBSTONE, idTag);
  }

  pathKey(pathTag: Uint8Array, idTag: Uint8Array): Uint8Array {
    return concatBytes(PREFIX_PATH, pathTag, SLASH, idTag);
  }

  pathRange(pathTag: Uint8Array): Range {
    return prefixRange(concatBytes(PREFIX_PATH, pathTag, SLASH));
  }

  expiryKey(kind: ExpiryKind, expiry: number, idTag: Uint8Array): Uint8Array {
    return concatBytes(expiryPrefix(kind), u64be(expiry), idTag);
  }

  /** Expiry index entries with expiry <= now. */
  expiredRange(kind: ExpiryKind, now: number): Range {
    const prefix = expiryPrefix(kind);
    return { gte: prefix, lt: concatBytes(prefix, u64be(now + 1)) };
  }

  /** The index entries a policy has: path hash, expiry. */
  policyIndexKeys(p: { pathHash: Uint8Array; expiry: number }, idTag: Uint8Array): Uint8Array[] {
    return [this.pathKey(this.pathTag(p.pathHash), idTag), this.expiryKey('policy', p.expiry, idTag)];
  }

  metaKey(name: string): Uint8Array {
    return concatBytes(PREFIX_META, ascii(name));
  }

  wipe(): void {
    this.#indexKey.fill(0);
  }
}

export function expiryPrefix(kind: ExpiryKind): Uint8Array {
  return kind === 'policy' ? PREFIX_POLICY_EXPIRY : PREFIX_TOMBSTONE_EXPIRY;
}

/** The idTag every index key ends with. */
export function tagOfIndexKey(key: Uint8Array): Uint8Array {
  return key.subarray(key.length - TAG_BYTES);
}

/** The expiry an expiry index key carries. */
export function expiryOfIndexKey(key: Uint8Array): number {
  const view = new DataView(key.buffer, key.byteOffset + PREFIX_POLICY_EXPIRY.length, 8);
  return Number(view.getBigUint64(0));
}
