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

/** Re-encrypts one capsule; never throws. Input bytes are only read. */
export function reencryptOne(capsuleBytes, kfragBytes) {
  let capsule;
  try {
    capsule = Capsule.fromBytes(capsuleBytes);
  } catch (e) {
    return { status: isDecodeError(e) ? STATUS_BAD_CAPSULE : STATUS_INTERNAL };
  }
  let kfrag;
  const cacheKey = latin1(kfragBytes);
  kfrag = kfragCache.get(cacheKey);
  if (kfrag === undefined) {
    try {
      // skipVerification is justified here: the node verified this kfrag (owner signature,
      // commitment, binding to the reader's key) when it stored it, and the pool is only ever
      // given kfrags read back from the node's own encrypted, authenticated store. Verifying
      // again would double the cost of every re-encryption for no added assurance.
      kfrag = KeyFrag.fromBytes(kfragBytes).skipVerification();
    } catch (e) {
      return { status: isDecodeError(e) ? STATUS_BAD_KFRAG : STATUS_INTERNAL };
    }
    if (kfragCache.size >= KFRAG_CACHE_SIZE) kfragCache.delete(kfragCache.keys().next().value);
    kfragCache.set(cacheKey, kfrag);
  }
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

/**
 * Job layout: item i at i * ITEM_BYTES, its capsule then its kfrag. The bytes are copied, so
 * the caller's buffers are never transferred or detached, and later changes to them do not
 * reach a queued job. Every capsule and kfrag must already have its exact size.
 */
export function packItems(capsules, kfrags) {
  const n = capsules.length;
  const out = new Uint8Array(n * ITEM_BYTES);
  for (let i = 0; i < n; i++) {
    out.set(capsules[i], i * ITEM_BYTES);
    out.set(kfrags[i], i * ITEM_BYTES + CAPSULE_BYTES);
  }
  return out.buffer;
}

/** Runs every item of a packed job; returns the packed results (see unpackResults). */
export function reencryptPacked(buffer) {
  const data = new Uint8Array(buffer);
  if (data.length % ITEM_BYTES !== 0) throw new RangeError('job buffer is not a whole number of items');
  const n = data.length / ITEM_BYTES;
  const out = new Uint8Array(n + n * CFRAG_BYTES);
  for (let i = 0; i < n; i++) {
    const at = i * ITEM_BYTES;
    const r = reencryptOne(
      data.subarray(at, at + CAPSULE_BYTES),
      data.subarray(at + CAPSULE_BYTES, at + ITEM_BYTES),
    );
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
