/**
 * The chunked data format of an encrypted file (DESIGN.md "The encrypted file"): the STREAM
 * construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015) with a per-chunk key.
 *
 *   key_i   = HKDF-SHA256(ikm = DEK, salt = file nonce, info = "thresh/v1/chunk" || u64be(i), 32)
 *   nonce_i = u64be(i) || final flag (0x01 on the last chunk, else 0x00) || zeros to nonceLength
 *   AAD     = SHA-256(header), given by the caller as `headerHash`
 *   chunk_i = AEAD.seal(key_i, nonce_i, plaintext_i, AAD)            (plaintext_i + 16 bytes)
 *
 * Every chunk but the last holds exactly chunkSize plaintext bytes; the last holds 0..chunkSize
 * and the final flag. An empty file is one empty final chunk. The index in key and nonce stops
 * reordering; the final flag stops truncation at a chunk boundary and appending. Pure, no I/O.
 */
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { Aead } from '../aead/types.js';
import { checkBytes, TAG_LENGTH } from '../aead/types.js';
import { DecryptionError, InvalidArgumentError, TooLargeError } from '../errors.js';

export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 16 << 20;
/** The AEAD tag each chunk adds. */
export const CHUNK_TAG_LENGTH = TAG_LENGTH;

const CHUNK_INFO_PREFIX = new TextEncoder().encode('thresh/v1/chunk');
const DEK_LENGTH = 32;
const FILE_NONCE_LENGTH = 32;
const HEADER_HASH_LENGTH = 32;

export interface ChunkParams {
  aead: Aead;
  /** The file's 32-byte data key, fresh per file. */
  dek: Uint8Array;
  /** The 32-byte random file nonce from the header (the HKDF salt). */
  fileNonce: Uint8Array;
  /** SHA-256 of the header: every chunk's AAD. */
  headerHash: Uint8Array;
  /** Plaintext bytes per chunk, MIN_CHUNK_SIZE..MAX_CHUNK_SIZE; DEFAULT_CHUNK_SIZE for new files. */
  chunkSize: number;
}

// ---------------------------------------------------------------------------------------------
// Sizes and offsets

export function checkChunkSize(chunkSize: number): void {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new InvalidArgumentError(
      'chunkSize',
      `expected an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}, got ${String(chunkSize)}`,
    );
  }
}

function checkIndex(index: number): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new InvalidArgumentError('index', `expected a non-negative safe integer, got ${String(index)}`);
  }
}

function checkLength(field: string, length: number): void {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new InvalidArgumentError(field, `expected a non-negative safe integer, got ${String(length)}`);
  }
}

/** Bytes of a full sealed chunk: chunkSize + 16. */
export function sealedChunkLength(chunkSize: number): number {
  checkChunkSize(chunkSize);
  return chunkSize + TAG_LENGTH;
}

/** Where sealed chunk `index` starts in the chunk stream (the data after the header). */
export function chunkOffset(chunkSize: number, index: number): number {
  checkChunkSize(chunkSize);
  checkIndex(index);
  return index * (chunkSize + TAG_LENGTH);
}

/** How many chunks a plaintext of `plaintextLength` bytes takes (at least one). */
export function chunkCount(chunkSize: number, plaintextLength: number): number {
  checkChunkSize(chunkSize);
  checkLength('plaintextLength', plaintextLength);
  return Math.max(1, Math.ceil(plaintextLength / chunkSize));
}

/** Length of the whole chunk stream for a plaintext of `plaintextLength` bytes. */
export function sealedStreamLength(chunkSize: number, plaintextLength: number): number {
  return plaintextLength + chunkCount(chunkSize, plaintextLength) * TAG_LENGTH;
}

/**
 * The plaintext length and chunk count behind a chunk stream of `sealedLength` bytes; with it a
 * reader doing random access knows which index is final. A length no stream can have (0, or a
 * last chunk shorter than a tag) is a DecryptionError: the stream was truncated or extended.
 */
export function chunkLayout(
  chunkSize: number,
  sealedLength: number,
): { plaintextLength: number; chunks: number } {
  checkChunkSize(chunkSize);
  checkLength('sealedLength', sealedLength);
  const full = chunkSize + TAG_LENGTH;
  const chunks = Math.ceil(sealedLength / full);
  const last = sealedLength - (chunks - 1) * full;
  if (sealedLength === 0 || last < TAG_LENGTH) {
    throw new DecryptionError(`chunk stream of ${sealedLength} bytes is truncated or has trailing data`);
  }
  return { plaintextLength: sealedLength - chunks * TAG_LENGTH, chunks };
}

// ---------------------------------------------------------------------------------------------
// One chunk

/** Validated params with the HKDF extract step done once per file. */
interface ChunkContext {
  readonly aead: Aead;
  readonly prk: Uint8Array;
  readonly headerHash: Uint8Array;
  readonly chunkSize: number;
  readonly sealedSize: number;
}

function context(params: ChunkParams): ChunkContext {
  if (typeof params !== 'object' || params === null) {
    throw new InvalidArgumentError('params', 'expected ChunkParams');
  }
  const { aead, dek, fileNonce, headerHash, chunkSize } = params;
  if (
    typeof aead !== 'object' ||
    aead === null ||
    typeof aead.seal !== 'function' ||
    typeof aead.open !== 'function' ||
    aead.keyLength !== 32 ||
    aead.tagLength !== TAG_LENGTH ||
    !Number.isSafeInteger(aead.nonceLength) ||
    aead.nonceLength < 9 // u64be(index) || final flag
  ) {
    throw new InvalidArgumentError(
      'aead',
      'expected an Aead with 32-byte keys, 16-byte tags, nonces >= 9 bytes',
    );
  }
  checkBytes('dek', dek, DEK_LENGTH);
  checkBytes('fileNonce', fileNonce, FILE_NONCE_LENGTH);
  checkBytes('headerHash', headerHash, HEADER_HASH_LENGTH);
  checkChunkSize(chunkSize);
  return {
    aead,
    prk: extract(sha256, dek, fileNonce),
    headerHash,
    chunkSize,
    sealedSize: chunkSize + TAG_LENGTH,
  };
}

function writeU64be(out: Uint8Array, offset: number, value: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, Math.floor(value / 0x1_0000_0000));
  view.setUint32(offset + 4, value >>> 0);
}

/** key_i = HKDF-SHA256-Expand(PRK, "thresh/v1/chunk" || u64be(i), 32). */
function chunkKey(ctx: ChunkContext, index: number): Uint8Array {
  const info = new Uint8Array(CHUNK_INFO_PREFIX.length + 8);
  info.set(CHUNK_INFO_PREFIX);
  writeU64be(info, CHUNK_INFO_PREFIX.length, index);
  return expand(sha256, ctx.prk, info, 32);
}

/** nonce_i = u64be(i) || final flag || zeros up to the AEAD's nonce length. */
function chunkNonce(ctx: ChunkContext, index: number, final: boolean): Uint8Array {
  const nonce = new Uint8Array(ctx.aead.nonceLength);
  writeU64be(nonce, 0, index);
  nonce[8] = final ? 1 : 0;
  return nonce;
}

function sealWith(ctx: ChunkContext, index: number, final: boolean, plaintext: Uint8Array): Uint8Array {
  if (plaintext.length > ctx.chunkSize) {
    throw new TooLargeError('plaintext', ctx.chunkSize, plaintext.length);
  }
  if (!final && plaintext.length !== ctx.chunkSize) {
    throw new InvalidArgumentError(
      'plaintext',
      `a non-final chunk holds exactly ${ctx.chunkSize} bytes, got ${plaintext.length}`,
    );
  }
  const key = chunkKey(ctx, index);
  try {
    return ctx.aead.seal(key, chunkNonce(ctx, index, final), plaintext, ctx.headerHash);
  } finally {
    key.fill(0);
  }
}

function openWith(ctx: ChunkContext, index: number, final: boolean, sealed: Uint8Array): Uint8Array {
  const ok = final
    ? sealed.length >= TAG_LENGTH && sealed.length <= ctx.sealedSize
    : sealed.length === ctx.sealedSize;
  if (!ok) {
    throw new DecryptionError(
      `chunk ${index}: ${sealed.length} bytes is not a valid ${final ? 'final' : 'non-final'} chunk length`,
    );
  }
  const key = chunkKey(ctx, index);
  try {
    return ctx.aead.open(key, chunkNonce(ctx, index, final), sealed, ctx.headerHash);
  } catch (cause) {
    if (!isDecryptionError(cause)) throw cause;
    throw new DecryptionError(`tampered chunk ${index}: authentication failed`, { cause });
  } finally {
    key.fill(0);
  }
}

/**
 * By code as well as class: a second copy of this package (two versions in one app, or
 * src and dist both loaded) has its own DecryptionError class.
 */
function isDecryptionError(error: unknown): boolean {
  return (
    error instanceof DecryptionError ||
    (error instanceof Error && (error as { code?: unknown }).code === 'ERR_DECRYPTION')
  );
}

/** Seals chunk `index` alone. A non-final chunk must hold exactly chunkSize bytes. */
export function sealChunk(
  params: ChunkParams,
  index: number,
  final: boolean,
  plaintext: Uint8Array,
): Uint8Array {
  checkIndex(index);
  checkBytes('plaintext', plaintext);
  const ctx = context(params);
  try {
    return sealWith(ctx, index, final, plaintext);
  } finally {
    ctx.prk.fill(0);
  }
}

/**
 * Opens chunk `index` alone (random access): read up to `sealedChunkLength` bytes at
 * `chunkOffset`, and pass final = true for the last chunk (see `chunkLayout`). Throws
 * DecryptionError unless the bytes are exactly chunk `index` of this file with this final flag.
 */
export function openChunk(
  params: ChunkParams,
  index: number,
  final: boolean,
  sealed: Uint8Array,
): Uint8Array {
  checkIndex(index);
  checkBytes('sealed', sealed);
  const ctx = context(params);
  try {
    return openWith(ctx, index, final, sealed);
  } finally {
    ctx.prk.fill(0);
  }
}

/**
 * Opens a chunk inside a stream. On failure, one more trial open tells the reader what went
 * wrong: a chunk that opens with the other final flag means the stream was cut after it
 * (truncated) or continues past it (trailing data); anything else is tampering.
 */
function openInStream(ctx: ChunkContext, index: number, final: boolean, sealed: Uint8Array): Uint8Array {
  try {
    return openWith(ctx, index, final, sealed);
  } catch (cause) {
    if (!isDecryptionError(cause)) throw cause;
    let other: Uint8Array | undefined;
    try {
      other = openWith(ctx, index, !final, sealed);
    } catch {
      // Not the other kind either: tampered.
    }
    if (other === undefined) throw cause;
    other.fill(0);
    throw final
      ? new DecryptionError(`truncated: the stream ends after chunk ${index}, which is not final`, { cause })
      : new DecryptionError(`trailing data: bytes follow the final chunk ${index}`, { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Streams

/**
 * Encrypts a plaintext stream of arbitrary pieces into sealed chunks, one per yield. Holds one
 * chunk of plaintext at a time: a full chunk is sealed only once more input shows it is not
 * the last, so a plaintext that is a multiple of chunkSize ends with a full final chunk.
 */
export async function* encryptChunks(
  params: ChunkParams,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const ctx = context(params);
  const size = ctx.chunkSize;
  const pending = new Uint8Array(size);
  let fill = 0;
  let index = 0;
  try {
    for await (const piece of source) {
      checkBytes('source piece', piece);
      let offset = 0;
      while (offset < piece.length) {
        // More input exists, so a full pending chunk is not the last one.
        if (fill === size) {
          yield sealWith(ctx, index++, false, pending);
          fill = 0;
        }
        // Fast path: seal straight from the input when a whole chunk and more lie in it.
        if (fill === 0 && piece.length - offset > size) {
          yield sealWith(ctx, index++, false, piece.subarray(offset, offset + size));
          offset += size;
          continue;
        }
        const n = Math.min(size - fill, piece.length - offset);
        pending.set(piece.subarray(offset, offset + n), fill);
        fill += n;
        offset += n;
      }
    }
    yield sealWith(ctx, index, true, pending.subarray(0, fill));
  } finally {
    pending.fill(0);
    ctx.prk.fill(0);
  }
}

/** decryptChunks' first buffer for a chunk arriving in pieces; it doubles up to a sealed chunk. */
const PENDING_START_BYTES = 16 * 1024;

/**
 * Decrypts a chunk stream of arbitrary pieces, yielding each chunk's plaintext once it has
 * authenticated. A chunk is final when no bytes follow it. Throws DecryptionError if the stream
 * ends before a final chunk (truncated), continues after it (trailing data) or a chunk fails to
 * open (tampered); plaintext already yielded came from chunks that did authenticate.
 */
export async function* decryptChunks(
  params: ChunkParams,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  const ctx = context(params);
  const size = ctx.sealedSize;
  // Grown as bytes arrive, up to one sealed chunk: a small file never pays for a whole chunk's
  // buffer (zeroed at allocation: 1 MiB was ~0.4 ms of a 1 KiB file's decrypt).
  let pending = new Uint8Array(Math.min(size, PENDING_START_BYTES));
  let fill = 0;
  let index = 0;
  try {
    for await (const piece of source) {
      checkBytes('source piece', piece);
      let offset = 0;
      while (offset < piece.length) {
        if (fill === size) {
          yield openInStream(ctx, index++, false, pending.subarray(0, fill));
          fill = 0;
        }
        if (fill === 0 && piece.length - offset > size) {
          yield openInStream(ctx, index++, false, piece.subarray(offset, offset + size));
          offset += size;
          continue;
        }
        const n = Math.min(size - fill, piece.length - offset);
        if (fill + n > pending.length) {
          const grown = new Uint8Array(Math.min(size, Math.max(2 * pending.length, fill + n)));
          grown.set(pending.subarray(0, fill));
          pending = grown;
        }
        pending.set(piece.subarray(offset, offset + n), fill);
        fill += n;
        offset += n;
      }
    }
    if (fill < TAG_LENGTH) {
      throw new DecryptionError(
        index === 0 && fill === 0
          ? 'truncated: empty chunk stream, expected at least the final chunk'
          : `truncated: final chunk ${index} has ${fill} bytes, shorter than a tag`,
      );
    }
    yield openInStream(ctx, index, true, pending.subarray(0, fill));
  } finally {
    ctx.prk.fill(0);
  }
}

/** encryptChunks for a plaintext already in memory. */
export function encryptChunksSync(params: ChunkParams, plaintext: Uint8Array): Uint8Array {
  checkBytes('plaintext', plaintext);
  const ctx = context(params);
  const size = ctx.chunkSize;
  const count = Math.max(1, Math.ceil(plaintext.length / size));
  const out = new Uint8Array(plaintext.length + count * TAG_LENGTH);
  try {
    for (let i = 0; i < count; i++) {
      const start = i * size;
      const sealed = sealWith(ctx, i, i === count - 1, plaintext.subarray(start, start + size));
      out.set(sealed, i * ctx.sealedSize);
    }
    return out;
  } finally {
    ctx.prk.fill(0);
  }
}

/** decryptChunks for a chunk stream already in memory; returns all the plaintext or throws. */
export function decryptChunksSync(params: ChunkParams, sealed: Uint8Array): Uint8Array {
  checkBytes('sealed', sealed);
  const ctx = context(params);
  const size = ctx.sealedSize;
  const count = Math.max(1, Math.ceil(sealed.length / size));
  const lastLength = sealed.length - (count - 1) * size;
  // Sized for a well-formed last chunk; a last chunk shorter than a tag fails below, after the
  // chunks before it, so the error names the same fault decryptChunks would.
  const out = new Uint8Array((count - 1) * ctx.chunkSize + Math.max(0, lastLength - TAG_LENGTH));
  try {
    for (let i = 0; i < count; i++) {
      const final = i === count - 1;
      if (final && lastLength < TAG_LENGTH) {
        throw new DecryptionError(
          sealed.length === 0
            ? 'truncated: empty chunk stream, expected at least the final chunk'
            : `truncated: final chunk ${i} has ${lastLength} bytes, shorter than a tag`,
        );
      }
      const start = i * size;
      out.set(openInStream(ctx, i, final, sealed.subarray(start, start + size)), i * ctx.chunkSize);
    }
    return out;
  } catch (error) {
    out.fill(0);
    throw error;
  } finally {
    ctx.prk.fill(0);
  }
}
