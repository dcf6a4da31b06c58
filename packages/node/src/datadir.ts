import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Card, Identity, openKeyFile, readKeyFileCard, sealKeyFile } from '@thresh/protocol';
import { DEFAULTS, type NodeInit } from './options.js';

/**
 * A node's data directory (OPERATIONS.md "Data directory"):
 *
 *   identity.json   the node's key file: its 32-byte identity seed sealed with a passphrase
 *                   (scrypt + XChaCha20-Poly1305), mode 0600. The signing key is the node id
 *                   and the libp2p PeerId; the storage key is derived from the same seed.
 *   passphrase      only when `init --generate-passphrase` was used (local clusters): the
 *                   passphrase itself, mode 0600. Production nodes take it from
 *                   THRESH_PASSPHRASE or --passphrase-file instead.
 *   admin-token     bearer token for the HTTP admin routes, mode 0600.
 *   config.json     options (NodeInit), every default written out; flags override it.
 *   store/          LevelDB, every value sealed with the storage key.
 */
export const FILES = {
  identity: 'identity.json',
  passphrase: 'passphrase',
  adminToken: 'admin-token',
  config: 'config.json',
  store: 'store',
} as const;

export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  readonly code = 'ERR_DATA_DIR';
}

/** Writes a file atomically (temp file, fsync, rename) with `mode`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(tmp, mode);
  await rename(tmp, path);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

export interface InitOptions {
  /** The passphrase sealing the key file. Required unless generatePassphrase. */
  passphrase?: string;
  /** Generate a random passphrase and keep it in data-dir/passphrase (0600). */
  generatePassphrase?: boolean;
  /** Import this key file (and its passphrase, `passphrase`) instead of generating an identity. */
  keyFile?: string;
  /** Options written to config.json over the defaults. */
  config?: NodeInit;
  /** Lower scrypt cost (tests only). */
  scryptParams?: { logN: number; r: number; p: number };
}

export interface InitResult {
  dir: string;
  card: Card;
  created: boolean;
}

/** Creates a data directory; refuses to touch one that already has an identity. */
export async function initDataDir(dir: string, opts: InitOptions): Promise<InitResult> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const identityPath = join(dir, FILES.identity);
  if (await exists(identityPath)) {
    throw new DataDirError(
      `${dir} already holds a node identity (${FILES.identity}); refusing to overwrite it`,
    );
  }
  let passphrase = opts.passphrase;
  if (opts.generatePassphrase) {
    passphrase = randomBytes(32).toString('base64url');
    await writeFileAtomic(join(dir, FILES.passphrase), `${passphrase}\n`);
  }
  if (!passphrase) {
    throw new DataDirError(
      'a passphrase is needed: set THRESH_PASSPHRASE, use --passphrase-file, or --generate-passphrase',
    );
  }
  let keyFileText: string;
  let card: Card;
  if (opts.keyFile !== undefined) {
    const identity = await openKeyFile(opts.keyFile, passphrase);
    keyFileText = opts.keyFile;
    card = identity.card;
  } else {
    const identity = Identity.generate();
    keyFileText = await sealKeyFile(identity, passphrase, {
      name: 'node',
      scryptParams: opts.scryptParams ?? (opts.generatePassphrase ? GENERATED_PASSPHRASE_SCRYPT : undefined),
    });
    card = identity.card;
  }
  await writeFileAtomic(join(dir, FILES.adminToken), `${randomBytes(32).toString('hex')}\n`);
  const config = { ...DEFAULTS, workers: undefined, ...opts.config };
  await writeFileAtomic(join(dir, FILES.config), `${JSON.stringify(config, null, 2)}\n`, 0o644);
  await writeFileAtomic(identityPath, keyFileText);
  return { dir, card, created: true };
}

export interface OpenedDataDir {
  dir: string;
  identity: Identity;
  config: NodeInit;
  adminToken: string;
  /** Files readable by group or others: reported as warnings. */
  warnings: string[];
}

/** Reads the passphrase from data-dir/passphrase when no other was given. */
/**
 * scrypt cost of a key file sealed with a generated passphrase. scrypt's work factor makes a
 * guessable human passphrase expensive to guess; a generated one is 32 random bytes (nothing to
 * guess) and sits in the same data directory anyway, so stretching it buys nothing and costs
 * every start of a local cluster node ~0.5 s of CPU. 2^10 keeps the same file format.
 */
export const GENERATED_PASSPHRASE_SCRYPT = Object.freeze({ logN: 10, r: 8, p: 1 });

export async function storedPassphrase(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(join(dir, FILES.passphrase), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

export async function openDataDir(dir: string, passphrase?: string): Promise<OpenedDataDir> {
  const identityPath = join(dir, FILES.identity);
  if (!(await exists(identityPath))) {
    throw new DataDirError(
      `${dir} is not an initialised node data directory (run: thresh node init --data-dir ${dir})`,
    );
  }
  const pass = passphrase ?? (await storedPassphrase(dir));
  if (!pass) {
    throw new DataDirError('this node needs its passphrase: set THRESH_PASSPHRASE or use --passphrase-file');
  }
  const keyFile = await readFile(identityPath, 'utf8');
  const identity = await openKeyFile(keyFile, pass);
  const warnings: string[] = [];
  for (const f of [FILES.identity, FILES.adminToken, FILES.passphrase]) {
    try {
      const s = await stat(join(dir, f));
      if (s.mode & 0o077) warnings.push(`${join(dir, f)} is readable by group or others (chmod 600 it)`);
    } catch {
      // optional file absent
    }
  }
  let config: NodeInit = {};
  try {
    config = JSON.parse(await readFile(join(dir, FILES.config), 'utf8')) as NodeInit;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DataDirError(`${join(dir, FILES.config)} is not valid JSON`, { cause });
    }
  }
  const adminToken = (await readFile(join(dir, FILES.adminToken), 'utf8')).trim();
  return { dir, identity, config, adminToken, warnings };
}

/** The node's card without its passphrase (for status and cluster listings). */
export async function readNodeCard(dir: string): Promise<Card> {
  return readKeyFileCard(await readFile(join(dir, FILES.identity), 'utf8')).card;
}
