/**
 * The directory-key record (DESIGN.md "The encrypted file", "Signed records"): signed by an
 * owner, it hands a writer the public keys of every level from the root down to a directory,
 * so the writer can make capsules for files below that directory without being able to read
 * anything. Limit to document: a grant on a directory BELOW the record's directory does not
 * open a writer's file, since the writer has no key for those deeper levels.
 *
 * Body (MessagePack map, signed as a whole, see codec/envelope.ts), tag "dir-key":
 *   owner      bin 67     owner card, binary form; its signing key signs the record
 *   directory  str        canonical path
 *   levels     array      one per prefix of `directory`, root first:
 *                          { prefix: str, epoch: u32, publicKey: bin 33 }
 *   notBefore  uint       Unix seconds
 *   expiry     uint       Unix seconds, > notBefore
 *   writer     bin 67     optional: the only writer card allowed to use the record
 *   created    uint       Unix seconds
 */
import { type Signed, SignedType } from '../codec/envelope.js';
import { bytes, u32, unixSeconds, z } from '../codec/schema.js';
import {
  DecodeError,
  ExpiredError,
  InvalidArgumentError,
  NotYetValidError,
  SignatureError,
  ThreshError,
} from '../errors.js';
import { Card, cardBytes } from '../identity/card.js';
import { Identity } from '../identity/identity.js';
import { assertCanonicalPath, canonicalPath, MAX_PATH_BYTES, MAX_PATH_DEPTH, pathPrefixes } from '../path.js';
import { type Epochs, levelKeys } from '../pathkeys.js';
import { PublicKey } from '../umbral/keys.js';

export const DIR_KEY_TAG = 'dir-key';

/**
 * Largest encoded record. The prefixes are spelled out: with segments of at most 255 bytes and
 * paths of at most 4096 bytes and 64 segments, they sum to at most 231,424 bytes
 * (sum over i = 1..64 of min(4096, 256 i)); plus the directory, 65 keys and the rest.
 */
export const DIR_KEY_MAX_BYTES = 256 * 1024;

/** How far ahead of our clock a not-before may be (DESIGN.md "Signed records": 5 minutes). */
export const DIR_KEY_CLOCK_SKEW_SECONDS = 300;

const pathString = z.string().max(MAX_PATH_BYTES);

const levelSchema = z.object({
  prefix: pathString,
  epoch: u32,
  publicKey: bytes(33),
});

const dirKeySchema = z.object({
  owner: cardBytes,
  directory: pathString,
  levels: z
    .array(levelSchema)
    .min(1)
    .max(MAX_PATH_DEPTH + 1),
  notBefore: unixSeconds,
  expiry: unixSeconds,
  writer: cardBytes.optional(),
  created: unixSeconds,
});

export type DirKeyBody = z.infer<typeof dirKeySchema>;

/** The record's type: tag, schema, size cap. */
export const DirKeyRecord = new SignedType<DirKeyBody>(DIR_KEY_TAG, dirKeySchema, 0, DIR_KEY_MAX_BYTES);

export interface DirKeyLevel {
  /** 0 for "/", 1 for "/a", ... */
  readonly depth: number;
  readonly prefix: string;
  readonly epoch: number;
  readonly publicKey: PublicKey;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

let construct: (
  signed: Signed<DirKeyBody>,
  owner: Card,
  levels: DirKeyLevel[],
  writer?: Card,
) => VerifiedDirKey;

/**
 * A directory-key record whose signature, shape and times were checked: only `verifyDirKey`
 * (and `issueDirKey`) make one.
 */
export class VerifiedDirKey {
  static {
    construct = (signed, owner, levels, writer) => new VerifiedDirKey(signed, owner, levels, writer);
  }

  private constructor(
    /** The signed record as it travels (`.bytes`) and its body. */
    readonly record: Signed<DirKeyBody>,
    readonly owner: Card,
    readonly levels: readonly DirKeyLevel[],
    readonly writer: Card | undefined,
  ) {}

  get directory(): string {
    return this.record.body.directory;
  }
  get notBefore(): number {
    return this.record.body.notBefore;
  }
  get expiry(): number {
    return this.record.body.expiry;
  }
  get created(): number {
    return this.record.body.created;
  }
  /** The encoded record, to embed in a writer's file header. */
  get bytes(): Uint8Array {
    return this.record.bytes;
  }

  /** Whether `card` may write with this record: any writer, or the one it names. */
  allowsWriter(card: Card): boolean {
    return this.writer === undefined || this.writer.equals(card);
  }
}

// ---------------------------------------------------------------------------------------------
// Issuing

export interface IssueDirKeyOptions {
  /** Epoch of every level, or of each level by prefix (default 0). */
  epochs?: Epochs;
  /** Unix seconds; must be after notBefore. */
  expiresAt: number;
  /** Unix seconds (default: now). */
  notBefore?: number;
  /** Restrict the record to this writer (default: any holder). */
  writer?: Card;
  /** Unix seconds (default: Date.now() / 1000). */
  now?: number;
}

function checkTime(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(field, 'expected Unix seconds (a non-negative integer)');
  }
  return value;
}

/** Signs a directory-key record for `directory` (canonicalized) with `owner`'s signing key. */
export function issueDirKey(owner: Identity, directory: string, opts: IssueDirKeyOptions): VerifiedDirKey {
  if (!(owner instanceof Identity)) throw new InvalidArgumentError('owner', 'expected an Identity');
  if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('opts', 'expected an object');
  const dir = canonicalPath(directory);
  const now = checkTime(opts.now ?? nowSeconds(), 'now');
  const notBefore = checkTime(opts.notBefore ?? now, 'notBefore');
  const expiry = checkTime(opts.expiresAt, 'expiresAt');
  if (expiry <= notBefore) throw new InvalidArgumentError('expiresAt', 'must be after notBefore');
  if (opts.writer !== undefined && !(opts.writer instanceof Card)) {
    throw new InvalidArgumentError('writer', 'expected a Card');
  }
  const levels: DirKeyLevel[] = levelKeys(owner, dir, opts.epochs ?? 0).map((l) => ({
    depth: l.depth,
    prefix: l.prefix,
    epoch: l.epoch,
    publicKey: l.publicKey,
  }));
  const body: DirKeyBody = {
    owner: owner.card.bytes,
    directory: dir,
    levels: levels.map((l) => ({
      prefix: l.prefix,
      epoch: l.epoch,
      publicKey: l.publicKey.toCompressedBytes(),
    })),
    notBefore,
    expiry,
    ...(opts.writer === undefined ? {} : { writer: opts.writer.bytes }),
    created: now,
  };
  return construct(DirKeyRecord.sign(body, owner.signer), owner.card, levels, opts.writer);
}

// ---------------------------------------------------------------------------------------------
// Verifying

export interface VerifyDirKeyOptions {
  /** Unix seconds to judge expiry and not-before by (default: Date.now() / 1000). */
  now?: number;
  /** If given, the record must be this owner's (else SignatureError). */
  owner?: Card;
}

function field(name: string): string {
  return `${DIR_KEY_TAG}.${name}`;
}

/** A DecodeError of a nested parser, renamed to the record's field. */
function rethrowAs(name: string, cause: unknown): never {
  if (cause instanceof ThreshError) throw new DecodeError(field(name), cause.message, { cause });
  throw cause;
}

/**
 * Decodes and checks a directory-key record: the owner card inside it signed it (SignatureError),
 * its directory is canonical and its levels are exactly that directory's prefixes, root first,
 * with valid public keys (DecodeError), it is not expired at `now` and its not-before is at most
 * 5 minutes ahead (DecodeError on field "dir-key.expiry" / "dir-key.notBefore"). Oversize input
 * is a TooLargeError.
 */
export function verifyDirKey(bytes: Uint8Array, opts: VerifyDirKeyOptions = {}): VerifiedDirKey {
  const now = opts.now ?? nowSeconds();
  if (!Number.isSafeInteger(now) || now < 0) throw new InvalidArgumentError('now', 'expected Unix seconds');
  if (opts.owner !== undefined && !(opts.owner instanceof Card)) {
    throw new InvalidArgumentError('owner', 'expected a Card');
  }
  const signed = DirKeyRecord.decode(bytes);
  const body = signed.body;

  let owner: Card;
  try {
    owner = Card.fromBytes(body.owner);
  } catch (cause) {
    rethrowAs('owner', cause);
  }
  signed.assertSignedBy(owner.signingKey);
  if (opts.owner !== undefined && !opts.owner.equals(owner)) {
    throw new SignatureError(
      `${DIR_KEY_TAG}: signed by owner ${owner.fingerprint()}, expected ${opts.owner.fingerprint()}`,
    );
  }

  let writer: Card | undefined;
  if (body.writer !== undefined) {
    try {
      writer = Card.fromBytes(body.writer);
    } catch (cause) {
      rethrowAs('writer', cause);
    }
  }

  let prefixes: string[];
  try {
    assertCanonicalPath(body.directory);
    prefixes = pathPrefixes(body.directory);
  } catch (cause) {
    rethrowAs('directory', cause);
  }
  if (body.levels.length !== prefixes.length) {
    throw new DecodeError(
      field('levels'),
      `expected ${prefixes.length} levels (one per prefix of the directory), got ${body.levels.length}`,
    );
  }
  const levels: DirKeyLevel[] = body.levels.map((l, depth) => {
    if (l.prefix !== prefixes[depth]) {
      throw new DecodeError(
        field(`levels.${depth}.prefix`),
        `expected ${JSON.stringify(prefixes[depth])}, got ${JSON.stringify(l.prefix)}`,
      );
    }
    let publicKey: PublicKey;
    try {
      publicKey = PublicKey.fromCompressedBytes(l.publicKey);
    } catch (cause) {
      rethrowAs(`levels.${depth}.publicKey`, cause);
    }
    return { depth, prefix: l.prefix, epoch: l.epoch, publicKey };
  });

  if (body.expiry <= body.notBefore) throw new DecodeError(field('expiry'), 'not after notBefore');
  if (now >= body.expiry) throw new ExpiredError(field('expiry'), body.expiry, now);
  if (body.notBefore > now + DIR_KEY_CLOCK_SKEW_SECONDS) {
    throw new NotYetValidError(field('notBefore'), body.notBefore, now);
  }
  return construct(signed, owner, levels, writer);
}
