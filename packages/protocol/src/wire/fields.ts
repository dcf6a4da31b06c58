/**
 * Field sizes and caps shared by the wire messages and DHT values (DESIGN.md "Nodes",
 * "Decrypt"). Signed records travel inside wire messages as their own bytes: the wire layer
 * bounds their length and leaves parsing and verifying to records/*, so the caps here are
 * outer bounds that must stay >= each record type's own `maxBytes` (test/wire-sizes.test.ts
 * checks that).
 */
import { bytes } from '../codec/schema.js';
import { MAX_PATH_DEPTH } from '../path.js';

/** Fixed and maximum byte lengths of the fields of wire messages. */
export const WIRE_SIZES = {
  /** HMAC-SHA256 path hash of one prefix level (DESIGN.md "Paths and path keys"). */
  pathHash: 32,
  /** Umbral capsule, Umbral's own bytes. */
  capsule: 105,
  /** Umbral capsule fragment, Umbral's own bytes. */
  cfrag: 381,
  policyId: 16,
  /** Compressed secp256k1 public key: node ids, DHT signers. */
  publicKey: 33,
  /** SHA-256: policy digests. */
  digest: 32,
  kfragId: 32,
  /** Prefix levels of one path: the root plus MAX_PATH_DEPTH segments. */
  maxLevels: MAX_PATH_DEPTH + 1,
  /** Signed policy record (records/policy.ts POLICY_MAX_BYTES). */
  maxPolicy: 16 * 1024,
  maxAssignment: 512,
  /** Sealed kfrag (records/sealed-kfrag.ts encodes ~700 bytes; room to grow). */
  maxSealedKFrag: 2 * 1024,
  maxReceipt: 512,
  maxRevocation: 512,
  maxNodeRecord: 16 * 1024,
  maxHandoffCertificate: 512,
  /** Certificates in one handoff chain (records/handoff.ts MAX_HANDOFF_CHAIN). */
  maxHandoffChain: 8,
  /** Sealed policy map (records/policy-map.ts: 256 KiB map + seal overhead). */
  maxSealedMap: 257 * 1024,
  /** Characters of an error message. */
  maxErrorMessage: 512,
  /** Characters of a version string in a status reply. */
  maxVersion: 64,
} as const;

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/**
 * A binary field of exactly `len` bytes (or within bounds), copied out of the decoded buffer:
 * msgpackr hands back Buffer views over the input, and a decoded message must not alias it.
 */
export function bin(len?: number | { min?: number; max: number }) {
  return bytes(len).transform(copy);
}

/** A signed record's bytes: non-empty, at most `max`. Parsed and verified by records/*, not here. */
export function recordBytes(max: number) {
  return bin({ min: 1, max });
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
