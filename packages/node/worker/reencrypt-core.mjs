// The re-encryption a crypto worker runs, and the byte layout of the messages that carry it.
// Plain ESM JavaScript outside src/ on purpose: the worker thread loads this same file whether
// the pool runs from src/ (vitest) or from dist/ (production), and the pool's inline mode
// (workers: 0) imports it too, so inline and worker results come from one implementation.
// Types: reencrypt-core.d.mts.
import { Capsule, KeyFrag, reencrypt } from '@thresh/protocol';

/** Serialized sizes (umbral-pre 0.10 layouts, docs/PROTOCOL.md). */
export const CAPSULE_BYTES = 105;
export const KFRAG_BYTES = 310;
export const CFRAG_BYTES = 381;
export const ITEM_BYTES = CAPSULE_BYTES + KFRAG_BYTES;

/** Per-item outcome codes as they travel from a worker (one byte each). */
export const STATUS_OK = 0;
export const STATUS_BAD_CAPSULE = 1;
export const STATUS_BAD_KFRAG = 2;
export const STATUS_INTERNAL = 3;

/**
 * Parsed kfrags by their bytes: a batch usually re-encrypts many capsules with one policy's
 * kfrag, and parsing one costs two point decompressions. Bounded; oldest entry dropped first.
 * (The worker already holds these bytes; the cache keeps nothing the job buffers did not.)
 */
const KFRAG_CACHE_SIZE = 1024;
const kfragCache = new Map();

function latin1(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/**
 * A kfrag, parsed once and cached by its bytes; a STATUS_* number when it does not parse.
 */
function kfragOf(kfragBytes) {
  const key = latin1(kfragBytes);
  let kfrag = kfragCache.get(key);
  if (kfrag === undefined) {
    try {
      // skipVerification is justified here: the node verified this kfrag (owner signature,
      // commitment, binding to the reader's key) when it stored it, and the pool is only ever
      // given kfrags read back from the node's own encrypted, authenticated store. Verifying
      // again would double the cost of every re-encryption for no added assurance.
      kfrag = KeyFrag.fromBytes(kfragBytes).skipVerification();
    } catch (e) {
      return isDecodeError(e) ? STATUS_BAD_KFRAG : STATUS_INTERNAL;
    }
    if (kfragCache.size >= KFRAG_CACHE_SIZE) kfragCache.delete(kfragCache.keys().next().value);
    kfragCache.set(key, kfrag);
  }
  return kfrag;
}

/**
 * Re-encrypts one capsule with a parsed kfrag, or reports the kfrag's parse failure (a STATUS_*
 * number) once the capsule parsed: a bad capsule is the caller's error whatever the kfrag.
 * Never throws; input bytes are only read.
 */
function reencryptWith(capsuleBytes, kfrag) {
  let capsule;
  try {
    capsule = Capsule.fromBytes(capsuleBytes);
  } catch (e) {
    return { status: isDecodeError(e) ? STATUS_BAD_CAPSULE : STATUS_INTERNAL };
  }
  if (typeof kfrag === 'number') return { status: kfrag };
  try {
    const cfrag = reencrypt(capsule, kfrag).toBytes();
    if (cfrag.length !== CFRAG_BYTES) return { status: STATUS_INTERNAL };
    return { status: STATUS_OK, cfrag };
  } catch {
    return { status: STATUS_INTERNAL };
  }
}

/** Re-encrypts one capsule; never throws. Input bytes are only read. */
export function reencryptOne(capsuleBytes, kfragBytes) {
  // The kfrag is only parsed (or found in the cache) for a capsule that parses.
  let capsule;
  try {
    capsule = Capsule.fromBytes(capsuleBytes);
  } catch (e) {
    return { status: isDecodeError(e) ? STATUS_BAD_CAPSULE : STATUS_INTERNAL };
  }
  const kfrag = kfragOf(kfragBytes);
  if (typeof kfrag === 'number') return { status: kfrag };
  try {
    const cfrag = reencrypt(capsule, kfrag).toBytes();
    if (cfrag.length !== CFRAG_BYTES) return { status: STATUS_INTERNAL };
    return { status: STATUS_OK, cfrag };
  } catch {
    return { status: STATUS_INTERNAL };
  }
}

function isDecodeError(e) {
  return typeof e === 'object' && e !== null && e.code === 'ERR_DECODE';
}

/** Bytes of a job's header: item count, then distinct kfrag count (u32 little-endian each). */
const JOB_HEADER_BYTES = 8;
/** Bytes of one item in a job: its capsule, then the index of its kfrag (u32 little-endian). */
const JOB_ITEM_BYTES = CAPSULE_BYTES + 4;

/**
 * Job layout: a header (item count n, distinct kfrag count k), the k distinct kfrags, then the
 * n items, each its capsule and the index of its kfrag. A batch usually re-encrypts many
 * capsules with one policy's kfrag: it travels, and is looked up in the worker's cache, once
 * per job rather than once per item. Kfrags are told apart by identity (the same Uint8Array);
 * equal bytes in distinct arrays just take two entries. The bytes are copied, so the caller's
 * buffers are never transferred or detached, and later changes to them do not reach a queued
 * job. Every capsule and kfrag must already have its exact size.
 */
export function packItems(capsules, kfrags) {
  const n = capsules.length;
  const indexOf = new Map();
  const distinct = [];
  const index = new Array(n);
  for (let i = 0; i < n; i++) {
    let j = indexOf.get(kfrags[i]);
    if (j === undefined) {
      j = distinct.length;
      indexOf.set(kfrags[i], j);
      distinct.push(kfrags[i]);
    }
    index[i] = j;
  }
  const k = distinct.length;
  const itemsAt = JOB_HEADER_BYTES + k * KFRAG_BYTES;
  const out = new Uint8Array(itemsAt + n * JOB_ITEM_BYTES);
  const view = new DataView(out.buffer);
  view.setUint32(0, n, true);
  view.setUint32(4, k, true);
  for (let j = 0; j < k; j++) out.set(distinct[j], JOB_HEADER_BYTES + j * KFRAG_BYTES);
  for (let i = 0; i < n; i++) {
    const at = itemsAt + i * JOB_ITEM_BYTES;
    out.set(capsules[i], at);
    view.setUint32(at + CAPSULE_BYTES, index[i], true);
  }
  return out.buffer;
}

/** Runs every item of a packed job; returns the packed results (see unpackResults). */
export function reencryptPacked(buffer) {
  const data = new Uint8Array(buffer);
  if (data.length < JOB_HEADER_BYTES) throw new RangeError('job buffer has no header');
  const view = new DataView(buffer);
  const n = view.getUint32(0, true);
  const k = view.getUint32(4, true);
  const itemsAt = JOB_HEADER_BYTES + k * KFRAG_BYTES;
  if (data.length !== itemsAt + n * JOB_ITEM_BYTES)
    throw new RangeError('job buffer does not match its header');
  const parsed = new Array(k);
  for (let j = 0; j < k; j++) {
    const at = JOB_HEADER_BYTES + j * KFRAG_BYTES;
    parsed[j] = kfragOf(data.subarray(at, at + KFRAG_BYTES));
  }
  const out = new Uint8Array(n + n * CFRAG_BYTES);
  for (let i = 0; i < n; i++) {
    const at = itemsAt + i * JOB_ITEM_BYTES;
    const j = view.getUint32(at + CAPSULE_BYTES, true);
    if (j >= k) throw new RangeError('job item names a kfrag the job does not hold');
    const r = reencryptWith(data.subarray(at, at + CAPSULE_BYTES), parsed[j]);
    out[i] = r.status;
    if (r.cfrag) out.set(r.cfrag, n + i * CFRAG_BYTES);
  }
  return out.buffer;
}

/** Result layout: n status bytes, then n slots of CFRAG_BYTES (zero where the status is not OK). */
export function unpackResults(buffer, n) {
  const data = new Uint8Array(buffer);
  if (data.length !== n + n * CFRAG_BYTES) throw new RangeError(`result buffer does not hold ${n} items`);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const status = data[i];
    const at = n + i * CFRAG_BYTES;
    // slice: each cfrag owns its buffer, so a caller cannot reach (or detach) its neighbours
    out[i] = status === STATUS_OK ? { status, cfrag: data.slice(at, at + CFRAG_BYTES) } : { status };
  }
  return out;
}
