/**
 * Rotation (issue #7, DESIGN.md "Revoke, expiry, rotation") against the fake network: epochs
 * in the owner's state, re-grants, `revoke --rotate`, interrupted rotations, readers following
 * their level into a new epoch through the DHT, and the owner's warning for files written
 * under a superseded epoch.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, encryptFileAsWriter, Identity, readFileHeader } from '@thresh/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type ThreshClient } from '../src/client.js';
import { NoTransportError, NotEnoughFragmentsError, NotGrantedError } from '../src/errors.js';
import { DAY, FakeNetwork, T } from './fake-network.js';

const text = (s: string) => new TextEncoder().encode(s);
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

interface World {
  net: FakeNetwork;
  clock: { now: number };
  ownerId: Identity;
  owner: ThreshClient;
  stateDir: string;
  readers: { id: Identity; client: ThreshClient }[];
}

async function world(nodes = 6, readers = 3): Promise<World> {
  const net = new FakeNetwork();
  for (let i = 0; i < nodes; i++) await net.addNode();
  const clock = { now: T };
  const now = () => clock.now;
  const ownerId = Identity.generate();
  const stateDir = await mkdtemp(join(tmpdir(), 'thresh-rotate-'));
  dirs.push(stateDir);
  const owner = createClient({ identity: ownerId, transport: net, stateDir, now });
  const rs = Array.from({ length: readers }, () => {
    const id = Identity.generate();
    return { id, client: createClient({ identity: id, transport: net, now, requestTimeoutMs: 2_000 }) };
  });
  return { net, clock, ownerId, owner, stateDir, readers: rs };
}

async function ownerFile(w: World, path: string, body: string): Promise<Uint8Array> {
  return collect((await w.owner.encrypt({ path, now: w.clock.now }, [text(body)])).stream);
}

const grantAll = (w: World, path = '/team') =>
  Promise.all(
    w.readers.map((r, i) =>
      w.owner.grant({ path, reader: r.id.card, threshold: 2, shares: 3, ttl: (10 + i) * DAY }),
    ),
  );

async function fails<E>(p: Promise<unknown>, type: new (...a: never[]) => E): Promise<E> {
  const e = await p.then(
    () => expect.unreachable('expected a failure'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(type);
  return e as E;
}

const levelEpoch = async (file: Uint8Array, depth: number) =>
  (await readFileHeader([file])).header.body.l.find((l) => l.d === depth)?.e;

describe('rotate', () => {
  it('bumps the epoch, re-grants every reader (same m, n, expiry); readers open old and new files with their old grant strings', async () => {
    const w = await world();
    const grants = await grantAll(w);
    const old = await ownerFile(w, '/team/q3.txt', 'old');
    expect(await levelEpoch(old, 1)).toBe(0);

    w.clock.now = T + 60;
    const r = await w.owner.rotate('/team/');
    expect(r).toMatchObject({ path: '/team', from: 0, to: 1, resumed: false, done: true, failed: [] });
    expect(r.regranted.map((g) => g.fromPolicy).sort()).toEqual(grants.map((g) => g.policyId).sort());
    expect(await w.owner.epochOf('/team')).toBe(1);
    expect(await w.owner.epochs()).toEqual({ '/team': 1 });

    const policies = await w.owner.policies();
    for (const g of r.regranted) {
      const before = policies.find((p) => p.policyId === g.fromPolicy)!;
      const after = policies.find((p) => p.policyId === g.policyId)!;
      expect(after).toMatchObject({
        path: '/team',
        epoch: 1,
        status: 'active',
        reader: before.reader,
        threshold: before.threshold,
        shares: before.shares,
        expiresAt: before.expiresAt,
      });
      // the old policy stays live: old files keep opening through it
      expect(before.status).toBe('active');
    }

    const fresh = await ownerFile(w, '/team/q4.txt', 'new');
    expect(await levelEpoch(fresh, 1)).toBe(1);
    expect(await levelEpoch(fresh, 0)).toBe(0); // only the rotated level moves
    for (const [i, rd] of w.readers.entries()) {
      const grant = grants[i].grantString;
      expect(new TextDecoder().decode(await rd.client.decrypt(old, { grant }))).toBe('old');
      expect(new TextDecoder().decode(await rd.client.decrypt(fresh, { grant }))).toBe('new');
      // both at once: one batch per policy
      expect(
        (await rd.client.decryptMany([old, fresh], { grant })).map((b) => new TextDecoder().decode(b)),
      ).toEqual(['old', 'new']);
    }
    // the state file records the rotation
    const state = JSON.parse(await readFile(join(w.stateDir, 'policies.json'), 'utf8'));
    expect(state.epochs).toEqual({ '/team': 1 });
    expect(state.rotations).toHaveLength(1);
    expect(state.rotations[0]).toMatchObject({ path: '/team', from: 0, to: 1, at: T + 60, done: true });
  });

  it('new grants default to the current epoch; a reader without a grant string finds the right one per file', async () => {
    const w = await world(6, 1);
    const [rd] = w.readers;
    await w.owner.rotate('/team'); // nobody to re-grant yet
    const g = await w.owner.grant({ path: '/team', reader: rd.id.card, threshold: 2, shares: 3, ttl: DAY });
    expect(g.policy.body.epoch).toBe(1);
    const f = await ownerFile(w, '/team/a', 'at epoch 1');
    expect(new TextDecoder().decode(await rd.client.decrypt(f))).toBe('at epoch 1');
    // an epoch-0 file: this reader was never granted epoch 0
    const old = collect(
      (await createClient({ identity: w.ownerId }).encrypt({ path: '/team/b' }, [text('x')])).stream,
    );
    // a client without the state encrypts at epoch 0; nothing in the DHT covers it for this reader
    await fails(rd.client.decrypt(await old), NotGrantedError);
  });

  it('revoke --rotate: the reader is cut off (all its policies on the level), the others are re-granted', async () => {
    const w = await world();
    const grants = await grantAll(w);
    const [alice, bob, mallory] = w.readers;
    // mallory also holds a second policy on /team (say, an earlier re-grant)
    const extra = await w.owner.grant({
      path: '/team',
      reader: mallory.id.card,
      threshold: 2,
      shares: 3,
      ttl: DAY,
    });
    const old = await ownerFile(w, '/team/old.txt', 'old');

    w.clock.now = T + 100;
    const r = await w.owner.revoke(grants[2].policyId, { rotate: true });
    expect(r.accessGone).toBe(true);
    expect(r.alsoRevoked.map((x) => x.policyId)).toEqual([extra.policyId]);
    expect(r.alsoRevoked[0].result.accessGone).toBe(true);
    expect(r.rotation).toMatchObject({
      from: 0,
      to: 1,
      done: true,
      excludedReaders: [mallory.id.card.toString()],
    });
    expect(r.rotation.regranted.map((g) => g.reader).sort()).toEqual(
      [alice.id.card.toString(), bob.id.card.toString()].sort(),
    );
    const statuses = Object.fromEntries((await w.owner.policies()).map((p) => [p.policyId, p.status]));
    expect(statuses[grants[2].policyId]).toBe('revoked');
    expect(statuses[extra.policyId]).toBe('revoked');
    expect((await w.owner.rotations())[0]).toMatchObject({ revokedPolicy: grants[2].policyId });

    const fresh = await ownerFile(w, '/team/new.txt', 'new');
    for (const [i, rd] of [alice, bob].entries()) {
      const grant = grants[i].grantString;
      expect(new TextDecoder().decode(await rd.client.decrypt(old, { grant }))).toBe('old');
      expect(new TextDecoder().decode(await rd.client.decrypt(fresh, { grant }))).toBe('new');
    }
    // the revoked reader: no new-epoch grant exists for it, and the nodes refuse the old one
    const e1 = await fails(mallory.client.decrypt(fresh, { grant: grants[2].grantString }), NotGrantedError);
    expect(e1.message).toContain('epoch 1');
    const e2 = await fails(
      mallory.client.decrypt(old, { grant: grants[2].grantString }),
      NotEnoughFragmentsError,
    );
    expect(e2.reasons.every((x) => x === 'revoked')).toBe(true);
    await fails(mallory.client.decrypt(fresh), NotGrantedError);
  });

  it('an interrupted rotation is saved before any grant and finished (not redone) by the next rotate', async () => {
    const w = await world(6, 2);
    await grantAll(w);
    for (const n of w.net.nodes) n.failStore = true;
    const r1 = await w.owner.rotate('/team');
    expect(r1).toMatchObject({ from: 0, to: 1, done: false, regranted: [] });
    expect(r1.failed).toHaveLength(2);
    expect(await w.owner.epochOf('/team')).toBe(1); // new files already use the new key

    for (const n of w.net.nodes) n.failStore = false;
    // a fresh client on the same state (the CLI's next run)
    const again = createClient({
      identity: w.ownerId,
      transport: w.net,
      stateDir: w.stateDir,
      now: () => w.clock.now,
    });
    const r2 = await again.rotate('/team');
    expect(r2).toMatchObject({ from: 0, to: 1, resumed: true, done: true, failed: [] });
    expect(r2.regranted).toHaveLength(2);
    expect(await again.epochOf('/team')).toBe(1);
    // done: the next rotate is a new one
    const r3 = await again.rotate('/team');
    expect(r3).toMatchObject({ from: 1, to: 2, resumed: false, done: true });
    expect(r3.regranted).toHaveLength(2);
  });

  it('expired or revoked policies are not re-granted', async () => {
    const w = await world(6, 2);
    const [a, b] = await grantAll(w);
    const short = await w.owner.grant({
      path: '/team',
      reader: Identity.generate().card,
      threshold: 1,
      shares: 1,
      ttl: 200,
    });
    await w.owner.revoke(a.policyId);
    w.clock.now = T + 201; // (the fake nodes' clocks stay at T: within their 5 min skew)
    const r = await w.owner.rotate('/team');
    expect(r.regranted.map((g) => g.fromPolicy)).toEqual([b.policyId]);
    expect(r.failed).toEqual([]);
    expect(r.regranted.some((g) => g.fromPolicy === short.policyId)).toBe(false);
  });
});

describe('writers and the owner under rotation', () => {
  it('openAsOwner: a writer file under a superseded epoch is stale; a new dir-key moves writers on', async () => {
    const w = await world(6, 0);
    const writer = Identity.generate();
    const dk0 = await w.owner.issueDirKey('/team/in', { expiresAt: T + DAY, writer: writer.card });
    expect(dk0.levels.map((l) => l.epoch)).toEqual([0, 0, 0]);
    const before = await collect(
      encryptFileAsWriter(writer, dk0, { path: '/team/in/a', now: T }, [text('a')]).stream,
    );
    w.clock.now = T + 50;
    await w.owner.rotate('/team');
    // the writer still holds the old record
    const after = await collect(
      encryptFileAsWriter(writer, dk0, { path: '/team/in/b', now: T + 60 }, [text('b')]).stream,
    );
    const o1 = await w.owner.openAsOwner(before);
    expect(new TextDecoder().decode(await collect(o1.plaintext))).toBe('a');
    expect(o1.writer?.equals(writer.card)).toBe(true);
    expect(o1.superseded).toEqual([
      { prefix: '/team', fileEpoch: 0, currentEpoch: 1, rotatedAt: T + 50, writtenAfterRotation: false },
    ]);
    expect(o1.stale).toBe(true); // a writer file: its record is out of date
    const o2 = await w.owner.openAsOwner(after);
    expect(o2.superseded[0].writtenAfterRotation).toBe(true);
    expect(o2.stale).toBe(true);

    const dk1 = await w.owner.issueDirKey('/team/in', { expiresAt: T + DAY, writer: writer.card });
    expect(dk1.levels.map((l) => [l.prefix, l.epoch])).toEqual([
      ['/', 0],
      ['/team', 1],
      ['/team/in', 0],
    ]);
    const current = await collect(
      encryptFileAsWriter(writer, dk1, { path: '/team/in/c', now: T + 70 }, [text('c')]).stream,
    );
    const o3 = await w.owner.openAsOwner(current);
    expect(o3).toMatchObject({ superseded: [], stale: false });
    expect(new TextDecoder().decode(await collect(o3.plaintext))).toBe('c');
  });

  it('an owner file written before the rotation is superseded but not stale; one written after with stale state is', async () => {
    const w = await world(6, 0);
    const old = await ownerFile(w, '/team/x', 'x');
    w.clock.now = T + 10;
    await w.owner.rotate('/team');
    const o = await w.owner.openAsOwner(old);
    expect(o.superseded).toHaveLength(1);
    expect(o.stale).toBe(false);
    // another machine of the owner, without this state, encrypts after the rotation
    const stale = await collect(
      (await createClient({ identity: w.ownerId }).encrypt({ path: '/team/y', now: T + 20 }, [text('y')]))
        .stream,
    );
    expect((await w.owner.openAsOwner(stale)).stale).toBe(true);
    const someoneElse = createClient({ identity: Identity.generate() });
    const theirs = await collect((await someoneElse.encrypt({ path: '/z' }, [text('z')])).stream);
    await fails(w.owner.openAsOwner(theirs), NotGrantedError);
  });

  it('a client without a transport works offline and says so on network calls', async () => {
    const offline = createClient({ identity: Identity.generate() });
    const f = await collect((await offline.encrypt({ path: '/a/b' }, [text('hi')])).stream);
    expect(new TextDecoder().decode(await collect((await offline.openAsOwner(f)).plaintext))).toBe('hi');
    await expect(
      offline.grant({ path: '/a', reader: Identity.generate().card, threshold: 1, shares: 1, ttl: 60 }),
    ).rejects.toBeInstanceOf(NoTransportError);
  });
});
