/**
 * The client library against five real node processes (issue #5): the owner grants /team
 * 3-of-5 through the real node selection (DHT closest peers to the policy id, node records
 * fetched over libp2p), the reader (its own libp2p host, nothing shared with the owner)
 * decrypts /team/reports/q3.pdf, the owner revokes and the reader's next attempt fails naming
 * the revocation. Also: a policy's expiry (refused by the reader's client and by the nodes), and
 * a writer's file opened by the owner and by a granted reader.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Relative until @thresh/client's index exports them (then: from '@thresh/client').
import { createClient, type Libp2pTransport, NotEnoughFragmentsError } from '@thresh/client';
import { collect, ExpiredError, encryptFile, Identity } from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readyTransport } from './helpers/faults.js';
import { ProcessCluster } from './helpers/processes.js';

const cluster = new ProcessCluster();
const transports: Libp2pTransport[] = [];
let stateDir: string;

const ownerId = Identity.generate();
const readerId = Identity.generate();
const plaintext = new TextEncoder().encode('Q3 numbers, for the team only. '.repeat(1000));

/** A client whose DHT already knows the five nodes. */
const transport = () => readyTransport([cluster.nodes[0].bootstrapAddr], 5, transports);

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'thresh-client-net-'));
  await cluster.init(5);
  await cluster.startAll();
  await cluster.waitForPeers(4);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(transports.map((t) => t.close()));
  await cluster.cleanup();
  await rm(stateDir, { recursive: true, force: true });
});

describe('client over five real nodes', () => {
  const state: { grant?: string; policyId?: string; file?: Uint8Array; nodeIds?: Uint8Array[] } = {};

  it('the owner grants /team 3-of-5 through DHT node selection', async () => {
    const owner = createClient({ identity: ownerId, transport: await transport(), stateDir });
    const g = await owner.grant({ path: '/team', reader: readerId.card, threshold: 3, shares: 5, ttl: 3600 });
    expect(g.receipts).toHaveLength(5);
    expect(new Set(g.nodeIds.map((id) => Buffer.from(id).toString('hex'))).size).toBe(5);
    state.grant = g.grantString;
    state.policyId = g.policyId;
    state.nodeIds = g.nodeIds;
    state.file = await collect(encryptFile(ownerId, { path: '/team/reports/q3.pdf' }, [plaintext]).stream);
    expect((await owner.policies())[0]).toMatchObject({ policyId: g.policyId, status: 'active' });
  }, 60_000);

  it('the reader decrypts /team/reports/q3.pdf through libp2p', async () => {
    const reader = createClient({ identity: readerId, transport: await transport() });
    expect(await reader.decrypt(state.file!, { grant: state.grant! })).toEqual(plaintext);
  }, 60_000);

  it("reaches holders it is connected to without a DHT lookup of their node records (a node's PeerId is its key)", async () => {
    const t = await transport();
    const peerIds = new Set(cluster.nodes.map((n) => n.runtime!.peerId));
    for (const nodeId of state.nodeIds!) {
      const known = await t.knownPeer(nodeId);
      expect(peerIds.has(known!.id)).toBe(true);
      expect(known!.addrs.length).toBeGreaterThan(0);
    }
    expect(await t.knownPeer(Identity.generate().card.signingKey.toCompressedBytes())).toBeUndefined();
    expect(await t.knownPeer(new Uint8Array(16))).toBeUndefined();
    const gets = vi.spyOn(t, 'getRecord');
    const reader = createClient({ identity: readerId, transport: t });
    expect(await reader.decrypt(state.file!, { grant: state.grant! })).toEqual(plaintext);
    const nodeRecordGets = gets.mock.calls.filter(([key]) =>
      new TextDecoder().decode(key).includes('/node/'),
    );
    expect(nodeRecordGets).toHaveLength(0);
    gets.mockRestore();
  }, 60_000);

  it('takes grant candidates from its routing table once it knows 2n peers; findGrant finds the map once published', async () => {
    const t = await transport();
    const key = crypto.getRandomValues(new Uint8Array(16));
    const lookups = vi.spyOn(t.host.services.dht, 'getClosestPeers');
    const local = await t.closestNodes(key, 20, undefined, { localEnough: 4 });
    expect(local).toHaveLength(5);
    expect(lookups).not.toHaveBeenCalled(); // the routing table answered
    const looked = await t.closestNodes(key, 20, undefined, { localEnough: 50 });
    expect(lookups).toHaveBeenCalledTimes(1); // too few known: a lookup over the network
    expect(looked.map((p) => p.id).sort()).toEqual(local.map((p) => p.id).sort());
    lookups.mockRestore();

    const owner = createClient({ identity: ownerId, transport: t, stateDir });
    const reader2 = Identity.generate();
    const g = await owner.grant({ path: '/team', reader: reader2.card, threshold: 2, shares: 2, ttl: 3600 });
    expect(g.receipts).toHaveLength(2);
    expect((await g.published).accepted).toBeGreaterThan(0);
    await owner.flush();
    const reader = createClient({ identity: reader2, transport: await transport() });
    expect(await reader.decrypt(state.file!)).toEqual(plaintext);
  }, 60_000);

  it('after the owner revokes, decrypt fails naming the revocation', async () => {
    const owner = createClient({ identity: ownerId, transport: transports[0], stateDir });
    const r = await owner.revoke(state.policyId!);
    expect(r.receipts.every((x) => x.ok)).toBe(true);
    expect(r.accessGone).toBe(true);
    const reader = createClient({ identity: readerId, transport: transports[1] });
    const e = await reader.decrypt(state.file!, { grant: state.grant! }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    expect((e as NotEnoughFragmentsError).reasons).toEqual(Array(5).fill('revoked'));
  }, 60_000);

  it('a writer file (encryptFor with the owner directory key) opens for the owner and a granted reader', async () => {
    const t = transports[0];
    const owner = createClient({ identity: ownerId, transport: t, stateDir });
    const readerOfIn = Identity.generate();
    const g = await owner.grant({
      path: '/team/in',
      reader: readerOfIn.card,
      threshold: 2,
      shares: 3,
      ttl: 3600,
    });
    const writerId = Identity.generate();
    const dk = await owner.issueDirKey('/team/in', { expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    const writer = createClient({ identity: writerId });
    const body = new TextEncoder().encode('from the sensor');
    const file = await collect((await writer.encryptFor(dk.bytes, '/team/in/reading.txt', [body])).stream);
    const own = await owner.openAsOwner(file);
    expect(own.writer?.equals(writerId.card)).toBe(true);
    expect(await collect(own.plaintext)).toEqual(body);
    const reader = createClient({ identity: readerOfIn, transport: transports[1] });
    expect(await reader.decrypt(file, { grant: g.grantString })).toEqual(body);
  }, 60_000);

  it('expiry: after it, the client refuses the grant, and the nodes refuse a reader whose clock is behind', async () => {
    const owner = createClient({ identity: ownerId, transport: transports[0], stateDir });
    const g = await owner.grant({ path: '/brief', reader: readerId.card, threshold: 2, shares: 3, ttl: 8 });
    const file = await collect(encryptFile(ownerId, { path: '/brief/note' }, [plaintext]).stream);
    const reader = createClient({ identity: readerId, transport: transports[1] });
    expect(await reader.decrypt(file, { grant: g.grantString })).toEqual(plaintext);
    const expiry = g.policy.body.expiry;
    while (Date.now() / 1000 < expiry + 1) await new Promise((r) => setTimeout(r, 250));
    await expect(reader.decrypt(file, { grant: g.grantString })).rejects.toBeInstanceOf(ExpiredError);
    // a reader whose clock says the policy still lives: every node refuses it as expired
    const behind = createClient({ identity: readerId, transport: transports[1], now: () => expiry - 1 });
    const e = await behind.decrypt(file, { grant: g.grantString }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    expect((e as NotEnoughFragmentsError).reasons).toEqual(Array(3).fill('expired'));
  }, 60_000);
});
