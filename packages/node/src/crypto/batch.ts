import { InvalidArgumentError } from '@thresh/protocol';
import {
  type ItemResult,
  STATUS_BAD_CAPSULE,
  STATUS_BAD_KFRAG,
  STATUS_OK,
} from '../../worker/reencrypt-core.mjs';

/** A batch's items and results as callers see them, their input guard, and the mapping from worker status codes. */

/** One re-encryption: a 105-byte Umbral capsule and a 310-byte kfrag the node verified when it stored it. */
export interface ReencryptItem {
  capsule: Uint8Array;
  kfrag: Uint8Array;
}

/**
 * - `BAD_CAPSULE`: the capsule does not parse (wrong length, off-curve point, failed self-check).
 * - `BAD_KFRAG`: the stored kfrag does not parse (a corrupt store; never expected).
 * - `INTERNAL`: the worker running the item crashed, or a bug; the caller can retry.
 */
export type ReencryptItemError = 'BAD_CAPSULE' | 'BAD_KFRAG' | 'INTERNAL';

/** A 381-byte serialized capsule fragment, or why the item failed. */
export type ReencryptResult = { cfrag: Uint8Array } | { error: ReencryptItemError };

/** Throws InvalidArgumentError unless `items` is an array of `{ capsule: Uint8Array, kfrag: Uint8Array }`. */
export function checkItems(items: readonly ReencryptItem[]): void {
  if (!Array.isArray(items)) throw new InvalidArgumentError('items', 'expected an array');
  for (let i = 0; i < items.length; i++) {
    const item: unknown = items[i];
    if (typeof item !== 'object' || item === null) {
      throw new InvalidArgumentError(`items[${i}]`, 'expected { capsule, kfrag }');
    }
    const { capsule, kfrag } = item as Partial<ReencryptItem>;
    if (!(capsule instanceof Uint8Array)) {
      throw new InvalidArgumentError(`items[${i}].capsule`, 'expected a Uint8Array');
    }
    if (!(kfrag instanceof Uint8Array))
      throw new InvalidArgumentError(`items[${i}].kfrag`, 'expected a Uint8Array');
  }
}

/** A worker's per-item outcome as the caller's result; anything unexpected is INTERNAL. */
export function toResult(r: ItemResult | undefined): ReencryptResult {
  if (r?.status === STATUS_OK && r.cfrag) return { cfrag: r.cfrag };
  if (r?.status === STATUS_BAD_CAPSULE) return { error: 'BAD_CAPSULE' };
  if (r?.status === STATUS_BAD_KFRAG) return { error: 'BAD_KFRAG' };
  return { error: 'INTERNAL' };
}
