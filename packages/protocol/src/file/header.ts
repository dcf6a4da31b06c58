import { sha256 } from '@noble/hashes/sha2.js';
import { isAeadId } from '../aead/index.js';
import { type Signed, SignedType } from '../codec/envelope.js';
import { bytes, u8, u32, unixSeconds, z } from '../codec/schema.js';
import { DecodeError } from '../errors.js';
import { CARD_BYTES } from '../identity/card.js';
import { assertCanonicalPath, MAX_PATH_BYTES, MAX_PATH_DEPTH, pathDepth } from '../path.js';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from './chunks.js';

/**
 * The signed header of an encrypted file (DESIGN.md "The encrypted file"), a signed record
 * with tag 'file-header'. Body fields (MessagePack map, short keys):
 *
 * | key | type | meaning |
 * |---|---|---|
 * | o | bin 67 | owner card |
 * | p | str | canonical path, in the clear |
 * | a | u8 | AEAD id of the chunks (1 XChaCha20-Poly1305, 2 AES-256-GCM) |
 * | s | u32 | chunk size (4096 .. 16 MiB) |
 * | n | bin 32 | file nonce (the chunk-key HKDF salt) |
 * | k | bin 32 | DEK commitment: SHA-256("thresh/v1/dek-commitment" \|\| DEK \|\| file nonce) |
 * | l | array 1..65 | levels, root first (or from the depth the owner chose), consecutive, ending at the file's own path (owner files) or at the writer's directory (writer files) |
 * | l[i].d | u8 | depth of the level's prefix (0 = "/") |
 * | l[i].e | u32 | the level's epoch |
 * | l[i].c | bin 105 | Umbral capsule to the level's public key |
 * | l[i].w | bin 72 | the 32-byte DEK wrapped by Umbral's DEM under that capsule |
 * | t | uint | created, Unix seconds |
 * | w | map, optional | writer files only: { r: bin (the owner-signed directory-key record), c: bin 67 (writer card) } |
 *
 * Owner files are signed by the owner card's signing key, writer files by the writer card's.
 * The chunks' associated data is SHA-256 of the whole encoded header record, so any change
 * to any header byte, the signature included, fails every chunk.
 */
export const FILE_HEADER_MAX_BYTES = 128 * 1024;

const level = z.object({
  d: u8.max(MAX_PATH_DEPTH),
  e: u32,
  c: bytes(105),
  w: bytes(72),
});

export const fileHeaderSchema = z
  .object({
    o: bytes(CARD_BYTES),
    p: z.string().max(MAX_PATH_BYTES),
    a: u8.refine(isAeadId, 'unknown AEAD id'),
    s: u32.min(MIN_CHUNK_SIZE).max(MAX_CHUNK_SIZE),
    n: bytes(32),
    k: bytes(32),
    l: z
      .array(level)
      .min(1)
      .max(MAX_PATH_DEPTH + 1),
    t: unixSeconds,
    w: z.object({ r: bytes({ max: 64 * 1024 }), c: bytes(CARD_BYTES) }).optional(),
  })
  .superRefine((h, ctx) => {
    try {
      assertCanonicalPath(h.p);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['p'], message: (e as Error).message });
      return;
    }
    const depth = pathDepth(h.p);
    const last = h.l[h.l.length - 1];
    // Owner files have a level for the file itself; writer files end at their directory.
    if (h.w ? last.d > depth : last.d !== depth) {
      ctx.addIssue({
        code: 'custom',
        path: ['l'],
        message: 'levels must end at the path (owner) or above it (writer)',
      });
    }
    for (let i = 1; i < h.l.length; i++) {
      if (h.l[i].d !== h.l[i - 1].d + 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['l', i, 'd'],
          message: 'levels must be consecutive, root first',
        });
      }
    }
  });

export type FileHeaderBody = z.infer<typeof fileHeaderSchema>;
export type FileLevel = FileHeaderBody['l'][number];

export const FileHeaderType = new SignedType<FileHeaderBody>(
  'file-header',
  fileHeaderSchema,
  0,
  FILE_HEADER_MAX_BYTES,
);

export type SignedFileHeader = Signed<FileHeaderBody>;

/** The chunks' associated data. */
export function headerHash(header: SignedFileHeader): Uint8Array {
  return sha256(header.bytes);
}

const DEK_COMMITMENT = new TextEncoder().encode('thresh/v1/dek-commitment');

export function dekCommitment(dek: Uint8Array, fileNonce: Uint8Array): Uint8Array {
  return sha256.create().update(DEK_COMMITMENT).update(dek).update(fileNonce).digest();
}

/** The file's first bytes: magic "THRESH", format version 1, a zero byte, u32be header length. */
export const FILE_MAGIC = Uint8Array.from([0x54, 0x48, 0x52, 0x45, 0x53, 0x48, 0x01, 0x00]);
export const PREAMBLE_BYTES = FILE_MAGIC.length + 4;

export function preamble(headerLength: number): Uint8Array {
  const out = new Uint8Array(PREAMBLE_BYTES);
  out.set(FILE_MAGIC);
  new DataView(out.buffer).setUint32(FILE_MAGIC.length, headerLength, false);
  return out;
}

/** Reads the header length from a preamble; a bad magic or length is a DecodeError. */
export function parsePreamble(b: Uint8Array): number {
  if (b.length < PREAMBLE_BYTES) throw new DecodeError('file', 'too short to be a thresh file');
  for (let i = 0; i < 6; i++) {
    if (b[i] !== FILE_MAGIC[i]) throw new DecodeError('file', 'not a thresh encrypted file (bad magic)');
  }
  if (b[6] !== FILE_MAGIC[6]) throw new DecodeError('file', `unsupported file format version ${b[6]}`);
  const len = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(FILE_MAGIC.length, false);
  if (len === 0 || len > FILE_HEADER_MAX_BYTES)
    throw new DecodeError('file', `implausible header length ${len}`);
  return len;
}
