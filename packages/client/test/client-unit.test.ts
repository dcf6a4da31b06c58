/**
 * The client's owner and reader operations against a FAKE transport: in-memory nodes, each a
 * real NodeService (@thresh/node) on a MemoryStore with an inline re-encryption engine, and an
 * in-memory DHT that validates values like the real one. Faults are injected per node: down,
 * slow, failing stores, forged cfrags, answers made with another policy's kfrag.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect, encryptFile, Identity, nodeIdOf } from '@thresh/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, type ThreshClient } from '../src/client.js';
import { GrantFailedError, NoNodesError, NotEnoughFragmentsError, NotGrantedError } from '../src/errors.js';
import { AbortedError } from '../src/transport/errors.js';
import type { PeerInfo } from '../src/transport.js';
import { DAY, FakeNetwork, type FakeNode, hex, T } from './fake-network.js';

const plaintext = new TextEncoder().encode('Q3 numbers, for the team only. '.repeat(200));
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

interface Setup {
  net: FakeNetwork;
  nodes: FakeNode[];
  ownerId: Identity;
  readerId: Identity;
  owner: ThreshClient;
  reader: ThreshClient;
  stateDir: string;
}

async function setup(
  count: number,
  opts: { rng?: (n: number) => Uint8Array; requestTimeoutMs?: number } = {},
): Promise<Setup> {
  const net = new FakeNetwork();
  for (let i = 0; i < count; i++) await net.addNode();
  const ownerId = Identity.generate();
  const readerId = Identity.generate();
  const stateDir = await mkdtemp(join(tmpdir(), 'thresh-client-'));
  dirs.push(stateDir);
  const now = () => T;
  const owner = createClient({ identity: ownerId, transport: net, stateDir, now, rng: opts.rng });
  const reader = createClient({
    identity: readerId,
    transport: net,
    now,
    requestTimeoutMs: opts.requestTimeoutMs ?? 2_000,
  });
  return { net, nodes: net.nodes, ownerId, readerId, owner, reader, stateDir };
}

async function fileAt(owner: Identity, path: string, data = plaintext): Promise<Uint8Array> {
  return collect(encryptFile(owner, { path, now: T }, [data]).stream);
}

async function grantTeam(s: Setup, extra: { nodes?: PeerInfo[] } = {}) {
  return s.owner.grant({
    path: '/team',
    reader: s.readerId.card,
    threshold: 3,
    shares: 5,
    ttl: 30 * DAY,
    ...extra,
  });
}

async function notEnough(p: Promise<unknown>): Promise<NotEnoughFragmentsError> {
  const e = await p.then(
    () => expect.unreachable('decrypt succeeded'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NotEnoughFragmentsError);
  return e as NotEnoughFragmentsError;
}

const reasonsByNode = (e: NotEnoughFragmentsError) =>
  Object.fromEntries(e.failures.map((f) => [f.nodeId, f.reason]));
const idOf = (n: FakeNode) => hex(nodeIdOf(n.identity.card));

describe('grant', () => {
  it('grants 3-of-5 on a directory: receipts, state file (0600), map published, reader decrypts two levels below', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    expect(g.receipts).toHaveLength(5);
    expect(g.nodeIds).toHaveLength(5);
    expect(g.grantString.startsWith('thresh-grant1')).toBe(true);
    expect(g.abandoned).toEqual([]);
    for (const n of s.nodes) expect(await n.store.getPolicy(g.policy.body.id)).toBeDefined();

    const file = join(s.stateDir, 'policies.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const state = JSON.parse(await readFile(file, 'utf8'));
    expect(state.policies).toHaveLength(1);
    expect(state.policies[0]).toMatchObject({
      policyId: g.policyId,
      path: '/team',
      status: 'active',
      threshold: 3,
      shares: 5,
      expiresAt: T + 30 * DAY,
      grant: g.grantString,
      reader: s.readerId.card.toString(),
    });
    expect(state.policies[0].nodes).toHaveLength(5);
    expect((await s.owner.policies()).map((p) => p.policyId)).toEqual([g.policyId]);
    // the sealed map is in the DHT under the owner's key
    const mapKeys = [...s.net.dht.keys()].filter((k) =>
      Buffer.from(k, 'hex').toString().startsWith('/thresh/policy-map/'),
    );
    expect(mapKeys).toHaveLength(1);

    const f = await fileAt(s.ownerId, '/team/reports/q3.pdf');
    expect(await s.reader.decrypt(f, { grant: g.grantString })).toEqual(plaintext);
    // streaming variant, from a chunked async source
    async function* chunks() {
      for (let i = 0; i < f.length; i += 1000) yield f.subarray(i, i + 1000);
    }
    expect(await collect(await s.reader.decryptStream(chunks(), { grant: g.grantString }))).toEqual(
      plaintext,
    );
  });

  it('the reader finds its grant in the DHT by owner card and path', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    expect(await s.reader.findGrant(s.ownerId.card, '/team/reports/q3.pdf')).toBe(g.grantString);
    expect(await s.reader.findGrant(s.ownerId.card, '/elsewhere/q3.pdf')).toBeUndefined();
    expect(await s.reader.findGrant(Identity.generate().card, '/team/q3.pdf')).toBeUndefined();
    // another reader cannot find (or open) it
    const stranger = createClient({ identity: Identity.generate(), transport: s.net, now: () => T });
    expect(await stranger.findGrant(s.ownerId.card, '/team/q3.pdf')).toBeUndefined();
  });

  it('without a grant string: every level looked up at once, the map remembered; a revoked one forgotten', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    const f = await fileAt(s.ownerId, '/team/reports/q3.pdf');
    const gets = vi.spyOn(s.net, 'getRecord');
    expect(await s.reader.decrypt(f)).toEqual(plaintext);
    const first = gets.mock.calls.length;
    expect(first).toBeGreaterThanOrEqual(4); // /, /team, /team/reports, the file: one round
    expect(await s.reader.decrypt(f)).toEqual(plaintext);
    expect(gets.mock.calls.length).toBe(first); // the map came from the client's memory
    // revoked and granted again: the remembered map fails once (revoked), then is looked up anew
    await s.owner.revoke(g.policyId);
    await grantTeam(s);
    await notEnough(s.reader.decrypt(f));
    expect(await s.reader.decrypt(f)).toEqual(plaintext);
    expect(gets.mock.calls.length).toBeGreaterThan(first);
  });

  it('refuses a file outside the granted directory, or of another owner', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    const outside = await fileAt(s.ownerId, '/teamwork/x.txt');
    await expect(s.reader.decrypt(outside, { grant: g.grantString })).rejects.toBeInstanceOf(NotGrantedError);
    const stranger = await fileAt(Identity.generate(), '/team/x.txt');
    await expect(s.reader.decrypt(stranger, { grant: g.grantString })).rejects.toThrow(/another owner/);
  });

  it('a node answering BUSY (too many requests of this peer in flight) is asked again', async () => {
    const s = await setup(5);
    for (const n of s.nodes) n.busy = 2; // the node record fetch, then the store
    const g = await grantTeam(s);
    expect(g.abandoned).toEqual([]);
    expect(g.receipts).toHaveLength(5);
    // a node that stays busy is left out like any failing one
    const t = await setup(6);
    t.nodes[0].busy = 100;
    const g2 = await grantTeam(t);
    expect(g2.nodeIds.map(hex)).not.toContain(idOf(t.nodes[0]));
  });

  it('pinned nodes replace DHT selection', async () => {
    const s = await setup(7);
    const pinned = s.nodes.slice(2).map((n) => ({ id: n.peerId, addrs: [] }));
    const g = await grantTeam(s, { nodes: pinned });
    expect(new Set(g.nodeIds.map(hex))).toEqual(new Set(s.nodes.slice(2).map(idOf)));
  });

  it('NoNodesError when fewer nodes can hold the policy than the grant needs', async () => {
    const s = await setup(4);
    s.nodes[0].down = true;
    const e = await grantTeam(s).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NoNodesError);
    expect(e).toMatchObject({ found: 3, needed: 5, code: 'ERR_NO_NODES' });
  });

  it('a node failing its store: the attempt is abandoned, revoked, and a new policy id made', async () => {
    // zeros make the shuffle deterministic: of 6 candidates in DHT order, the first is left out
    const s = await setup(6, { rng: (n) => new Uint8Array(n) });
    const bad = s.nodes[1];
    bad.failStore = true;
    const g = await grantTeam(s);
    expect(g.abandoned).toHaveLength(1);
    const old = g.abandoned[0];
    expect(old).not.toBe(g.policyId);
    expect(g.nodeIds.map(hex)).not.toContain(idOf(bad));
    // every node of the abandoned attempt holds a tombstone of it, none holds its kfrag
    const oldId = Buffer.from(old, 'hex');
    for (const n of s.nodes.slice(1)) {
      expect(await n.store.getPolicy(oldId)).toBeUndefined();
      expect(await n.store.getTombstone(oldId)).toBeDefined();
    }
    const list = await s.owner.policies();
    expect(list.find((p) => p.policyId === old)).toMatchObject({
      status: 'abandoned',
      supersededBy: g.policyId,
    });
    expect(list.find((p) => p.policyId === g.policyId)).toMatchObject({ status: 'active' });
    const f = await fileAt(s.ownerId, '/team/a/b.txt');
    expect(await s.reader.decrypt(f, { grant: g.grantString })).toEqual(plaintext);
  });

  it('gives up after the bounded attempts with GrantFailedError', async () => {
    const s = await setup(5);
    s.nodes[2].failStore = true;
    const e = await grantTeam(s).catch((err: unknown) => err);
    // the second attempt has only 4 nodes left: NoNodesError as the cause
    expect(e).toBeInstanceOf(GrantFailedError);
    expect((e as GrantFailedError).attempts).toHaveLength(1);
    expect((e as Error).cause).toBeInstanceOf(NoNodesError);
  });
});

describe('decrypt', () => {
  it('discards a forged cfrag and a cfrag made with another policy, and succeeds with the honest nodes', async () => {
    const s = await setup(5);
    const other = await grantTeam(s); // a second policy of the same owner, level and reader
    const g = await grantTeam(s);
    const [forger, mixer] = s.nodes;
    forger.forge = true;
    mixer.answerWith = other.policy.body.id;
    const f = await fileAt(s.ownerId, '/team/reports/q3.pdf');
    expect(await s.reader.decrypt(f, { grant: g.grantString })).toEqual(plaintext);
  });

  it('with too few honest nodes: NotEnoughFragmentsError naming each node and why', async () => {
    const s = await setup(5);
    const other = await grantTeam(s);
    const g = await grantTeam(s);
    const [forger, mixer, gone, admits] = s.nodes;
    forger.forge = true;
    mixer.answerWith = other.policy.body.id;
    gone.down = true;
    admits.answerWith = other.policy.body.id;
    admits.admitOther = true;
    const f = await fileAt(s.ownerId, '/team/reports/q3.pdf');
    const e = await notEnough(s.reader.decrypt(f, { grant: g.grantString }));
    expect(e.found).toBe(1);
    expect(e.needed).toBe(3);
    expect(reasonsByNode(e)).toEqual({
      [idOf(forger)]: 'bad-proof',
      [idOf(mixer)]: 'wrong-policy',
      [idOf(gone)]: 'unreachable',
      [idOf(admits)]: 'wrong-policy',
    });
    expect(e.message).toMatch(/1 valid cfrag\(s\) of the 3 needed/);
  });

  it('missing nodes are reported unreachable', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    for (const n of s.nodes.slice(0, 3)) n.down = true;
    const f = await fileAt(s.ownerId, '/team/x');
    const e = await notEnough(s.reader.decrypt(f, { grant: g.grantString }));
    expect(e.reasons).toEqual(['unreachable', 'unreachable', 'unreachable']);
  });

  it('finds nodes by their DHT node records, or else by the records of the closest peers', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    const recordCalls = () => s.nodes.map((n) => n.calls.filter((c) => c.protocol === 'nodeRecord').length);
    const f = await fileAt(s.ownerId, '/team/x');
    const before = recordCalls();
    // a fresh reader: nothing cached, every node looked up in the DHT
    expect(await s.reader.decrypt(f, { grant: g.grantString })).toEqual(plaintext);
    expect(recordCalls()).toEqual(before);
    // without DHT records, the reader asks the closest peers for their node records
    for (const k of [...s.net.dht.keys()]) {
      if (Buffer.from(k, 'hex').toString().startsWith('/thresh/node/')) s.net.dht.delete(k);
    }
    const fresh = createClient({ identity: s.readerId, transport: s.net, now: () => T });
    expect(await fresh.decrypt(f, { grant: g.grantString })).toEqual(plaintext);
    expect(recordCalls().every((c, i) => c === before[i] + 1)).toBe(true);
  });

  it('slow nodes: the staggered requests succeed without waiting for them', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    s.nodes[0].delayMs = 5_000;
    s.nodes[1].delayMs = 5_000;
    const f = await fileAt(s.ownerId, '/team/x');
    const started = Date.now();
    expect(await s.reader.decrypt(f, { grant: g.grantString })).toEqual(plaintext);
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it('slow nodes still needed are reported as timeouts', async () => {
    const s = await setup(5, { requestTimeoutMs: 300 });
    const g = await grantTeam(s);
    for (const n of s.nodes.slice(0, 3)) n.delayMs = 5_000;
    const f = await fileAt(s.ownerId, '/team/x');
    const started = Date.now();
    const e = await notEnough(s.reader.decrypt(f, { grant: g.grantString }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(e.found).toBe(2);
    expect(e.reasons).toEqual(['timeout', 'timeout', 'timeout']);
  });

  it('a fired signal ends a decrypt with AbortedError', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    for (const n of s.nodes) n.delayMs = 5_000;
    const f = await fileAt(s.ownerId, '/team/x');
    const e = await s.reader
      .decrypt(f, { grant: g.grantString, signal: AbortSignal.timeout(100) })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(AbortedError);
  });

  it('decryptMany: one batched request per node for all files', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    const texts = ['a', 'bb', 'ccc'].map((t) => new TextEncoder().encode(t.repeat(1000)));
    const files = await Promise.all(texts.map((t, i) => fileAt(s.ownerId, `/team/d${i}/f.txt`, t)));
    const out = await s.reader.decryptMany(files, { grant: g.grantString });
    expect(out).toEqual(texts);
    const reencrypts = s.nodes.flatMap((n) => n.calls.filter((c) => c.protocol === 'reencrypt'));
    expect(reencrypts.length).toBeGreaterThanOrEqual(3);
    expect(reencrypts.length).toBeLessThanOrEqual(5);
    for (const c of reencrypts) expect(c.items).toBe(3);
  });
});

describe('revoke', () => {
  it('revokes on every node: access gone with n - m + 1 receipts; a later decrypt names the revocation', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    s.nodes[0].down = true;
    s.nodes[1].down = true;
    const r = await s.owner.revoke(g.policyId);
    expect(r.receipts.filter((x) => x.ok)).toHaveLength(3);
    expect(r.receipts.filter((x) => !x.ok).map((x) => (x.ok ? '' : x.reason))).toEqual([
      'unreachable',
      'unreachable',
    ]);
    expect(r.accessGone).toBe(true);
    expect(r.published).toBe(true);
    expect((await s.owner.policies())[0]).toMatchObject({ status: 'revoked', revokedAt: T });
    const f = await fileAt(s.ownerId, '/team/x');
    const e = await notEnough(s.reader.decrypt(f, { grant: g.grantString }));
    expect(e.reasons.filter((x) => x === 'revoked')).toHaveLength(3);
    expect(e.reasons.filter((x) => x === 'unreachable')).toHaveLength(2);
  });

  it('revokes from the state file in a later session, abandoned attempts included', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    const later = createClient({ identity: s.ownerId, transport: s.net, stateDir: s.stateDir, now: () => T });
    expect((await later.policies()).map((p) => p.policyId)).toEqual([g.policyId]);
    const r = await later.revoke(g.policyId);
    expect(r.accessGone).toBe(true);
    for (const n of s.nodes) expect(await n.store.getPolicy(g.policy.body.id)).toBeUndefined();
    await expect(later.revoke('00'.repeat(16))).rejects.toMatchObject({ code: 'ERR_UNKNOWN_POLICY' });
  });

  it('too few receipts: access not known to be gone', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    for (const n of s.nodes.slice(0, 3)) n.down = true;
    const r = await s.owner.revoke(g.policyId);
    expect(r.receipts.filter((x) => x.ok)).toHaveLength(2);
    expect(r.accessGone).toBe(false);
  });

  it('revokes a reader off a level by { path, reader }: every live policy of theirs there, nobody else', async () => {
    const s = await setup(5);
    const g1 = await grantTeam(s);
    const g2 = await grantTeam(s);
    const other = Identity.generate();
    const g3 = await s.owner.grant({ path: '/team', reader: other.card, threshold: 3, shares: 5, ttl: DAY });
    const r = await s.owner.revoke({ path: '/team/', reader: s.readerId.card });
    expect(r.policyIds.sort()).toEqual([g1.policyId, g2.policyId].sort());
    expect(r.receipts).toHaveLength(10);
    expect(r.accessGone).toBe(true);
    const status = Object.fromEntries((await s.owner.policies()).map((p) => [p.policyId, p.status]));
    expect(status).toEqual({ [g1.policyId]: 'revoked', [g2.policyId]: 'revoked', [g3.policyId]: 'active' });
    await expect(s.owner.revoke({ path: '/team', reader: s.readerId.card })).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_POLICY',
    });
    await expect(s.owner.revoke({ path: '/team', reader: 'not a card' as never })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});

describe('writers', () => {
  it('encryptFor: a writer with the directory-key record bytes writes a file the owner and a reader open', async () => {
    const s = await setup(5);
    const g = await grantTeam(s);
    const writerId = Identity.generate();
    const dk = await s.owner.issueDirKey('/team/in', { expiresAt: T + DAY, writer: writerId.card });
    const writer = createClient({ identity: writerId, now: () => T });
    const file = await collect(
      (await writer.encryptFor(dk.bytes, '/team/in/reading.txt', [plaintext], { now: T })).stream,
    );
    expect(await s.reader.decrypt(file, { grant: g.grantString })).toEqual(plaintext);
    const own = await s.owner.openAsOwner(file);
    expect(own.writer?.equals(writerId.card)).toBe(true);
    expect(await collect(own.plaintext)).toEqual(plaintext);
    // another writer cannot use a record issued to this one
    const intruder = createClient({ identity: Identity.generate(), now: () => T });
    await expect(intruder.encryptFor(dk.bytes, '/team/in/x', [plaintext])).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});
