/**
 * The owner's local state (DESIGN.md "Grant" step 5): one JSON file, stateDir/policies.json,
 * mode 0600, replaced atomically (write a temporary file, fsync, rename). It lists every
 * policy the owner ever sent a kfrag of, including abandoned attempts, so that a revocation
 * reaches every node that was ever sent a kfrag. No secret is in it: the signed map is the
 * owner's public statement, sealed copies go to the reader and the DHT.
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

interface StateFile {
  version: number;
  policies: PolicyEntry[];
}

/** Loads, updates and saves the state; updates are serialized within the process. */
export class PolicyState {
  #cache: PolicyEntry[] | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly file: string | undefined;

  constructor(readonly stateDir?: string) {
    this.file = stateDir === undefined ? undefined : join(stateDir, STATE_FILE);
  }

  async list(): Promise<PolicyEntry[]> {
    await this.#queue.catch(() => {});
    return (await this.#load()).map((e) => structuredClone(e));
  }

  async get(policyId: string): Promise<PolicyEntry | undefined> {
    return (await this.list()).find((e) => e.policyId === policyId);
  }

  /** Applies `change` to the entry with that id (or inserts `entry` when absent) and saves. */
  upsert(policyId: string, change: (existing: PolicyEntry | undefined) => PolicyEntry): Promise<PolicyEntry> {
    const run = async () => {
      const all = await this.#load();
      const i = all.findIndex((e) => e.policyId === policyId);
      const next = change(i >= 0 ? structuredClone(all[i]) : undefined);
      const updated = [...all];
      if (i >= 0) updated[i] = next;
      else updated.push(next);
      await this.#save(updated);
      this.#cache = updated;
      return structuredClone(next);
    };
    const p = this.#queue.then(run, run);
    this.#queue = p.catch(() => {});
    return p;
  }

  async #load(): Promise<PolicyEntry[]> {
    if (this.#cache) return this.#cache;
    if (this.file === undefined) {
      this.#cache = [];
      return this.#cache;
    }
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#cache = [];
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
    this.#cache = parsed.policies;
    return this.#cache;
  }

  async #save(policies: PolicyEntry[]): Promise<void> {
    if (this.file === undefined || this.stateDir === undefined) return;
    await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${Date.now()}.tmp`;
    const body: StateFile = { version: STATE_VERSION, policies };
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
