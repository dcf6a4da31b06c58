/**
 * The owner's local state (DESIGN.md "Grant" step 5): one JSON file, stateDir/policies.json,
 * mode 0600, replaced atomically (write a temporary file, fsync, rename). It lists every
 * policy the owner ever sent a kfrag of, including abandoned attempts, so that a revocation
 * reaches every node that was ever sent a kfrag. No secret is in it: the signed map is the
 * owner's public statement, sealed copies go to the reader and the DHT.
 *
 * It also holds each directory's current epoch (DESIGN.md "Revoke, expiry, rotation": files
 * encrypted from now on use it) and the rotations, each with its planned re-grants, so that a
 * rotation interrupted by a crash is finished by the next one on that path, never redone.
 *
 * Without a stateDir the state lives in memory for the client's lifetime.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { StateFileError } from './errors.js';
import type { PeerInfo } from './transport.js';

export const STATE_FILE = 'policies.json';
export const STATE_VERSION = 1;

/**
 * pending: kfrags are being sent; active: every node receipted; abandoned: an attempt that
 * failed and was revoked (DESIGN.md "Grant" step 4); revoked: the owner revoked it.
 */
export type PolicyStatus = 'pending' | 'active' | 'abandoned' | 'revoked';

export interface PolicyNodeEntry {
  /** Node id (compressed signing key), hex. */
  nodeId: string;
  peer: PeerInfo;
}

export interface PolicyEntry {
  /** Policy id, hex. */
  policyId: string;
  /** The granted prefix (canonical path). */
  path: string;
  epoch: number;
  /** Reader card, printed form (Card.toString()). */
  reader: string;
  threshold: number;
  shares: number;
  /** Unix seconds. */
  created: number;
  expiresAt: number;
  status: PolicyStatus;
  /** Every node sent a kfrag of this policy, in the policy's order. */
  nodes: PolicyNodeEntry[];
  /** The signed policy record, base64. */
  policy: string;
  /** The owner-signed policy map, base64 (active and revoked policies). */
  map?: string;
  /** The grant string handed to the reader. */
  grant?: string;
  /** When the owner revoked it (Unix seconds). */
  revokedAt?: number;
  /** For an abandoned attempt: why, and the policy id that replaced it (if any). */
  abandonedBecause?: string;
  supersededBy?: string;
}

/** One reader re-granted by a rotation: the live policy it held, and the new one. */
export interface RegrantEntry {
  /** Reader card, printed form. */
  reader: string;
  /** The policy (hex) the reader held at the old epoch; it stays live for the old files. */
  fromPolicy: string;
  threshold: number;
  shares: number;
  expiresAt: number;
  status: 'pending' | 'done' | 'failed';
  /** The new policy (hex), once granted. */
  policyId?: string;
  /** Why the last attempt failed. */
  error?: string;
}

/** A directory's epoch bump and the re-grants it owes (DESIGN.md "Revoke, expiry, rotation"). */
export interface RotationEntry {
  /** The rotated level (canonical path). */
  path: string;
  from: number;
  to: number;
  /** Unix seconds. */
  at: number;
  /** The policy revoked with it (`revoke --rotate`), hex. */
  revokedPolicy?: string;
  /** Readers not re-granted (the revoked policy's reader), printed cards. */
  excludedReaders: string[];
  regrants: RegrantEntry[];
  /** Every re-grant done. An unfinished rotation is resumed by the next rotate() of its path. */
  done: boolean;
}

export interface StateData {
  policies: PolicyEntry[];
  /** Canonical path -> current epoch; absent means 0. */
  epochs: Record<string, number>;
  rotations: RotationEntry[];
}

interface StateFile {
  version: number;
  policies: PolicyEntry[];
  epochs?: Record<string, number>;
  rotations?: RotationEntry[];
}

/** Loads, updates and saves the state; updates are serialized within the process. */
export class PolicyState {
  #cache: StateData | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly file: string | undefined;

  constructor(readonly stateDir?: string) {
    this.file = stateDir === undefined ? undefined : join(stateDir, STATE_FILE);
  }

  /** A copy of the whole state, after the updates already queued. */
  async snapshot(): Promise<StateData> {
    await this.#queue.catch(() => {});
    return structuredClone(await this.#load());
  }

  async list(): Promise<PolicyEntry[]> {
    return (await this.snapshot()).policies;
  }

  async get(policyId: string): Promise<PolicyEntry | undefined> {
    return (await this.list()).find((e) => e.policyId === policyId);
  }

  /** The current epoch of a level (canonical path). */
  async epochOf(prefix: string): Promise<number> {
    return (await this.snapshot()).epochs[prefix] ?? 0;
  }

  /** Applies `change` to the entry with that id (or inserts `entry` when absent) and saves. */
  upsert(policyId: string, change: (existing: PolicyEntry | undefined) => PolicyEntry): Promise<PolicyEntry> {
    return this.update((data) => {
      const i = data.policies.findIndex((e) => e.policyId === policyId);
      const next = change(i >= 0 ? data.policies[i] : undefined);
      if (i >= 0) data.policies[i] = next;
      else data.policies.push(next);
      return structuredClone(next);
    });
  }

  /**
   * Runs `change` on a copy of the state and saves the copy in one atomic write (after the
   * updates already queued); if `change` throws, nothing is saved.
   */
  update<T>(change: (data: StateData) => T): Promise<T> {
    const run = async () => {
      const next = structuredClone(await this.#load());
      const out = change(next);
      await this.#save(next);
      this.#cache = next;
      return out;
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }

  async #load(): Promise<StateData> {
    if (this.#cache) return this.#cache;
    const empty = (): StateData => ({ policies: [], epochs: {}, rotations: [] });
    if (this.file === undefined) {
      this.#cache = empty();
      return this.#cache;
    }
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#cache = empty();
        return this.#cache;
      }
      throw new StateFileError(this.file, 'cannot read', { cause: e });
    }
    let parsed: StateFile;
    try {
      parsed = JSON.parse(text) as StateFile;
    } catch (e) {
      throw new StateFileError(this.file, 'not JSON', { cause: e });
    }
    if (parsed === null || typeof parsed !== 'object' || !Array.isArray(parsed.policies)) {
      throw new StateFileError(this.file, 'expected { version, policies: [...] }');
    }
    if (parsed.version !== STATE_VERSION) {
      throw new StateFileError(this.file, `state version ${parsed.version} is not ${STATE_VERSION}`);
    }
    const epochs = parsed.epochs ?? {};
    if (
      typeof epochs !== 'object' ||
      Array.isArray(epochs) ||
      Object.values(epochs).some((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    ) {
      throw new StateFileError(this.file, '"epochs" must map paths to u32 epochs');
    }
    if (parsed.rotations !== undefined && !Array.isArray(parsed.rotations)) {
      throw new StateFileError(this.file, '"rotations" must be a list');
    }
    this.#cache = { policies: parsed.policies, epochs, rotations: parsed.rotations ?? [] };
    return this.#cache;
  }

  async #save(data: StateData): Promise<void> {
    if (this.file === undefined || this.stateDir === undefined) return;
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    const body: StateFile = {
      version: STATE_VERSION,
      policies: data.policies,
      epochs: data.epochs,
      rotations: data.rotations,
    };
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw new StateFileError(this.file, 'cannot write', { cause: e });
    }
    await fh.close();
    await rename(tmp, this.file);
    // the rename itself survives a crash once the directory is synced
    const dir = await open(this.stateDir, 'r').catch(() => undefined);
    await dir?.sync().catch(() => {});
    await dir?.close();
  }
}

export const toB64 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
export const fromB64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
export const toHexString = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
export const fromHexString = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
