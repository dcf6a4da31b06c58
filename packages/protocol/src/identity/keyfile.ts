/**
 * Key files: an Identity's 32-byte seed wrapped with a passphrase (DESIGN.md "Keys and cards").
 * This module is pure: it turns an identity into the file's text and back. The caller (CLI,
 * node) writes the file, with mode 0600.
 *
 * Format (version 1): UTF-8 JSON, one object, every key required, no other keys:
 *
 * ```json
 * {
 *   "type": "thresh-key-file",
 *   "version": 1,
 *   "name": "alice",
 *   "card": "thresh1...",
 *   "created": 1767225600,
 *   "kdf": { "name": "scrypt", "logN": 17, "r": 8, "p": 1, "salt": "<base64, 16 bytes>" },
 *   "aead": { "name": "xchacha20-poly1305", "nonce": "<base64, 24 bytes>", "ciphertext": "<base64, 48 bytes>" },
 *   "checksum": "<16 lowercase hex digits>"
 * }
 * ```
 *
 * - `name`: a label for people (`keys list`), at most 256 UTF-8 bytes, no control characters;
 *   may be empty. `card`: the identity's printable card, so it can be shown without the
 *   passphrase. `created`: Unix seconds.
 * - base64 is RFC 4648 §4 with padding, canonical (re-encoding gives the same text).
 * - key = scrypt(NFKC(passphrase) as UTF-8, salt, N = 2^logN, r, p, dkLen = 32).
 * - ciphertext = XChaCha20-Poly1305(key, nonce, aad = H).encrypt(seed): 32 bytes || 16-byte tag.
 *   The tag is the passphrase check value.
 * - H, the header every other field is bound into (all integers big-endian):
 *
 *   ```
 *   utf8("thresh/v1/key-file") || 0x00
 *   || u8(version = 1)
 *   || utf8("scrypt") || 0x00 || u32(logN) || u32(r) || u32(p) || salt (16)
 *   || utf8("xchacha20-poly1305") || 0x00 || nonce (24)
 *   || u64(created)
 *   || card (67, binary form)
 *   || u16(byte length of name) || utf8(name)
 *   ```
 *
 * - checksum = first 8 bytes of SHA-256(H || ciphertext), in hex: it covers every other field.
 *
 * Reading, in order: at most 16 KiB; JSON with the right "type" (else DecodeError) and
 * "version" (else UnsupportedVersionError); every field well-formed (else DecodeError naming
 * it); the checksum (else CorruptKeyFileError: the file is damaged); logN <= 20, r <= 16,
 * p <= 4 (else DecodeError: a file that would cost minutes or gigabytes to open is refused);
 * then, to open, scrypt and the AEAD (tag mismatch: WrongPassphraseError), and the seed must
 * give the card of the file (else CorruptKeyFileError). A damaged file thus never reads as a
 * wrong passphrase; a file forged with a recomputed checksum does (nothing can tell it apart
 * without the passphrase).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64 } from '@scure/base';
// node:crypto's native scrypt under Node, @noble/hashes elsewhere; both give the same bytes.
import { scrypt } from '#scrypt-platform';
import { parseWith, u32, unixSeconds, z } from '../codec/schema.js';
import {
  CorruptKeyFileError,
  DecodeError,
  InvalidArgumentError,
  TooLargeError,
  UnsupportedVersionError,
  WrongPassphraseError,
} from '../errors.js';
import { draw, type Rng } from '../umbral/rng.js';
import { Card } from './card.js';
import { IDENTITY_SEED_BYTES, Identity } from './identity.js';

export const KEY_FILE_TYPE = 'thresh-key-file';
export const KEY_FILE_VERSION = 1;
/** Largest key file read; a real one is under 1 KiB. */
export const KEY_FILE_MAX_BYTES = 16 * 1024;
/** Longest name, in UTF-8 bytes. */
export const KEY_NAME_MAX_BYTES = 256;

export interface KeyFileScryptParams {
  /** log2 of scrypt's N. */
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/** What new key files use (DESIGN.md "Keys and cards"): about 128 MiB and a second to open. */
export const KEY_FILE_SCRYPT: KeyFileScryptParams = Object.freeze({ logN: 17, r: 8, p: 1 });
/** The most a key file may ask for when read (or written): 2 GiB of memory at most. */
export const KEY_FILE_SCRYPT_MAX: KeyFileScryptParams = Object.freeze({ logN: 20, r: 16, p: 4 });

const KDF_NAME = 'scrypt';
const AEAD_NAME = 'xchacha20-poly1305';
const SALT_BYTES = 16;
const NONCE_BYTES = 24;
const KEY_BYTES = 32;
const TAG_BYTES = 16;
const CIPHERTEXT_BYTES = IDENTITY_SEED_BYTES + TAG_BYTES;
const CHECKSUM_BYTES = 8;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const HEADER_LABEL = utf8('thresh/v1/key-file\u0000');
const KDF_LABEL = utf8(`${KDF_NAME}\u0000`);
const AEAD_LABEL = utf8(`${AEAD_NAME}\u0000`);
const FROM_PASSPHRASE_LABEL = 'thresh/v1/from-passphrase/';

// ---------------------------------------------------------------------------------------------
// Passphrases and names

/**
 * NFKC, then UTF-8 (so the same passphrase typed on another keyboard or OS gives the same
 * bytes). Empty, or holding an unpaired surrogate (no UTF-8 form: two such strings could
 * encode alike), is an InvalidArgumentError.
 */
function passphraseBytes(passphrase: unknown): Uint8Array {
  if (typeof passphrase !== 'string') throw new InvalidArgumentError('passphrase', 'expected a string');
  if (/\p{Surrogate}/u.test(passphrase)) {
    throw new InvalidArgumentError('passphrase', 'contains an unpaired surrogate (not valid Unicode)');
  }
  const normalized = passphrase.normalize('NFKC');
  if (normalized.length === 0) throw new InvalidArgumentError('passphrase', 'must not be empty');
  return utf8(normalized);
}

/** A name shown to people: bounded, valid Unicode, no control characters (terminal escapes). */
function checkName(
  name: unknown,
  field: string,
  E: typeof DecodeError | typeof InvalidArgumentError,
): string {
  if (typeof name !== 'string') throw new E(field, 'expected a string');
  if (/\p{Surrogate}/u.test(name)) throw new E(field, 'contains an unpaired surrogate (not valid Unicode)');
  // Cc: C0, DEL and C1 controls. A name is printed by `keys list` (terminal escapes).
  if (/\p{Cc}/u.test(name)) throw new E(field, 'contains a control character');
  const n = utf8(name).length;
  if (n > KEY_NAME_MAX_BYTES)
    throw new E(field, `is ${n} UTF-8 bytes, over the limit of ${KEY_NAME_MAX_BYTES}`);
  return name;
}

// ---------------------------------------------------------------------------------------------
// The header and checksum

interface Header {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly created: number;
  readonly card: Card;
  readonly name: string;
}

/** H of the format comment: the AEAD's associated data. */
function headerBytes(h: Header): Uint8Array {
  const name = utf8(h.name);
  const size =
    HEADER_LABEL.length +
    1 +
    KDF_LABEL.length +
    12 +
    SALT_BYTES +
    AEAD_LABEL.length +
    NONCE_BYTES +
    8 +
    h.card.bytes.length +
    2 +
    name.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const put = (b: Uint8Array): void => {
    out.set(b, at);
    at += b.length;
  };
  put(HEADER_LABEL);
  out[at++] = KEY_FILE_VERSION;
  put(KDF_LABEL);
  view.setUint32(at, h.logN);
  view.setUint32(at + 4, h.r);
  view.setUint32(at + 8, h.p);
  at += 12;
  put(h.salt);
  put(AEAD_LABEL);
  put(h.nonce);
  view.setBigUint64(at, BigInt(h.created));
  at += 8;
  put(h.card.bytes);
  view.setUint16(at, name.length);
  at += 2;
  put(name);
  return out;
}

function checksum(header: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  const all = new Uint8Array(header.length + ciphertext.length);
  all.set(header);
  all.set(ciphertext, header.length);
  return sha256(all).subarray(0, CHECKSUM_BYTES);
}

const toHex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function checkParams(
  params: KeyFileScryptParams,
  E: typeof DecodeError | typeof InvalidArgumentError,
  prefix: string,
): void {
  const max = KEY_FILE_SCRYPT_MAX;
  const check = (field: keyof KeyFileScryptParams, value: number, limit: number): void => {
    if (!Number.isSafeInteger(value) || value < 1 || value > limit) {
      throw new E(`${prefix}${field}`, `scrypt ${field} = ${String(value)} is outside [1, ${limit}]`);
    }
  };
  check('logN', params.logN, max.logN);
  check('r', params.r, max.r);
  check('p', params.p, max.p);
}

async function deriveKey(
  password: Uint8Array,
  salt: Uint8Array,
  params: KeyFileScryptParams,
): Promise<Uint8Array> {
  return scrypt(password, salt, { N: 2 ** params.logN, r: params.r, p: params.p, dkLen: KEY_BYTES });
}

// ---------------------------------------------------------------------------------------------
// Writing

export interface SealKeyFileOptions {
  /** Label stored in the clear (default ""). */
  name?: string;
  /** Source of the salt and nonce (default: the platform CSPRNG). For tests. */
  rng?: Rng;
  /** Creation time, Unix seconds (default: now). */
  now?: number;
  /**
   * scrypt cost (default KEY_FILE_SCRYPT, N = 2^17). Lowering it makes the passphrase cheaper to
   * guess; it exists for tests. Values above KEY_FILE_SCRYPT_MAX are refused.
   */
  scryptParams?: KeyFileScryptParams;
}

/** Wraps `identity`'s seed with `passphrase`; returns the key file's text (JSON, ending in "\n"). */
export async function sealKeyFile(
  identity: Identity,
  passphrase: string,
  opts: SealKeyFileOptions = {},
): Promise<string> {
  if (!(identity instanceof Identity)) throw new InvalidArgumentError('identity', 'expected an Identity');
  const name = checkName(opts.name ?? '', 'name', InvalidArgumentError);
  const params = opts.scryptParams ?? KEY_FILE_SCRYPT;
  checkParams(params, InvalidArgumentError, 'scryptParams.');
  const created = opts.now ?? Math.floor(Date.now() / 1000);
  if (!Number.isSafeInteger(created) || created < 0) {
    throw new InvalidArgumentError('now', 'expected Unix seconds (a non-negative integer)');
  }
  const password = passphraseBytes(passphrase);
  const salt = draw(opts.rng, SALT_BYTES).slice();
  const nonce = draw(opts.rng, NONCE_BYTES).slice();
  const header: Header = {
    logN: params.logN,
    r: params.r,
    p: params.p,
    salt,
    nonce,
    created,
    card: identity.card,
    name,
  };
  const aad = headerBytes(header);
  const key = await deriveKey(password, salt, params).finally(() => password.fill(0));
  const seed = identity.exportSeed();
  let ciphertext: Uint8Array;
  try {
    ciphertext = xchacha20poly1305(key, nonce, aad).encrypt(seed);
  } finally {
    seed.fill(0);
    key.fill(0);
  }
  const file = {
    type: KEY_FILE_TYPE,
    version: KEY_FILE_VERSION,
    name,
    card: identity.card.toString(),
    created,
    kdf: { name: KDF_NAME, logN: params.logN, r: params.r, p: params.p, salt: base64.encode(salt) },
    aead: { name: AEAD_NAME, nonce: base64.encode(nonce), ciphertext: base64.encode(ciphertext) },
    checksum: toHex(checksum(aad, ciphertext)),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

// ---------------------------------------------------------------------------------------------
// Reading

const b64Text = z.string().max(128);
const fileSchema = z.strictObject({
  type: z.literal(KEY_FILE_TYPE),
  version: z.literal(KEY_FILE_VERSION),
  name: z.string().max(KEY_NAME_MAX_BYTES),
  card: z.string().max(128),
  created: unixSeconds,
  kdf: z.strictObject({ name: z.literal(KDF_NAME), logN: u32, r: u32, p: u32, salt: b64Text }),
  aead: z.strictObject({ name: z.literal(AEAD_NAME), nonce: b64Text, ciphertext: b64Text }),
  checksum: z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits'),
});

function decodeBase64(text: string, field: string, length: number): Uint8Array {
  let b: Uint8Array;
  try {
    b = base64.decode(text);
  } catch (cause) {
    throw new DecodeError(field, 'not valid base64', { cause });
  }
  // One spelling per value: no stray padding bits or alternative forms.
  if (base64.encode(b) !== text) throw new DecodeError(field, 'not canonical base64');
  if (b.length !== length) throw new DecodeError(field, `expected ${length} bytes, got ${b.length}`);
  return b;
}

interface ParsedKeyFile {
  readonly header: Header;
  readonly aad: Uint8Array;
  readonly ciphertext: Uint8Array;
}

function parseKeyFile(contents: string | Uint8Array): ParsedKeyFile {
  let text: string;
  if (contents instanceof Uint8Array) {
    if (contents.length > KEY_FILE_MAX_BYTES)
      throw new TooLargeError('key file', KEY_FILE_MAX_BYTES, contents.length);
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(contents);
    } catch (cause) {
      throw new DecodeError('key file', 'not UTF-8 text', { cause });
    }
  } else if (typeof contents === 'string') {
    // UTF-16 units: each is at least one UTF-8 byte, so this bounds the bytes too (roughly).
    if (contents.length > KEY_FILE_MAX_BYTES)
      throw new TooLargeError('key file', KEY_FILE_MAX_BYTES, contents.length);
    text = contents;
  } else {
    throw new InvalidArgumentError('key file', 'expected a string or a Uint8Array');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new DecodeError('key file', 'not JSON', { cause });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new DecodeError('key file', 'expected a JSON object');
  }
  const o = raw as Record<string, unknown>;
  if (o.type !== KEY_FILE_TYPE) throw new DecodeError('key file.type', `not a thresh key file`);
  if (o.version !== KEY_FILE_VERSION) {
    if (Number.isSafeInteger(o.version)) throw new UnsupportedVersionError('key file', o.version as number);
    throw new DecodeError('key file.version', 'expected an integer');
  }
  const f = parseWith(fileSchema, raw, 'key file');
  const name = checkName(f.name, 'key file.name', DecodeError);
  let card: Card;
  try {
    card = Card.parse(f.card);
  } catch (cause) {
    throw new DecodeError('key file.card', (cause as Error).message, { cause });
  }
  if (card.toString() !== f.card) throw new DecodeError('key file.card', 'not in canonical printable form');
  const header: Header = {
    logN: f.kdf.logN,
    r: f.kdf.r,
    p: f.kdf.p,
    salt: decodeBase64(f.kdf.salt, 'key file.kdf.salt', SALT_BYTES),
    nonce: decodeBase64(f.aead.nonce, 'key file.aead.nonce', NONCE_BYTES),
    created: f.created,
    card,
    name,
  };
  const ciphertext = decodeBase64(f.aead.ciphertext, 'key file.aead.ciphertext', CIPHERTEXT_BYTES);
  const aad = headerBytes(header);
  // Before anything costly or anything that could read as a wrong passphrase.
  if (toHex(checksum(aad, ciphertext)) !== f.checksum) {
    throw new CorruptKeyFileError('key file: checksum mismatch: the file is damaged');
  }
  checkParams(header, DecodeError, 'key file.kdf.');
  return { header, aad, ciphertext };
}

/**
 * The name and card of a key file, without the passphrase (for `keys list`). Checks the whole
 * file except the passphrase: a damaged file is a CorruptKeyFileError here too.
 */
export function readKeyFileCard(contents: string | Uint8Array): { name: string; card: Card } {
  const { header } = parseKeyFile(contents);
  return { name: header.name, card: header.card };
}

/** Opens a key file with its passphrase. Errors: see the format comment at the top. */
export async function openKeyFile(contents: string | Uint8Array, passphrase: string): Promise<Identity> {
  const password = passphraseBytes(passphrase);
  let parsed: ParsedKeyFile;
  try {
    parsed = parseKeyFile(contents);
  } catch (e) {
    password.fill(0);
    throw e;
  }
  const { header, aad, ciphertext } = parsed;
  const key = await deriveKey(password, header.salt, header).finally(() => password.fill(0));
  let seed: Uint8Array;
  try {
    seed = xchacha20poly1305(key, header.nonce, aad).decrypt(ciphertext);
  } catch (cause) {
    throw new WrongPassphraseError('key file: wrong passphrase', { cause });
  } finally {
    key.fill(0);
  }
  try {
    const identity = Identity.fromSeed(seed);
    if (!identity.card.equals(header.card)) {
      throw new CorruptKeyFileError('key file: the sealed key does not match the card of the file');
    }
    return identity;
  } finally {
    seed.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// --from-passphrase

/** scrypt cost of identityFromPassphrase: twice the key file's, about 256 MiB. Fixed forever. */
export const FROM_PASSPHRASE_SCRYPT: KeyFileScryptParams = Object.freeze({ logN: 18, r: 8, p: 1 });

/**
 * The Coretex flow (`--from-passphrase`): an identity derived deterministically from a
 * passphrase and a name, so the same passphrase and name give the same keys on any machine,
 * with nothing to copy:
 *
 *   seed = scrypt(NFKC(passphrase), salt = utf8("thresh/v1/from-passphrase/" + NFKC(name)),
 *                 N = 2^18, r = 8, p = 1, dkLen = 32);  identity = Identity.fromSeed(seed)
 *
 * WARNING: the identity is exactly as strong as the passphrase. Anyone who learns its card
 * (it is public) and the name (a guessable label) can try passphrases offline at scrypt's
 * cost, as many as they like and forever; and there is no way to rotate the passphrase
 * without changing the identity. Use a long random passphrase (a diceware phrase of six or
 * more words), or a generated identity in a key file.
 *
 * `name` must be non-empty (it is the salt: an empty one would let one precomputation attack
 * every user), at most 256 UTF-8 bytes, without control characters.
 */
export async function identityFromPassphrase(passphrase: string, name: string): Promise<Identity> {
  if (typeof name !== 'string') throw new InvalidArgumentError('name', 'expected a string');
  const normalizedName = checkName(name.normalize('NFKC'), 'name', InvalidArgumentError);
  if (normalizedName.length === 0) throw new InvalidArgumentError('name', 'must not be empty');
  const password = passphraseBytes(passphrase);
  const salt = utf8(FROM_PASSPHRASE_LABEL + normalizedName);
  const p = FROM_PASSPHRASE_SCRYPT;
  const seed = await scrypt(password, salt, {
    N: 2 ** p.logN,
    r: p.r,
    p: p.p,
    dkLen: IDENTITY_SEED_BYTES,
  }).finally(() => password.fill(0));
  try {
    return Identity.fromSeed(seed);
  } finally {
    seed.fill(0);
  }
}
