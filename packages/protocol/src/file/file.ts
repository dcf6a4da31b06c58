import { type AeadId, DEFAULT_AEAD_ID, getAead } from '../aead/index.js';
import { DecodeError, InvalidArgumentError, NotYetValidError, SignatureError } from '../errors.js';
import { Card } from '../identity/card.js';
import type { Identity } from '../identity/identity.js';
import { canonicalPath, isAncestorOrSelf, pathDepth, pathPrefixes } from '../path.js';
import { pathKey } from '../pathkeys.js';
import { DIR_KEY_CLOCK_SKEW_SECONDS, type VerifiedDirKey, verifyDirKey } from '../records/dir-key.js';
import { Capsule } from '../umbral/capsule.js';
import type { VerifiedCapsuleFrag } from '../umbral/capsule-frag.js';
import { bytesEqual } from '../umbral/curve.js';
import type { PublicKey, SecretKey } from '../umbral/keys.js';
import { decryptOriginal, decryptReencrypted, encrypt } from '../umbral/pre.js';
import { draw, type Rng } from '../umbral/rng.js';
import { StreamReader } from './bytes-reader.js';
import { type ChunkParams, DEFAULT_CHUNK_SIZE, decryptChunks, encryptChunks } from './chunks.js';
import {
  dekCommitment,
  type FileHeaderBody,
  FileHeaderType,
  headerHash,
  PREAMBLE_BYTES,
  parsePreamble,
  preamble,
  type SignedFileHeader,
} from './header.js';

/**
 * Encrypting and opening thresh files (DESIGN.md "The encrypted file"): preamble, signed
 * header, then the chunks. Streams in and out: a large file never sits in memory.
 */

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** A level a file is encrypted to: the prefix at `depth`, its epoch and its public key. */
export interface LevelPublicKey {
  depth: number;
  prefix: string;
  epoch: number;
  publicKey: PublicKey;
}

export interface EncryptOptions {
  /** The file's path; canonicalized (NFC, one trailing slash dropped) and checked. */
  path: string;
  /** Epoch of each level: a number for all, or per prefix. Default 0. */
  epochs?: number | ((prefix: string) => number);
  /** AEAD of the chunks. Default XChaCha20-Poly1305. */
  aead?: AeadId;
  chunkSize?: number;
  /** The shallowest level given an entry (0 = the root). Default 0. */
  fromDepth?: number;
  now?: number;
  rng?: Rng;
}

export interface EncryptedFile {
  header: SignedFileHeader;
  /** The whole file: preamble, header, chunks. */
  stream: AsyncGenerator<Uint8Array>;
}

const epochOf = (epochs: EncryptOptions['epochs'], prefix: string): number => {
  const e = typeof epochs === 'function' ? epochs(prefix) : (epochs ?? 0);
  if (!Number.isInteger(e) || e < 0 || e > 0xffffffff)
    throw new InvalidArgumentError('epoch', 'must be a u32');
  return e;
};

/** The owner's level public keys for a path (used by the owner, and to issue directory keys). */
export function ownerLevels(
  owner: Identity,
  path: string,
  epochs?: EncryptOptions['epochs'],
  fromDepth = 0,
): LevelPublicKey[] {
  return pathPrefixes(path)
    .map((prefix, depth) => ({ prefix, depth }))
    .filter((l) => l.depth >= fromDepth)
    .map(({ prefix, depth }) => {
      const epoch = epochOf(epochs, prefix);
      return { depth, prefix, epoch, publicKey: pathKey(owner, prefix, epoch).publicKey() };
    });
}

function sealHeader(
  signerIdentity: Identity,
  ownerCard: Card,
  path: string,
  levels: LevelPublicKey[],
  opts: EncryptOptions,
  writer?: { dirKeyRecord: Uint8Array },
): { header: SignedFileHeader; dek: Uint8Array } {
  const rng = opts.rng;
  const aead = opts.aead ?? DEFAULT_AEAD_ID;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const dek = draw(rng, 32).slice();
  const fileNonce = draw(rng, 32).slice();
  const l = levels.map((lv) => {
    const [capsule, wrapped] = encrypt(lv.publicKey, dek, { rng });
    return { d: lv.depth, e: lv.epoch, c: capsule.toBytes(), w: wrapped };
  });
  const body: FileHeaderBody = {
    o: ownerCard.bytes,
    p: path,
    a: aead,
    s: chunkSize,
    n: fileNonce,
    k: dekCommitment(dek, fileNonce),
    l,
    t: opts.now ?? Math.floor(Date.now() / 1000),
    ...(writer ? { w: { r: writer.dirKeyRecord, c: signerIdentity.card.bytes } } : {}),
  };
  return { header: FileHeaderType.sign(body, signerIdentity.signer), dek };
}

function chunkParams(header: SignedFileHeader, dek: Uint8Array): ChunkParams {
  return {
    aead: getAead(header.body.a),
    dek,
    fileNonce: header.body.n,
    headerHash: headerHash(header),
    chunkSize: header.body.s,
  };
}

async function* fileStream(
  header: SignedFileHeader,
  dek: Uint8Array,
  source: ByteSource,
): AsyncGenerator<Uint8Array> {
  yield preamble(header.bytes.length);
  yield header.bytes;
  try {
    yield* encryptChunks(chunkParams(header, dek), source);
  } finally {
    dek.fill(0);
  }
}

/** Encrypts `source` as the owner, to every level of the path from `fromDepth` down to the file. */
export function encryptFile(owner: Identity, opts: EncryptOptions, source: ByteSource): EncryptedFile {
  const path = canonicalPath(opts.path);
  const fromDepth = opts.fromDepth ?? 0;
  if (!Number.isInteger(fromDepth) || fromDepth < 0 || fromDepth > pathDepth(path)) {
    throw new InvalidArgumentError('fromDepth', `must be between 0 and the path's depth ${pathDepth(path)}`);
  }
  const levels = ownerLevels(owner, path, opts.epochs, fromDepth);
  const { header, dek } = sealHeader(owner, owner.card, path, levels, opts);
  return { header, stream: fileStream(header, dek, source) };
}

/**
 * Encrypts as a writer holding an owner-signed directory key: the file gets capsules for the
 * levels from the root to the directory only (a writer has no keys below it), so grants on
 * directories below the writer's directory do not open writer files.
 */
export function encryptFileAsWriter(
  writer: Identity,
  dirKey: VerifiedDirKey,
  opts: EncryptOptions,
  source: ByteSource,
): EncryptedFile {
  const path = canonicalPath(opts.path);
  if (!isAncestorOrSelf(dirKey.directory, path)) {
    throw new InvalidArgumentError('path', `${path} is not under the writer's directory ${dirKey.directory}`);
  }
  if (!dirKey.allowsWriter(writer.card)) {
    throw new InvalidArgumentError('writer', 'this directory key was issued to another writer');
  }
  const levels = dirKey.levels.filter((l) => l.depth >= (opts.fromDepth ?? 0));
  if (levels.length === 0) throw new InvalidArgumentError('fromDepth', 'leaves no level to encrypt to');
  const { header, dek } = sealHeader(writer, dirKey.owner, path, [...levels], opts, {
    dirKeyRecord: dirKey.bytes,
  });
  return { header, stream: fileStream(header, dek, source) };
}

export interface OpenedHeader {
  header: SignedFileHeader;
  ownerCard: Card;
  /** Set for writer files: the writer's card (already checked to have signed the header). */
  writerCard?: Card;
  /** The rest of the file: the chunks. */
  body: AsyncIterable<Uint8Array>;
}

/**
 * Checks a writer file's directory-key record against its header: signed by the file's owner,
 * valid when the file says it was written (a file outlives its record's expiry; a date more
 * than the clock skew ahead of `now` is refused), the path under the directory, the writer
 * allowed, and every level's depth and epoch those of the record.
 */
export function verifyWriterHeader(header: FileHeaderBody, ownerCard: Card, now: number): VerifiedDirKey {
  if (!header.w) throw new InvalidArgumentError('header', 'not a writer file');
  if (header.t > now + DIR_KEY_CLOCK_SKEW_SECONDS) {
    throw new NotYetValidError('file-header.t', header.t, now);
  }
  const dirKey = verifyDirKey(header.w.r, { owner: ownerCard, now: header.t });
  if (!isAncestorOrSelf(dirKey.directory, header.p)) {
    throw new SignatureError(
      `file-header: ${header.p} is outside the writer's directory ${dirKey.directory}`,
    );
  }
  if (!dirKey.allowsWriter(Card.fromBytes(header.w.c))) {
    throw new SignatureError('file-header: the directory key was issued to another writer');
  }
  for (const l of header.l) {
    const expected = dirKey.levels.find((d) => d.depth === l.d);
    if (!expected || expected.epoch !== l.e) {
      throw new DecodeError('file-header.l', `level ${l.d} is not one of the directory key's levels`);
    }
  }
  return dirKey;
}

/**
 * Reads and checks the preamble and header. Owner files: the owner card's key must have
 * signed. Writer files: the directory-key record must check out (verifyWriterHeader) and the
 * writer card in the header must have signed.
 */
export async function readFileHeader(source: ByteSource, opts: { now?: number } = {}): Promise<OpenedHeader> {
  const reader = new StreamReader(source);
  const pre = await reader.read(PREAMBLE_BYTES);
  const len = parsePreamble(pre);
  const bytes = await reader.read(len);
  if (bytes.length !== len) throw new DecodeError('file', 'truncated header');
  const header = FileHeaderType.decode(bytes);
  const ownerCard = Card.fromBytes(header.body.o);
  let writerCard: Card | undefined;
  if (header.body.w) {
    verifyWriterHeader(header.body, ownerCard, opts.now ?? Math.floor(Date.now() / 1000));
    writerCard = Card.fromBytes(header.body.w.c);
    header.assertSignedBy(writerCard.signingKey);
  } else {
    header.assertSignedBy(ownerCard.signingKey);
    if (header.body.l[header.body.l.length - 1].d !== pathDepth(header.body.p)) {
      throw new DecodeError('file-header.l', 'an owner file has a level for the path itself');
    }
  }
  return { header, ownerCard, writerCard, body: reader.rest() };
}

function checkDek(header: SignedFileHeader, dek: Uint8Array): Uint8Array {
  if (!bytesEqual(dekCommitment(dek, header.body.n), header.body.k)) {
    throw new DecodeError('file-header.k', 'the unwrapped data key does not match the header commitment');
  }
  return dek;
}

/** The index into header.body.l of the level at `depth`, or -1. */
export function levelIndex(header: SignedFileHeader, depth: number): number {
  return header.body.l.findIndex((l) => l.d === depth);
}

/** Unwraps the DEK with a level's secret key (the owner, or anyone holding that path key). */
export function unwrapDekWithLevelKey(
  header: SignedFileHeader,
  index: number,
  levelSk: SecretKey,
): Uint8Array {
  const l = header.body.l[index];
  if (!l) throw new InvalidArgumentError('level', `no level ${index} in this file`);
  return checkDek(header, decryptOriginal(levelSk, Capsule.fromBytes(l.c), l.w));
}

/** Unwraps the DEK as the owner: derives the deepest level's path key. */
export function unwrapDekAsOwner(header: SignedFileHeader, owner: Identity): Uint8Array {
  if (!Card.fromBytes(header.body.o).equals(owner.card)) {
    throw new InvalidArgumentError('owner', 'this file belongs to another owner');
  }
  const i = header.body.l.length - 1;
  const l = header.body.l[i];
  const prefix = pathPrefixes(header.body.p)[l.d];
  return unwrapDekWithLevelKey(header, i, pathKey(owner, prefix, l.e));
}

/** Unwraps the DEK as a granted reader from at least m verified cfrags of the level's capsule. */
export function unwrapDekWithCfrags(
  header: SignedFileHeader,
  index: number,
  readerEncryptingSk: SecretKey,
  levelPublicKey: PublicKey,
  cfrags: readonly VerifiedCapsuleFrag[],
): Uint8Array {
  const l = header.body.l[index];
  if (!l) throw new InvalidArgumentError('level', `no level ${index} in this file`);
  const capsule = Capsule.fromBytes(l.c);
  return checkDek(header, decryptReencrypted(readerEncryptingSk, levelPublicKey, capsule, cfrags, l.w));
}

/** Decrypts the chunks with the data key; throws DecryptionError on any tampering or truncation. */
export function decryptFileBody(
  header: SignedFileHeader,
  dek: Uint8Array,
  body: ByteSource,
): AsyncGenerator<Uint8Array> {
  return decryptChunks(chunkParams(header, dek), body);
}

/** Collects a byte stream (tests and small files). */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of stream) {
    parts.push(p);
    n += p.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
