/** Byte helpers shared by the Umbral tests. */

import { createHash } from 'node:crypto';

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function unhex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new Error(`not lowercase hex: ${s.slice(0, 40)}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * The "sha256-counter" recipe of the vectors: SHA-256(seed || u32be(0)) || SHA-256(seed ||
 * u32be(1)) || ..., truncated to `length` bytes.
 */
export function counterStreamBytes(seed: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const block = new Uint8Array(seed.length + 4);
  block.set(seed);
  const view = new DataView(block.buffer);
  for (let i = 0, off = 0; off < length; i++, off += 32) {
    view.setUint32(seed.length, i, false);
    out.set(sha256(block).subarray(0, Math.min(32, length - off)), off);
  }
  return out;
}

/** Cryptographically random bytes (for the non-deterministic cross tests). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) globalThis.crypto.getRandomValues(out.subarray(off, off + 65536));
  return out;
}

export function randomInt(maxExclusive: number): number {
  const b = randomBytes(4);
  return new DataView(b.buffer).getUint32(0) % maxExclusive;
}
