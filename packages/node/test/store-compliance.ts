/**
 * The one compliance suite every NodeStore implementation passes (STYLE.md "Tests in layers").
 * Cases that need persistence run only where the harness offers `reopen`.
 */
import { InvalidArgumentError } from '@thresh/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type NodeStore,
  SCHEMA_VERSION,
  StoreClosedError,
  StoreCorruptionError,
  type StoredPolicy,
  type StoredTombstone,
  StoreSchemaError,
} from '../src/store/index.js';

export interface StoreHarness {
  /** A new, empty, opened store (LevelStore: in a fresh directory) with this storage secret. */
  create(secret: Uint8Array): Promise<NodeStore>;
  /** Persistent stores: a new, opened instance over the data of the last `create`, once closed. */
  reopen?(secret: Uint8Array): Promise<NodeStore>;
  /** Persistent stores, while closed: overwrite the schema version on disk. */
  setSchemaVersion?(version: number): Promise<void>;
  /** Removes whatever `create` made. */
  cleanup(): Promise<void>;
}

export const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export function makePolicy(overrides: Partial<StoredPolicy> = {}): StoredPolicy {
  return {
    policyId: random(16),
    policyDigest: random(32),
    pathHash: random(32),
    epoch: 0,
    expiry: 2_000_000_000,
    notBefore: 1_700_000_000,
    ownerSigningKey: random(33),
    readerEncryptingKey: random(33),
    policy: random(220),
    assignment: random(150),
    kfrag: random(310),
    receipt: random(120),
    storedAt: 1_700_000_100,
    source: 'store',
    ...overrides,
  };
}

export function makeTombstone(
  policyId: Uint8Array,
  overrides: Partial<StoredTombstone> = {},
): StoredTombstone {
  return {
    policyId,
    revocation: random(140),
    expiry: 2_000_086_400,
    receivedAt: 1_700_000_200,
    ...overrides,
  };
}

const ids = (list: { policyId: Uint8Array }[]) => list.map((p) => hex(p.policyId)).sort();

export function runStoreCompliance(name: string, makeHarness: () => StoreHarness): void {
  describe(`NodeStore compliance: ${name}`, () => {
    let h: StoreHarness;
    let secret: Uint8Array;
    let store: NodeStore;
    const opened: NodeStore[] = [];
    const track = (s: NodeStore) => {
      opened.push(s);
      return s;
    };
    /** Closes the current store and opens its data again (persistent stores). */
    const reopen = async (withSecret = secret) => {
      await store.close();
      store = track(await h.reopen!(withSecret));
      return store;
    };

    beforeEach(async () => {
      h = makeHarness();
      secret = random(64);
      store = track(await h.create(secret));
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await h.cleanup();
    });

    it('puts and gets a policy, handing out copies', async () => {
      const p = makePolicy();
      const q = makePolicy({ source: 'handoff', handoffCertificates: [random(90), random(91)], epoch: 7 });
      await store.putPolicy(p, { sync: true });
      await store.putPolicy(q);
      expect(await store.getPolicy(p.policyId)).toEqual(p);
      expect(await store.getPolicy(q.policyId)).toEqual(q);
      expect(await store.getPolicy(random(16))).toBeUndefined();
      // Neither the caller's object nor a returned one aliases what the store holds.
      const kfrag = p.kfrag.slice();
      (await store.getPolicy(p.policyId))!.kfrag.fill(0);
      p.kfrag.fill(1);
      expect((await store.getPolicy(p.policyId))!.kfrag).toEqual(kfrag);
      expect(await store.countPolicies()).toBe(2);
    });

    it('rejects malformed records and arguments, naming the field', async () => {
      await expect(store.putPolicy(makePolicy({ policyId: random(15) }))).rejects.toThrow(
        InvalidArgumentError,
      );
      await expect(store.putPolicy(makePolicy({ pathHash: random(31) }))).rejects.toThrow(/policy\.pathHash/);
      await expect(store.putPolicy(makePolicy({ kfrag: new Uint8Array(0) }))).rejects.toThrow(
        /policy\.kfrag/,
      );
      await expect(store.putPolicy(makePolicy({ expiry: -1 }))).rejects.toThrow(/policy\.expiry/);
      await expect(
        store.putPolicy({ ...makePolicy(), source: 'other' as StoredPolicy['source'] }),
      ).rejects.toThrow(/policy\.source/);
      await expect(store.putTombstone(makeTombstone(random(17)))).rejects.toThrow(/tombstone\.policyId/);
      await expect(store.getPolicy(random(32))).rejects.toThrow(InvalidArgumentError);
      await expect(store.policiesByPathHash(random(16))).rejects.toThrow(InvalidArgumentError);
      await expect(store.expiredPolicies(1.5, 10)).rejects.toThrow(InvalidArgumentError);
      await expect(store.expiredPolicies(10, 0)).rejects.toThrow(InvalidArgumentError);
      // A batch with one bad record writes nothing.
      await expect(store.putPolicies([makePolicy(), makePolicy({ epoch: -1 })])).rejects.toThrow(
        /policy\.epoch/,
      );
      expect(await store.countPolicies()).toBe(0);
    });

    it('finds every policy on a path hash, and only those', async () => {
      const a = random(32);
      const b = random(32);
      const onA = [makePolicy({ pathHash: a }), makePolicy({ pathHash: a }), makePolicy({ pathHash: a })];
      const onB = [makePolicy({ pathHash: b })];
      await store.putPolicies([...onA, ...onB]);
      const foundA = await store.policiesByPathHash(a);
      expect(foundA.dangling).toBe(0);
      expect(ids(foundA.policies)).toEqual(ids(onA));
      expect(foundA.policies.find((p) => hex(p.policyId) === hex(onA[1].policyId))).toEqual(onA[1]);
      expect(ids((await store.policiesByPathHash(b)).policies)).toEqual(ids(onB));
      expect(await store.policiesByPathHash(random(32))).toEqual({ policies: [], dangling: 0 });
    });

    it('a path lookup sees every write before it, and hands out copies (a store may keep lookups)', async () => {
      const path = random(32);
      const p = makePolicy({ pathHash: path });
      const q = makePolicy({ pathHash: path });
      expect((await store.policiesByPathHash(path)).policies).toEqual([]);
      await store.putPolicy(p);
      const first = await store.policiesByPathHash(path);
      expect(first.policies).toEqual([p]);
      first.policies[0].kfrag.fill(0); // a caller's copy: the next lookup is not changed
      first.policies.push(q);
      expect((await store.policiesByPathHash(path)).policies).toEqual([p]);
      await store.putPolicy(q);
      expect(ids((await store.policiesByPathHash(path)).policies)).toEqual(ids([p, q]));
      await store.deletePolicy(p.policyId);
      expect((await store.policiesByPathHash(path)).policies).toEqual([q]);
      await store.putTombstone(makeTombstone(q.policyId));
      expect((await store.policiesByPathHash(path)).policies).toEqual([]);
      // a write queued while a lookup runs: the lookup after it sees the write
      const r = makePolicy({ pathHash: path });
      const during = store.policiesByPathHash(path);
      const put = store.putPolicy(r);
      await Promise.all([during, put]);
      expect((await store.policiesByPathHash(path)).policies).toEqual([r]);
      // a sweep's delete too
      await store.deletePolicy(r.policyId);
      expect((await store.policiesByPathHash(path)).policies).toEqual([]);
    });

    it('replaces a policy with the same id, moving its indexes', async () => {
      const p = makePolicy({ expiry: 100 });
      await store.putPolicy(p);
      const moved = makePolicy({ policyId: p.policyId, expiry: 300 });
      await store.putPolicy(moved);
      expect(await store.countPolicies()).toBe(1);
      expect(await store.getPolicy(p.policyId)).toEqual(moved);
      expect((await store.policiesByPathHash(p.pathHash)).policies).toEqual([]);
      expect((await store.policiesByPathHash(moved.pathHash)).policies).toEqual([moved]);
      expect((await store.expiredPolicies(200, 10)).entries).toEqual([]);
      expect((await store.expiredPolicies(300, 10)).entries).toEqual([{ policyId: p.policyId, expiry: 300 }]);
    });

    it('puts many in one call; a later entry with the same id wins', async () => {
      const p = makePolicy({ expiry: 100 });
      const again = makePolicy({ policyId: p.policyId, expiry: 200 });
      const other = makePolicy();
      await store.putPolicies([p, other, again], { sync: true });
      await store.putPolicies([]);
      expect(await store.countPolicies()).toBe(2);
      expect(await store.getPolicy(p.policyId)).toEqual(again);
      expect((await store.policiesByPathHash(p.pathHash)).policies).toEqual([]);
      expect((await store.expiredPolicies(150, 10)).entries).toEqual([]);
    });

    it('a tombstone deletes the policy with its kfrag and indexes', async () => {
      const p = makePolicy({ expiry: 100 });
      const sibling = makePolicy({ pathHash: p.pathHash });
      await store.putPolicies([p, sibling]);
      const t = makeTombstone(p.policyId, { expiry: 500 });
      expect(await store.putTombstone(t, { sync: true })).toEqual({ policyDeleted: true });
      expect(await store.getPolicy(p.policyId)).toBeUndefined();
      expect(await store.getTombstone(p.policyId)).toEqual(t);
      expect((await store.policiesByPathHash(p.pathHash)).policies).toEqual([sibling]);
      expect((await store.expiredPolicies(1000, 10)).entries).toEqual([]);
      expect(await store.countPolicies()).toBe(1);
      expect(await store.countTombstones()).toBe(1);
      // A tombstone for a policy this node never held, and a replaced tombstone.
      const stranger = random(16);
      expect(await store.putTombstone(makeTombstone(stranger))).toEqual({ policyDeleted: false });
      const later = makeTombstone(p.policyId, { expiry: 700 });
      expect(await store.putTombstone(later)).toEqual({ policyDeleted: false });
      expect(await store.getTombstone(p.policyId)).toEqual(later);
      expect(await store.countTombstones()).toBe(2);
      expect((await store.expiredTombstones(600, 10)).entries).toEqual([]);
      expect((await store.expiredTombstones(700, 10)).entries).toEqual([
        { policyId: p.policyId, expiry: 700 },
      ]);
    });

    it('stores a policy again after its tombstone (refusing it is the node’s job)', async () => {
      const p = makePolicy();
      await store.putPolicy(p);
      const t = makeTombstone(p.policyId);
      await store.putTombstone(t);
      await store.putPolicy(p);
      expect(await store.getPolicy(p.policyId)).toEqual(p);
      expect(await store.getTombstone(p.policyId)).toEqual(t);
      expect(await store.countPolicies()).toBe(1);
      expect(await store.countTombstones()).toBe(1);
    });

    it('lists exactly the expired ones, oldest first, up to the limit', async () => {
      const expiries = [100, 50, 300, 200, 150, 201];
      const ps = expiries.map((expiry) => makePolicy({ expiry }));
      await store.putPolicies(ps);
      const want = (upTo: number) =>
        ps
          .filter((p) => p.expiry <= upTo)
          .sort((x, y) => x.expiry - y.expiry)
          .map((p) => ({ policyId: p.policyId, expiry: p.expiry }));
      expect(await store.expiredPolicies(200, 10)).toEqual({ entries: want(200), dangling: 0 });
      expect((await store.expiredPolicies(200, 2)).entries).toEqual(want(200).slice(0, 2));
      expect((await store.expiredPolicies(49, 10)).entries).toEqual([]);
      expect((await store.expiredPolicies(Number.MAX_SAFE_INTEGER, 10_000)).entries).toEqual(want(1e9));

      const ts = expiries.map((expiry) => makeTombstone(random(16), { expiry }));
      for (const t of ts) await store.putTombstone(t);
      const wantT = ts
        .filter((t) => t.expiry <= 150)
        .sort((x, y) => x.expiry - y.expiry)
        .map((t) => ({ policyId: t.policyId, expiry: t.expiry }));
      expect(await store.expiredTombstones(150, 10)).toEqual({ entries: wantT, dangling: 0 });
      expect((await store.expiredTombstones(150, 1)).entries).toEqual(wantT.slice(0, 1));
    });

    it('a sweep deletes what it finds, and counts follow', async () => {
      const ps = [makePolicy({ expiry: 10 }), makePolicy({ expiry: 20 }), makePolicy({ expiry: 5000 })];
      await store.putPolicies(ps);
      for (const t of [
        makeTombstone(random(16), { expiry: 10 }),
        makeTombstone(random(16), { expiry: 5000 }),
      ]) {
        await store.putTombstone(t);
      }
      for (const e of (await store.expiredPolicies(100, 10)).entries) {
        expect(await store.deletePolicy(e.policyId)).toBe(true);
      }
      for (const e of (await store.expiredTombstones(100, 10)).entries) {
        expect(await store.deleteTombstone(e.policyId, { sync: true })).toBe(true);
      }
      expect(await store.countPolicies()).toBe(1);
      expect(await store.countTombstones()).toBe(1);
      expect(await store.deletePolicy(ps[0].policyId)).toBe(false);
      expect(await store.deleteTombstone(random(16))).toBe(false);
      expect((await store.expiredPolicies(100, 10)).entries).toEqual([]);
      expect((await store.expiredTombstones(100, 10)).entries).toEqual([]);
      expect((await store.policiesByPathHash(ps[0].pathHash)).policies).toEqual([]);
      expect(await store.getPolicy(ps[2].policyId)).toEqual(ps[2]);
    });

    it('iterates every policy and tombstone', async () => {
      const ps = [makePolicy(), makePolicy(), makePolicy()];
      await store.putPolicies(ps);
      const ts = [makeTombstone(random(16)), makeTombstone(random(16))];
      for (const t of ts) await store.putTombstone(t);
      const seen: StoredPolicy[] = [];
      for await (const p of store.policies()) seen.push(p);
      expect(ids(seen)).toEqual(ids(ps));
      const seenT: StoredTombstone[] = [];
      for await (const t of store.tombstones()) seenT.push(t);
      expect(ids(seenT)).toEqual(ids(ts));
    });

    it('keeps small meta values', async () => {
      expect(await store.getMeta('node-record.seq')).toBeUndefined();
      await store.putMeta('node-record.seq', 1);
      await store.putMeta('node-record.seq', 2, { sync: true });
      await store.putMeta('label', 'alpha');
      await store.putMeta('flag', false);
      const blob = random(40);
      await store.putMeta('blob', blob);
      expect(await store.getMeta('node-record.seq')).toBe(2);
      expect(await store.getMeta('label')).toBe('alpha');
      expect(await store.getMeta('flag')).toBe(false);
      expect(await store.getMeta('blob')).toEqual(blob);
      await expect(store.putMeta('Bad Name', 1)).rejects.toThrow(InvalidArgumentError);
      await expect(store.getMeta('')).rejects.toThrow(InvalidArgumentError);
      await expect(store.putMeta('x', Number.NaN)).rejects.toThrow(InvalidArgumentError);
    });

    it('serializes concurrent writes: counts and indexes stay exact', async () => {
      const hashes = [random(32), random(32), random(32), random(32)];
      const ps = Array.from({ length: 40 }, (_, i) =>
        makePolicy({ pathHash: hashes[i % 4], expiry: 1000 + i }),
      );
      // Same ids again with moved indexes, and tombstones for a few, all at once.
      const moved = ps
        .slice(0, 8)
        .map((p) => makePolicy({ policyId: p.policyId, pathHash: hashes[3], expiry: 5 }));
      const revoked = ps.slice(30, 35);
      await Promise.all(ps.map((p, i) => store.putPolicy(p, { sync: i % 5 === 0 })));
      await Promise.all([
        ...moved.map((p) => store.putPolicy(p)),
        ...revoked.map((p) => store.putTombstone(makeTombstone(p.policyId))),
        store.putMeta('seq', 9),
      ]);
      expect(await store.countPolicies()).toBe(35);
      expect(await store.countTombstones()).toBe(5);
      const live = new Map(ps.map((p) => [hex(p.policyId), p]));
      for (const p of moved) live.set(hex(p.policyId), p);
      for (const p of revoked) live.delete(hex(p.policyId));
      for (const hash of hashes) {
        const found = await store.policiesByPathHash(hash);
        expect(found.dangling).toBe(0);
        expect(ids(found.policies)).toEqual(
          ids([...live.values()].filter((p) => hex(p.pathHash) === hex(hash))),
        );
      }
      expect(ids((await store.expiredPolicies(5, 100)).entries)).toEqual(ids(moved));
    });

    it('refuses every call once closed', async () => {
      await store.close();
      await expect(store.getPolicy(random(16))).rejects.toThrow(StoreClosedError);
      await expect(store.putPolicy(makePolicy())).rejects.toThrow(StoreClosedError);
      await expect(store.countPolicies()).rejects.toThrow(StoreClosedError);
      await expect(store.getMeta('seq')).rejects.toThrow(StoreClosedError);
      await store.close();
    });

    it('repair on a sound store changes nothing', async () => {
      await store.putPolicies([makePolicy(), makePolicy()]);
      await store.putTombstone(makeTombstone(random(16)));
      expect(await store.repair()).toEqual({
        removedIndexEntries: 0,
        restoredIndexEntries: 0,
        corruptRecords: 0,
        policies: 2,
        tombstones: 1,
      });
    });

    describe('persistence', () => {
      const persistent = () => makeHarness().reopen !== undefined;

      it.runIf(persistent())('keeps everything across close and open', async () => {
        const p = makePolicy({ expiry: 100 });
        const q = makePolicy({ pathHash: p.pathHash, source: 'handoff', handoffCertificates: [random(80)] });
        const gone = makePolicy();
        const t = makeTombstone(gone.policyId, { expiry: 50 });
        await store.putPolicies([p, q, gone], { sync: true });
        await store.putTombstone(t, { sync: true });
        await store.putMeta('seq', 42);
        await reopen();
        expect(await store.getPolicy(p.policyId)).toEqual(p);
        expect(await store.getPolicy(gone.policyId)).toBeUndefined();
        expect(await store.getTombstone(gone.policyId)).toEqual(t);
        expect(ids((await store.policiesByPathHash(p.pathHash)).policies)).toEqual(ids([p, q]));
        expect((await store.expiredPolicies(100, 10)).entries).toEqual([
          { policyId: p.policyId, expiry: 100 },
        ]);
        expect((await store.expiredTombstones(50, 10)).entries).toEqual([
          { policyId: gone.policyId, expiry: 50 },
        ]);
        expect(await store.countPolicies()).toBe(2);
        expect(await store.countTombstones()).toBe(1);
        expect(await store.getMeta('seq')).toBe(42);
      });

      it.runIf(persistent())('refuses a store written with a newer schema version', async () => {
        await store.putPolicy(makePolicy());
        await store.close();
        await h.setSchemaVersion!(SCHEMA_VERSION + 1);
        const err = await h.reopen!(secret).then(
          (s) => track(s),
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StoreSchemaError);
        expect(err).toMatchObject({ code: 'ERR_STORE_SCHEMA', found: SCHEMA_VERSION + 1, supported: 1 });
      });

      it.runIf(persistent())('refuses another storage secret with StoreCorruptionError', async () => {
        await store.putPolicy(makePolicy());
        await store.close();
        const err = await h.reopen!(random(64)).then(
          (s) => track(s),
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StoreCorruptionError);
        expect(err).toMatchObject({ code: 'ERR_STORE_CORRUPT', reason: 'wrong-secret' });
        // The right secret still opens it.
        store = track(await h.reopen!(secret));
        expect(await store.countPolicies()).toBe(1);
      });
    });
  });
}
