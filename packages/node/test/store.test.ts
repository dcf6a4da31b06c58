import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@thresh/protocol';
import { Level } from 'level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LevelStore, MemoryStore, type NodeStore, StoreCorruptionError } from '../src/store/index.js';
import {
  hex,
  makePolicy,
  makeTombstone,
  random,
  runStoreCompliance,
  type StoreHarness,
} from './store-compliance.js';

const enc = new TextEncoder();
const startsWith = (key: Uint8Array, prefix: string) =>
  Buffer.from(key).subarray(0, prefix.length).toString() === prefix;

function rawDb(dir: string) {
  return new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
}

/** Every key of the (closed) store at `dir` that starts with `prefix`. */
async function rawKeys(dir: string, prefix: string): Promise<Uint8Array[]> {
  const db = rawDb(dir);
  try {
    return (await db.keys().all()).filter((k) => startsWith(k, prefix));
  } finally {
    await db.close();
  }
}

async function rawEdit(
  dir: string,
  edit: (db: Level<Uint8Array, Uint8Array>) => Promise<void>,
): Promise<void> {
  const db = rawDb(dir);
  try {
    await edit(db);
  } finally {
    await db.close();
  }
}

function levelHarness(): StoreHarness & { dir(): string } {
  let dir: string | undefined;
  const open = async (secret: Uint8Array) => {
    const s = new LevelStore(join(dir!, 'store'), secret);
    await s.open();
    return s;
  };
  return {
    dir: () => join(dir!, 'store'),
    async create(secret) {
      dir = await mkdtemp(join(tmpdir(), 'thresh-store-'));
      return open(secret);
    },
    reopen: open,
    async setSchemaVersion(version) {
      const v = new Uint8Array(4);
      new DataView(v.buffer).setUint32(0, version);
      await rawEdit(join(dir!, 'store'), (db) => db.put(enc.encode('s/schema'), v));
    },
    async cleanup() {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

runStoreCompliance('MemoryStore', () => ({
  async create() {
    const s = new MemoryStore();
    await s.open();
    return s;
  },
  async cleanup() {},
}));

runStoreCompliance('LevelStore', levelHarness);

describe('LevelStore at rest', () => {
  let h: ReturnType<typeof levelHarness>;
  let secret: Uint8Array;
  let store: NodeStore;

  beforeEach(async () => {
    h = levelHarness();
    secret = random(64);
    store = await h.create(secret);
  });

  afterEach(async () => {
    await store.close();
    await h.cleanup();
  });

  const reopen = async () => {
    store = await h.reopen!(secret);
  };

  it('writes no id, path hash, key, kfrag or record bytes readably', async () => {
    const ps = [makePolicy(), makePolicy({ source: 'handoff', handoffCertificates: [random(100)] })];
    await store.putPolicies(ps, { sync: true });
    const revoked = makePolicy();
    await store.putPolicy(revoked);
    const t = makeTombstone(revoked.policyId);
    await store.putTombstone(t, { sync: true });
    const metaBlob = random(32);
    await store.putMeta('blob', metaBlob);
    await store.close();

    const files = (await readdir(h.dir())).filter((f) => f.endsWith('.log') || f.endsWith('.ldb'));
    expect(files.length).toBeGreaterThan(0);
    const disk = Buffer.concat(await Promise.all(files.map((f) => readFile(join(h.dir(), f)))));
    expect(disk.length).toBeGreaterThan(2000);
    const secrets: [string, Uint8Array][] = [
      ['meta blob', metaBlob],
      ['revocation', t.revocation],
    ];
    for (const p of [...ps, revoked]) {
      for (const field of [
        'policyId',
        'policyDigest',
        'pathHash',
        'ownerSigningKey',
        'readerEncryptingKey',
        'policy',
        'assignment',
        'kfrag',
        'receipt',
      ] as const) {
        secrets.push([field, p[field]]);
        // Any 16-byte window of a longer field would do as well as the whole.
        if (p[field].length > 16) secrets.push([`${field}[8..24]`, p[field].subarray(8, 24)]);
      }
      for (const c of p.handoffCertificates ?? []) secrets.push(['certificate', c]);
      secrets.push(['policyId hex', enc.encode(hex(p.policyId))]);
      secrets.push(['pathHash hex', enc.encode(hex(p.pathHash))]);
    }
    for (const [what, bytes] of secrets) expect(disk.indexOf(bytes), what).toBe(-1);
    // The store is still whole.
    await reopen();
    expect(await store.getPolicy(ps[1].policyId)).toEqual(ps[1]);
    await store.close();
    // Control: the same scan does find bytes written in the clear.
    const marker = random(64);
    await rawEdit(h.dir(), (db) => db.put(enc.encode('x/control'), marker, { sync: true }));
    const after = await readdir(h.dir());
    const disk2 = Buffer.concat(
      await Promise.all(
        after.filter((f) => f.endsWith('.log') || f.endsWith('.ldb')).map((f) => readFile(join(h.dir(), f))),
      ),
    );
    expect(disk2.indexOf(marker)).toBeGreaterThanOrEqual(0);
  });

  it('a value moved to another key, or altered, does not open', async () => {
    const [p, q] = [makePolicy(), makePolicy()];
    await store.putPolicies([p, q]);
    await store.close();
    await rawEdit(h.dir(), async (db) => {
      const [k1, k2] = (await db.keys().all()).filter((k) => startsWith(k, 'p/'));
      const [v1, v2] = await db.getMany([k1, k2]);
      await db.batch([
        { type: 'put', key: k1, value: v2! },
        { type: 'put', key: k2, value: v1! },
      ]);
    });
    await reopen();
    for (const id of [p.policyId, q.policyId]) {
      await expect(store.getPolicy(id)).rejects.toMatchObject({
        name: 'StoreCorruptionError',
        code: 'ERR_STORE_CORRUPT',
        reason: 'unauthenticated',
      });
    }
    await expect(store.policiesByPathHash(p.pathHash)).rejects.toThrow(StoreCorruptionError);
    await store.close();
    await rawEdit(h.dir(), async (db) => {
      const [k] = (await db.keys().all()).filter((k) => startsWith(k, 's/counts'));
      const v = (await db.get(k))!;
      v[v.length - 1] ^= 1;
      await db.put(k, v);
    });
    await expect(h.reopen!(secret)).rejects.toThrow(StoreCorruptionError);
  });

  it('skips and reports index entries that lead nowhere; repair removes them', async () => {
    const hash = random(32);
    const [p, q] = [makePolicy({ pathHash: hash, expiry: 10 }), makePolicy({ pathHash: hash, expiry: 20 })];
    await store.putPolicies([p, q]);
    await store.close();
    // What a foreign writer or damage might leave: a record gone, its index entries still there.
    const [victim] = await rawKeys(h.dir(), 'p/');
    await rawEdit(h.dir(), (db) => db.del(victim));
    await reopen();
    const found = await store.policiesByPathHash(hash);
    expect(found.policies.length).toBe(1);
    expect(found.dangling).toBe(1);
    const expired = await store.expiredPolicies(100, 1);
    expect(expired.entries.length).toBe(1);
    expect(expired.dangling).toBeLessThanOrEqual(1);
    expect(await store.expiredPolicies(100, 10)).toMatchObject({ dangling: 1 });
    const report = await store.repair();
    expect(report).toEqual({
      removedIndexEntries: 2,
      restoredIndexEntries: 0,
      corruptRecords: 0,
      policies: 1,
      tombstones: 0,
    });
    expect(await store.countPolicies()).toBe(1);
    expect((await store.policiesByPathHash(hash)).dangling).toBe(0);
    expect((await store.expiredPolicies(100, 10)).dangling).toBe(0);
  });

  it('repair restores missing index entries and recounts', async () => {
    const p = makePolicy({ expiry: 10 });
    await store.putPolicy(p);
    await store.putTombstone(makeTombstone(random(16), { expiry: 10 }));
    await store.close();
    await rawEdit(h.dir(), async (db) => {
      const index = (await db.keys().all()).filter((k) => startsWith(k, 'h/') || startsWith(k, 'e/'));
      expect(index.length).toBe(3);
      await db.batch(index.map((key) => ({ type: 'del' as const, key })));
    });
    await reopen();
    expect((await store.policiesByPathHash(p.pathHash)).policies).toEqual([]);
    expect((await store.repair()).restoredIndexEntries).toBe(3);
    expect((await store.policiesByPathHash(p.pathHash)).policies).toEqual([p]);
    expect((await store.expiredPolicies(10, 10)).entries.length).toBe(1);
    expect((await store.expiredTombstones(10, 10)).entries.length).toBe(1);
  });

  it('revocation and deletion still work over a damaged policy record', async () => {
    const [p, q] = [makePolicy(), makePolicy()];
    await store.putPolicies([p, q]);
    await store.close();
    await rawEdit(h.dir(), async (db) => {
      for (const k of (await db.keys().all()).filter((k) => startsWith(k, 'p/'))) {
        const v = (await db.get(k))!;
        v[30] ^= 0xff;
        await db.put(k, v);
      }
    });
    await reopen();
    await expect(store.getPolicy(p.policyId)).rejects.toThrow(StoreCorruptionError);
    expect(await store.putTombstone(makeTombstone(p.policyId))).toEqual({ policyDeleted: true });
    expect(await store.deletePolicy(q.policyId)).toBe(true);
    expect(await store.getPolicy(p.policyId)).toBeUndefined();
    expect(await store.getPolicy(q.policyId)).toBeUndefined();
    expect(await store.countPolicies()).toBe(0);
    // Their index entries are left dangling; reads skip them and repair clears them.
    expect((await store.policiesByPathHash(p.pathHash)).dangling).toBe(1);
    expect((await store.repair()).removedIndexEntries).toBe(4);
  });

  it('refuses a directory holding data without a schema version, and bad secrets', async () => {
    await store.close();
    await rawEdit(h.dir(), (db) => db.del(enc.encode('s/schema')));
    await expect(h.reopen!(secret)).rejects.toMatchObject({ reason: 'malformed' });
    expect(() => new LevelStore(h.dir(), random(31))).toThrow(InvalidArgumentError);
    expect(() => new LevelStore(h.dir(), random(65))).toThrow(InvalidArgumentError);
    expect(() => new LevelStore('', random(32))).toThrow(InvalidArgumentError);
  });

  it('does not render its keys', () => {
    expect(String(store)).toMatch(/^LevelStore\(/);
    expect(JSON.stringify(store)).not.toMatch(/[0-9a-f]{32}/);
  });
});
