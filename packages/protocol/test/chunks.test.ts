import { createHash, randomBytes } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nobleAeads } from '../src/aead/index.js';
import { aeads as nodeAeads } from '../src/aead/node.js';
import type { AeadId } from '../src/aead/types.js';
import { DecryptionError, InvalidArgumentError, TooLargeError } from '../src/errors.js';
import {
  type ChunkParams,
  chunkCount,
  chunkLayout,
  chunkOffset,
  DEFAULT_CHUNK_SIZE,
  decryptChunks,
  decryptChunksSync,
  encryptChunks,
  encryptChunksSync,
  MAX_CHUNK_SIZE,
  MIN_CHUNK_SIZE,
  openChunk,
  sealChunk,
  sealedChunkLength,
  sealedStreamLength,
} from '../src/file/chunks.js';

const CS = 4096;
const SEALED = CS + 16;
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

function params(id: AeadId, chunkSize = CS): ChunkParams {
  return {
    aead: nodeAeads[id],
    dek: bytes(32),
    fileNonce: bytes(32),
    headerHash: new Uint8Array(createHash('sha256').update('header').digest()),
    chunkSize,
  };
}

async function* from(pieces: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield piece;
}

async function collect(gen: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const piece of gen) out.push(piece);
  return out;
}

/** Byte equality without vitest's element-wise deep equality, which is slow on large arrays. */
function expectBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)).toBe(true);
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Splits `data` at the given cut points (any order, duplicates allowed: empty pieces). */
function split(data: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...cuts.map((c) => c % (data.length + 1)), data.length].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    pieces.push(data.subarray(prev, p));
    prev = p;
  }
  return pieces;
}

async function encrypt(p: ChunkParams, plaintext: Uint8Array, cuts: number[] = []): Promise<Uint8Array[]> {
  return collect(encryptChunks(p, from(split(plaintext, cuts))));
}

async function decrypt(p: ChunkParams, sealed: Uint8Array, cuts: number[] = []): Promise<Uint8Array> {
  return concat(await collect(decryptChunks(p, from(split(sealed, cuts)))));
}

async function expectDecryptFails(p: ChunkParams, sealed: Uint8Array, message: RegExp): Promise<void> {
  await expect(decrypt(p, sealed)).rejects.toThrow(DecryptionError);
  await expect(decrypt(p, sealed)).rejects.toThrow(message);
  expect(() => decryptChunksSync(p, sealed)).toThrow(DecryptionError);
  expect(() => decryptChunksSync(p, sealed)).toThrow(message);
}

describe('sizes and offsets', () => {
  it('computes chunk counts, offsets and stream lengths', () => {
    expect(DEFAULT_CHUNK_SIZE).toBe(1048576);
    expect(sealedChunkLength(CS)).toBe(SEALED);
    expect(chunkOffset(CS, 0)).toBe(0);
    expect(chunkOffset(CS, 3)).toBe(3 * SEALED);
    expect(chunkCount(CS, 0)).toBe(1);
    expect(chunkCount(CS, CS)).toBe(1);
    expect(chunkCount(CS, CS + 1)).toBe(2);
    expect(sealedStreamLength(CS, 0)).toBe(16);
    expect(sealedStreamLength(CS, 3 * CS)).toBe(3 * SEALED);
    for (const n of [0, 1, CS - 1, CS, CS + 1, 3 * CS, 5 * CS + 7]) {
      expect(chunkLayout(CS, sealedStreamLength(CS, n))).toEqual({
        plaintextLength: n,
        chunks: chunkCount(CS, n),
      });
    }
    for (const bad of [0, 15, SEALED + 15, 2 * SEALED + 1]) {
      expect(() => chunkLayout(CS, bad)).toThrow(DecryptionError);
    }
  });

  it('rejects chunk sizes outside the allowed range', () => {
    for (const bad of [0, MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1, 4096.5, Number.NaN]) {
      expect(() => sealedChunkLength(bad)).toThrow(InvalidArgumentError);
      expect(() => encryptChunksSync(params(1, bad), new Uint8Array(0))).toThrow(/^chunkSize:/);
    }
    expect(() => chunkOffset(CS, -1)).toThrow(/^index:/);
  });

  it('rejects malformed params with InvalidArgumentError naming the field', () => {
    const p = params(1);
    expect(() => encryptChunksSync({ ...p, dek: bytes(16) }, bytes(1))).toThrow(/^dek:/);
    expect(() => encryptChunksSync({ ...p, fileNonce: bytes(24) }, bytes(1))).toThrow(/^fileNonce:/);
    expect(() => encryptChunksSync({ ...p, headerHash: bytes(31) }, bytes(1))).toThrow(/^headerHash:/);
    expect(() => sealChunk(p, 0, false, bytes(CS - 1))).toThrow(InvalidArgumentError);
    expect(() => sealChunk(p, 0, true, bytes(CS + 1))).toThrow(TooLargeError);
    expect(() => sealChunk(p, 1.5, true, bytes(1))).toThrow(/^index:/);
  });
});

describe('the chunk derivation (DESIGN.md "The encrypted file")', () => {
  it('seals chunk i under HKDF(DEK, file nonce, "thresh/v1/chunk" || u64be(i)) with nonce i || final', () => {
    for (const id of [1, 2] as const) {
      const p = params(id);
      const index = 0x1_0000_0002; // exercises the high word of u64be
      const info = new Uint8Array([...new TextEncoder().encode('thresh/v1/chunk'), 0, 0, 0, 1, 0, 0, 0, 2]);
      const key = hkdf(sha256, p.dek, p.fileNonce, info, 32);
      const nonce = new Uint8Array(p.aead.nonceLength);
      nonce.set([0, 0, 0, 1, 0, 0, 0, 2, 1]);
      const msg = bytes(100);
      const expected = nobleAeads[id].seal(key, nonce, msg, p.headerHash);
      expectBytes(sealChunk(p, index, true, msg), expected);
      nonce[8] = 0;
      const full = bytes(CS);
      expectBytes(sealChunk(p, index, false, full), nobleAeads[id].seal(key, nonce, full, p.headerHash));
    }
  });
});

describe.each([1, 2] as const)('AEAD id %i', (id) => {
  it.each([0, 1, CS - 1, CS, CS + 1, 3 * CS, 3 * CS + 5])('round-trips %i bytes', async (n) => {
    const p = params(id);
    const plaintext = bytes(n);
    const chunks = await encrypt(p, plaintext);
    expect(chunks.length).toBe(chunkCount(CS, n));
    for (const [i, c] of chunks.entries()) {
      expect(c.length).toBe(i < chunks.length - 1 ? SEALED : n - i * CS + 16);
    }
    const sealed = concat(chunks);
    expect(sealed.length).toBe(sealedStreamLength(CS, n));
    expectBytes(encryptChunksSync(p, plaintext), sealed);
    expectBytes(await decrypt(p, sealed), plaintext);
    expectBytes(decryptChunksSync(p, sealed), plaintext);
  });

  it('round-trips with arbitrary piece boundaries on either side', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 5 * CS + 100 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (n, inCuts, outCuts) => {
          const p = params(id);
          const plaintext = bytes(n);
          const sealed = concat(await encrypt(p, plaintext, inCuts));
          expectBytes(sealed, encryptChunksSync(p, plaintext));
          expectBytes(await decrypt(p, sealed, outCuts), plaintext);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('gives the same stream on node:crypto and @noble/ciphers', async () => {
    const p = params(id);
    const plaintext = bytes(2 * CS + 77);
    const sealed = encryptChunksSync(p, plaintext);
    const noble = { ...p, aead: nobleAeads[id] };
    expectBytes(encryptChunksSync(noble, plaintext), sealed);
    expectBytes(await decrypt(noble, sealed, [5000]), plaintext);
  });

  it('accepts sync iterables and Buffers as sources', async () => {
    const p = params(id);
    const plaintext = bytes(2 * CS + 3);
    const sealed = concat(await collect(encryptChunks(p, [Buffer.from(plaintext)])));
    expectBytes(concat(await collect(decryptChunks(p, [sealed]))), plaintext);
  });

  it('decrypts any chunk alone (random access)', () => {
    const p = params(id);
    const plaintext = bytes(4 * CS + 10);
    const sealed = encryptChunksSync(p, plaintext);
    const { chunks } = chunkLayout(CS, sealed.length);
    expect(chunks).toBe(5);
    for (const i of [3, 0, 4, 1, 2]) {
      const start = chunkOffset(CS, i);
      const chunk = sealed.subarray(start, start + sealedChunkLength(CS));
      const final = i === chunks - 1;
      expectBytes(openChunk(p, i, final, chunk), plaintext.subarray(i * CS, (i + 1) * CS));
      // The wrong index or final flag does not open it.
      expect(() => openChunk(p, i + 1, final, chunk)).toThrow(DecryptionError);
      expect(() => openChunk(p, i, !final, chunk)).toThrow(DecryptionError);
    }
  });

  it('rejects a stream truncated at a chunk boundary', async () => {
    const p = params(id);
    const sealed = encryptChunksSync(p, bytes(3 * CS + 10));
    await expectDecryptFails(p, sealed.subarray(0, 3 * SEALED), /truncated.*chunk 2/);
    await expectDecryptFails(p, sealed.subarray(0, SEALED), /truncated/);
    // An exact multiple of chunkSize ends with a full final chunk: dropping it is caught too.
    const even = encryptChunksSync(p, bytes(3 * CS));
    expect(even.length).toBe(3 * SEALED);
    await expectDecryptFails(p, even.subarray(0, 2 * SEALED), /truncated/);
  });

  it('rejects an empty stream and a stream cut inside a chunk', async () => {
    const p = params(id);
    await expectDecryptFails(p, new Uint8Array(0), /truncated: empty/);
    const sealed = encryptChunksSync(p, bytes(2 * CS));
    for (const cut of [1, 15, SEALED + 7, SEALED + 16, 2 * SEALED - 1]) {
      await expectDecryptFails(p, sealed.subarray(0, cut), /truncated|tampered/);
    }
  });

  it('rejects bytes after the final chunk', async () => {
    const p = params(id);
    for (const n of [0, 10, CS, 2 * CS]) {
      const sealed = encryptChunksSync(p, bytes(n));
      for (const extra of [1, 16, SEALED, SEALED + 20]) {
        const longer = concat([sealed, bytes(extra)]);
        await expect(decrypt(p, longer)).rejects.toThrow(DecryptionError);
        expect(() => decryptChunksSync(p, longer)).toThrow(DecryptionError);
      }
    }
    // A full final chunk followed by more is named as trailing data.
    const full = encryptChunksSync(p, bytes(2 * CS));
    await expectDecryptFails(p, concat([full, new Uint8Array(40)]), /trailing data.*chunk 1/);
    await expectDecryptFails(p, concat([full, full]), /trailing data.*chunk 1/);
  });

  it('rejects swapped, duplicated and dropped chunks', async () => {
    const p = params(id);
    const chunks = await encrypt(p, bytes(3 * CS + 1));
    const [a, b, c, d] = chunks;
    await expectDecryptFails(p, concat([b, a, c, d]), /tampered chunk 0/);
    await expectDecryptFails(p, concat([a, c, b, d]), /tampered chunk 1/);
    await expectDecryptFails(p, concat([a, a, c, d]), /tampered chunk 1/);
    await expectDecryptFails(p, concat([a, c, d]), /tampered chunk 1/);
  });

  it('rejects a flipped bit anywhere', async () => {
    const p = params(id);
    const sealed = encryptChunksSync(p, bytes(2 * CS + 100));
    await fc.assert(
      fc.asyncProperty(fc.nat(sealed.length - 1), fc.integer({ min: 0, max: 7 }), async (pos, bit) => {
        const bad = sealed.slice();
        bad[pos] ^= 1 << bit;
        const chunk = Math.floor(pos / SEALED);
        await expectDecryptFails(p, bad, new RegExp(`tampered chunk ${chunk}`));
      }),
      { numRuns: 40 },
    );
  });

  it('rejects a wrong header hash, DEK or file nonce', async () => {
    const p = params(id);
    const sealed = encryptChunksSync(p, bytes(CS + 1));
    const badHash = p.headerHash.slice();
    badHash[0] ^= 1;
    await expectDecryptFails({ ...p, headerHash: badHash }, sealed, /tampered chunk 0/);
    await expectDecryptFails({ ...p, dek: bytes(32) }, sealed, /tampered chunk 0/);
    await expectDecryptFails({ ...p, fileNonce: bytes(32) }, sealed, /tampered chunk 0/);
    await expectDecryptFails({ ...p, aead: nodeAeads[id === 1 ? 2 : 1] }, sealed, /tampered chunk 0/);
  });

  it('never yields plaintext of a chunk that did not authenticate', async () => {
    const p = params(id);
    const plaintext = bytes(3 * CS);
    const sealed = encryptChunksSync(p, plaintext);
    sealed[SEALED + 5] ^= 1; // chunk 1
    const seen: Uint8Array[] = [];
    await expect(
      (async () => {
        for await (const piece of decryptChunks(p, from([sealed]))) seen.push(piece);
      })(),
    ).rejects.toThrow(/tampered chunk 1/);
    expect(seen.length).toBe(1);
    expectBytes(seen[0], plaintext.subarray(0, CS));
  });

  it('does not hold the whole file: a lazy source is consumed a chunk ahead', async () => {
    const p = params(id);
    let produced = 0;
    async function* source(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 10; i++) {
        produced += CS;
        yield new Uint8Array(CS);
      }
    }
    const gen = encryptChunks(p, source());
    const first = await gen.next();
    expect(first.value?.length).toBe(SEALED);
    expect(produced).toBeLessThanOrEqual(2 * CS);
    await gen.return(undefined);
  });
});

describe('default chunk size', () => {
  it('round-trips a few MiB with 1 MiB chunks in odd pieces', async () => {
    const p = params(1, DEFAULT_CHUNK_SIZE);
    const plaintext = bytes(3 * DEFAULT_CHUNK_SIZE + 12345);
    const sealed = concat(await encrypt(p, plaintext, [1, 777_777, 2_500_000]));
    expect(sealed.length).toBe(sealedStreamLength(DEFAULT_CHUNK_SIZE, plaintext.length));
    expectBytes(await decrypt(p, sealed, [3, 1_048_592, 1_048_593]), plaintext);
  });
});
