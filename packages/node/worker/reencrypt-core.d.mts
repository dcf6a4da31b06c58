/** Types of reencrypt-core.mjs (plain JavaScript so one file serves src/ and dist/). */

export declare const CAPSULE_BYTES: 105;
export declare const KFRAG_BYTES: 310;
export declare const CFRAG_BYTES: 381;
export declare const ITEM_BYTES: 415;

export declare const STATUS_OK: 0;
export declare const STATUS_BAD_CAPSULE: 1;
export declare const STATUS_BAD_KFRAG: 2;
export declare const STATUS_INTERNAL: 3;
export type Status = 0 | 1 | 2 | 3;

export interface ItemResult {
  status: Status;
  /** Present when status is STATUS_OK. */
  cfrag?: Uint8Array;
}

export declare function reencryptOne(capsuleBytes: Uint8Array, kfragBytes: Uint8Array): ItemResult;
export declare function packItems(
  capsules: readonly Uint8Array[],
  kfrags: readonly Uint8Array[],
): ArrayBuffer;
export declare function reencryptPacked(buffer: ArrayBuffer): ArrayBuffer;
export declare function unpackResults(buffer: ArrayBuffer, n: number): ItemResult[];
