/**
 * Path keys and path hashes (DESIGN.md "Paths and path keys").
 *
 * Path key of one level: key_i = owner.pathKeyFactory().makeKey(utf8("thresh/v1/path/" +
 * epoch + "/" + prefix_i)), epoch a u32 in decimal without leading zeros. It is an HKDF-based
 * derivation from the owner's secret path seed, so knowing one path key (which m colluding
 * nodes and a reader can recover, see docs/SECURITY.md) reveals no other level or epoch.
 *
 * Path hash of one level, what nodes see instead of a path:
 *   S = HKDF-SHA256(ikm = compressed ECDH point (33 bytes), salt = none,
 *                   info = utf8("thresh/v1/path-hash") || owner encrypting key (33)
 *                          || reader encrypting key (33), length = 32)
 *   pathHash_i = HMAC-SHA256(S, u32be(epoch) || utf8(prefix_i))
 * Owner and reader compute the same S (ECDH is symmetric; the keys in `info` are ordered by
 * role, not by who computes); nobody else can, so nodes cannot test guesses of paths.
 *
 * Prefixes must be canonical (path.ts): these functions reject, never rewrite, another spelling,
 * so two spellings of one path cannot reach key derivation. Canonicalize user input first.
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { InvalidArgumentError } from './errors.js';
import { Identity } from './identity/identity.js';
import { assertCanonicalPath, pathPrefixes } from './path.js';
import {
  assertPublicKey,
  type PublicKey,
  type SecretKey,
  type SecretKeyFactory,
  secretScalar,
} from './umbral/keys.js';

export const MAX_EPOCH = 0xffffffff;
export const PATH_HASH_BYTES = 32;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const PATH_KEY_LABEL = 'thresh/v1/path/';
const PATH_HASH_INFO = utf8('thresh/v1/path-hash');

/** One epoch for every level, or one per level (a directory's epoch moves on its own). */
export type Epochs = number | ((prefix: string, depth: number) => number);

function checkEpoch(epoch: unknown, field = 'epoch'): number {
  if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new InvalidArgumentError(field, `expected an integer in [0, ${MAX_EPOCH}], got ${String(epoch)}`);
  }
  return epoch;
}

function epochAt(epochs: Epochs, prefix: string, depth: number): number {
  if (typeof epochs === 'function')
    return checkEpoch(epochs(prefix, depth), `epoch of ${JSON.stringify(prefix)}`);
  return checkEpoch(epochs);
}

function checkOwner(owner: unknown): asserts owner is Identity {
  if (!(owner instanceof Identity)) throw new InvalidArgumentError('owner', 'expected an Identity');
}

/** The prefixes of `path` from `fromDepth` down, with their depths. */
function levels(path: string, fromDepth: number): { prefix: string; depth: number }[] {
  const prefixes = pathPrefixes(path);
  if (!Number.isInteger(fromDepth) || fromDepth < 0 || fromDepth >= prefixes.length) {
    throw new InvalidArgumentError(
      'fromDepth',
      `expected an integer in [0, ${prefixes.length - 1}] for this path`,
    );
  }
  return prefixes.slice(fromDepth).map((prefix, i) => ({ prefix, depth: fromDepth + i }));
}

function makePathKey(factory: SecretKeyFactory, prefix: string, epoch: number): SecretKey {
  return factory.makeKey(utf8(`${PATH_KEY_LABEL}${epoch}/${prefix}`));
}

/** The owner's secret key of level `prefix` (a canonical path) at `epoch`. */
export function pathKey(owner: Identity, prefix: string, epoch: number): SecretKey {
  checkOwner(owner);
  assertCanonicalPath(prefix);
  return makePathKey(owner.pathKeyFactory(), prefix, checkEpoch(epoch));
}

/** The public key of `pathKey(owner, prefix, epoch)`: what capsules of that level are made to. */
export function pathPublicKey(owner: Identity, prefix: string, epoch: number): PublicKey {
  return pathKey(owner, prefix, epoch).publicKey();
}

export interface LevelKey {
  /** 0 for "/", 1 for "/a", ... */
  readonly depth: number;
  readonly prefix: string;
  readonly epoch: number;
  readonly secretKey: SecretKey;
  readonly publicKey: PublicKey;
}

/**
 * The path keys of every level of `path` (canonical), root first, or from depth `fromDepth`
 * (0 = the root) down to `path` itself.
 */
export function levelKeys(owner: Identity, path: string, epochs: Epochs, fromDepth = 0): LevelKey[] {
  checkOwner(owner);
  const factory = owner.pathKeyFactory();
  return levels(path, fromDepth).map(({ prefix, depth }) => {
    const epoch = epochAt(epochs, prefix, depth);
    const secretKey = makePathKey(factory, prefix, epoch);
    return { depth, prefix, epoch, secretKey, publicKey: secretKey.publicKey() };
  });
}

/**
 * S of the module comment, shared by one owner and one reader. A secret: it never prints, and
 * `wipe()` clears it once the caller is done.
 */
export class PathHashSecret {
  readonly #key: Uint8Array;

  /** @internal */
  constructor(key: Uint8Array) {
    this.#key = key;
  }

  /** pathHash of one level: HMAC-SHA256(S, u32be(epoch) || utf8(prefix)). */
  hash(prefix: string, epoch: number): Uint8Array {
    assertCanonicalPath(prefix);
    checkEpoch(epoch);
    const p = utf8(prefix);
    const msg = new Uint8Array(4 + p.length);
    new DataView(msg.buffer).setUint32(0, epoch);
    msg.set(p, 4);
    return hmac(sha256, this.#key, msg);
  }

  /** Overwrites the secret; later use gives wrong hashes, so drop the object too. */
  wipe(): void {
    this.#key.fill(0);
  }

  toString(): string {
    return 'PathHashSecret:...';
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

/**
 * S between an owner and a reader, computed by either: `mySecretEncKey` is the caller's
 * encrypting secret key, whose public key must be `ownerEncPk` or `readerEncPk` (both when an
 * owner grants itself). Passing roles, not "mine/theirs", is what makes both sides agree.
 */
export function pathHashSecret(
  mySecretEncKey: SecretKey,
  ownerEncPk: PublicKey,
  readerEncPk: PublicKey,
): PathHashSecret {
  const k = secretScalar(mySecretEncKey);
  assertPublicKey(ownerEncPk, 'owner encrypting key');
  assertPublicKey(readerEncPk, 'reader encrypting key');
  const mine = mySecretEncKey.publicKey();
  let theirs: PublicKey;
  if (mine.equals(ownerEncPk)) theirs = readerEncPk;
  else if (mine.equals(readerEncPk)) theirs = ownerEncPk;
  else {
    throw new InvalidArgumentError(
      'my encrypting key',
      "is neither the owner's nor the reader's encrypting key",
    );
  }
  // secp256k1 has prime order and k is in [1, n-1], so the product is never the identity.
  const shared = theirs.point.mul(k, true).toBytes();
  const info = new Uint8Array(PATH_HASH_INFO.length + 66);
  info.set(PATH_HASH_INFO);
  info.set(ownerEncPk.toCompressedBytes(), PATH_HASH_INFO.length);
  info.set(readerEncPk.toCompressedBytes(), PATH_HASH_INFO.length + 33);
  try {
    return new PathHashSecret(hkdf(sha256, shared, undefined, info, PATH_HASH_BYTES));
  } finally {
    // `shared` is the cached encoding of a point nobody else holds: wipe it.
    shared.fill(0);
  }
}

/** The path hashes of every level of `path` (canonical), root first, or from depth `fromDepth`. */
export function pathHashes(
  secret: PathHashSecret,
  path: string,
  epochs: Epochs,
  fromDepth = 0,
): Uint8Array[] {
  if (!(secret instanceof PathHashSecret))
    throw new InvalidArgumentError('secret', 'expected a PathHashSecret');
  return levels(path, fromDepth).map(({ prefix, depth }) =>
    secret.hash(prefix, epochAt(epochs, prefix, depth)),
  );
}
