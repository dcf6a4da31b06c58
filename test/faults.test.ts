/**
 * Fault tests against five real `thresh node start` processes (issue #6, DESIGN.md "Decrypt",
 * "Revoke"): killed nodes, a frozen node, a revocation while a node is down, a node killed
 * during a storm of grants and revocations, and byzantine nodes forging cfrags. Node 0 is the
 * bootstrap node and is never killed; the others are killed, frozen and restarted (on new
 * ports) as each test needs, and every test leaves all five running.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClient,
  GrantFailedError,
  type GrantResult,
  Libp2pTransport,
  NoNodesError,
  NotEnoughFragmentsError,
  type ThreshClient,
} from '@thresh/client';
import { collect, encryptFile, Identity } from '@thresh/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { askNode, ByzantineNode, hex, nodeIdOfPeer, peerOf, pollUntil, sleep } from './helpers/faults.js';
import { type NodeProcess, ProcessCluster } from './helpers/processes.js';

const cluster = new ProcessCluster();
const transports: Libp2pTransport[] = [];
const byzantine: ByzantineNode[] = [];
const frozen = new Set<number>();
let stateDir: string;
let ownerT: Libp2pTransport;
let readerT: Libp2pTransport;
/** Node id (hex) of each cluster node, by index. */
const ids: string[] = [];

const ownerId = Identity.generate();
const readerId = Identity.generate();

async function transport(): Promise<Libp2pTransport> {
  const t = await Libp2pTransport.create({
    bootstrap: [cluster.nodes[0].bootstrapAddr],
    dhtTimeoutMs: 5_000,
  });
  transports.push(t);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const peers = await t
      .closestNodes(crypto.getRandomValues(new Uint8Array(16)), 20)
      .catch(() => [] as unknown[]);
    if (peers.length >= 5) return t;
    if (Date.now() > deadline) throw new Error(`the client found ${peers.length} DHT peers`);
    await sleep(250);
  }
}

function owner(opts: { storeTimeoutMs?: number } = {}): ThreshClient {
  return createClient({ identity: ownerId, transport: ownerT, stateDir, ...opts });
}

function reader(): ThreshClient {
  return createClient({ identity: readerId, transport: readerT, requestTimeoutMs: 4_000 });
}

let fileCount = 0;
async function fileUnder(prefix: string): Promise<{ file: Uint8Array; plaintext: Uint8Array }> {
  const plaintext = new TextEncoder().encode(`file ${++fileCount} under ${prefix}. `.repeat(200));
  const file = await collect(
    encryptFile(ownerId, { path: `${prefix}/f${fileCount}.txt` }, [plaintext]).stream,
  );
  return { file, plaintext };
}

async function restart(node: NodeProcess): Promise<void> {
  await node.start(['--bootstrap', cluster.nodes[0].bootstrapAddr]);
}

/** Restarts whichever nodes are not running, resumes frozen ones. */
async function healAll(): Promise<void> {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }
  frozen.clear();
  await Promise.all(cluster.nodes.filter((n) => n.exitCode !== undefined).map((n) => restart(n)));
}

function freeze(node: NodeProcess): void {
  const pid = node.proc!.pid!;
  frozen.add(pid);
  process.kill(pid, 'SIGSTOP');
}

/** A grant 3-of-5 pinned to the five cluster nodes (so all five are designated). */
async function grantAll(path: string): Promise<GrantResult> {
  const g = await owner().grant({
    path,
    reader: readerId.card,
    threshold: 3,
    shares: 5,
    ttl: 3600,
    nodes: cluster.nodes.map(peerOf),
  });
  expect(new Set(g.nodeIds.map(hex))).toEqual(new Set(ids));
  return g;
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'thresh-faults-'));
  await cluster.init(5);
  await cluster.startAll();
  ownerT = await transport();
  readerT = await transport();
  for (const n of cluster.nodes) ids.push(await nodeIdOfPeer(ownerT, peerOf(n)));
}, 120_000);

afterAll(async () => {
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  }
  await Promise.allSettled(byzantine.map((b) => b.stop()));
  await Promise.allSettled(transports.map((t) => t.close()));
  await cluster.cleanup();
  await rm(stateDir, { recursive: true, force: true });
}, 60_000);

describe('faults against five real node processes', () => {
  // every test leaves all five running, even when it failed
  afterEach(healAll, 90_000);

  it('with n - m = 2 of a 3-of-5 policy killed, every decrypt succeeds', async () => {
    // DHT node selection: with five nodes, all five are designated.
    const g = await owner().grant({
      path: '/killed',
      reader: readerId.card,
      threshold: 3,
      shares: 5,
      ttl: 3600,
    });
    expect(new Set(g.nodeIds.map(hex))).toEqual(new Set(ids));
    const files = await Promise.all([1, 2, 3, 4, 5].map(() => fileUnder('/killed')));
    await Promise.all([cluster.nodes[3].kill(), cluster.nodes[4].kill()]);
    for (const { file, plaintext } of files) {
      // a fresh reader each round: no latency cache steering it away from the dead nodes
      expect(await reader().decrypt(file, { grant: g.grantString })).toEqual(plaintext);
    }
  }, 90_000);

  // A frozen node (SIGSTOP: its TCP connections stay open, it never answers) holds every kad-dht
  // query that asks it open until kad-dht's per-peer timeout, and kad-dht reports a get's value
  // and a lookup's closest peers only when the whole query has ended. The DHT helpers
  // (transport/libp2p/dht.ts) take the answers as they arrive and end a lookup that has them
  // once it goes quiet, so a reader that must look a node up does not wait for the frozen one.
  it('a frozen node: with 3 of 5 alive, 1 frozen and 1 killed, decrypt succeeds within the budget', async () => {
    const g = await grantAll('/frozen');
    const warm = reader();
    const before = await fileUnder('/frozen');
    expect(await warm.decrypt(before.file, { grant: g.grantString })).toEqual(before.plaintext);
    freeze(cluster.nodes[2]);
    await cluster.nodes[4].kill();
    for (let round = 0; round < 3; round++) {
      // a warm reader (it knows where the nodes are) and a cold one (it looks each one up)
      for (const client of [warm, reader()]) {
        const a = await fileUnder('/frozen');
        const started = Date.now();
        expect(await client.decrypt(a.file, { grant: g.grantString })).toEqual(a.plaintext);
        // the client's request timeout is 4 s: the frozen node costs at most that
        expect(Date.now() - started).toBeLessThan(8_000);
      }
    }
  }, 90_000);

  // A fresh reader looks every node up in the DHT: the frozen node's record is found (held by the
  // live nodes) and its request runs into the request timeout; the killed nodes' records are
  // found too, and dialling them is refused.
  it('a frozen node whose answer is needed is named as a timeout, the killed ones unreachable', async () => {
    const g = await grantAll('/frozen-needed');
    const b = await fileUnder('/frozen-needed');
    freeze(cluster.nodes[2]);
    await Promise.all([cluster.nodes[3].kill(), cluster.nodes[4].kill()]);
    // 2 alive + 1 frozen + 2 killed: the frozen node's answer is needed and never comes
    const e = await reader()
      .decrypt(b.file, { grant: g.grantString })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    const err = e as NotEnoughFragmentsError;
    expect(err.found, JSON.stringify(err.failures)).toBe(2);
    const reasons = Object.fromEntries(err.failures.map((f) => [f.nodeId, f.reason]));
    expect(reasons, JSON.stringify(err.failures)).toEqual({
      [ids[2]]: 'timeout',
      [ids[3]]: 'unreachable',
      [ids[4]]: 'unreachable',
    });
  }, 90_000);

  it('a node down during a revocation refuses the policy after its restart', async () => {
    const g = await grantAll('/revoked-while-down');
    const down = cluster.nodes[4];
    expect(await askNode(readerT, peerOf(down), g.policy.body.id, g.policy.body.pathHash)).toBe('cfrag');
    await down.stop('SIGTERM');
    const r = await owner({ storeTimeoutMs: 4_000 }).revoke(g.policyId);
    const byNode = Object.fromEntries(r.receipts.map((x) => [x.nodeId, x.ok]));
    expect(byNode).toEqual({
      [ids[0]]: true,
      [ids[1]]: true,
      [ids[2]]: true,
      [ids[3]]: true,
      [ids[4]]: false,
    });
    expect(r.accessGone).toBe(true);
    expect(r.published).toBe(true);
    await restart(down);
    const answer = await pollUntil(
      () => askNode(readerT, peerOf(down), g.policy.body.id, g.policy.body.pathHash),
      (a) => a !== 'cfrag',
      30_000,
    );
    expect(['REVOKED', 'NOT_FOUND']).toContain(answer);
  }, 90_000);

  const storm = {
    /** Grants that completed, each with its receipts from all its nodes. */
    grants: [] as GrantResult[],
    /** Policy id (hex) -> node id (hex) -> whether that node receipted the revocation. */
    revoked: new Map<string, Map<string, boolean>>(),
    /** Abandoned attempts (the client revoked them; a node that was down may still hold one). */
    abandoned: new Set<string>(),
    /** Grants the storm never revokes (decided before they are pushed, so no race with revoke). */
    kept: new Set<string>(),
    pathHash: new Uint8Array() as Uint8Array,
  };

  it('a node killed during a storm of grants and revocations keeps every receipted grant and revocation', async () => {
    const victim = cluster.nodes[4];
    const victimId = ids[4];
    const pinned = cluster.nodes.map(peerOf);
    const client = owner({ storeTimeoutMs: 4_000 });
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        let g: GrantResult;
        try {
          g = await client.grant({
            path: '/storm',
            reader: readerId.card,
            threshold: 2,
            shares: 3,
            ttl: 3600,
            nodes: pinned,
          });
        } catch (e) {
          if (e instanceof GrantFailedError) for (const a of e.attempts) storm.abandoned.add(a.policyId);
          // BUSY node-record answers under load (or the victim gone) can leave too few usable nodes
          else if (!(e instanceof NoNodesError)) throw e;
          await sleep(100);
          continue;
        }
        for (const a of g.abandoned) storm.abandoned.add(a);
        const revokeIt = (i + w) % 2 === 0;
        if (!revokeIt) storm.kept.add(g.policyId);
        storm.grants.push(g);
        storm.pathHash = g.policy.body.pathHash;
        if (revokeIt) {
          const r = await client.revoke(g.policyId);
          storm.revoked.set(g.policyId, new Map(r.receipts.map((x) => [x.nodeId, x.ok])));
        }
      }
    };
    const running = Promise.all([0, 1].map(worker));
    // kill it mid-storm, once it has receipted at least one live grant and one revocation
    const touches = (g: GrantResult) => g.nodeIds.some((id) => hex(id) === victimId);
    const ready = () =>
      storm.grants.some((g) => touches(g) && storm.kept.has(g.policyId)) &&
      storm.grants.some((g) => touches(g) && storm.revoked.get(g.policyId)?.get(victimId) === true);
    const until = Date.now() + 45_000;
    while (!ready() && Date.now() < until) await sleep(100);
    await victim.kill();
    await sleep(2_000);
    stop = true;
    await running;
    await restart(victim);

    const withVictim = storm.grants.filter((g) => g.nodeIds.some((id) => hex(id) === victimId));
    const live = withVictim.filter((g) => !storm.revoked.has(g.policyId));
    const receiptedRevocations = withVictim.filter(
      (g) => storm.revoked.get(g.policyId)?.get(victimId) === true,
    );
    // the storm did reach the victim both ways before it died
    expect(live.length).toBeGreaterThan(0);
    expect(receiptedRevocations.length).toBeGreaterThan(0);
    const peer = peerOf(victim);
    for (const g of live) {
      expect(await askNode(readerT, peer, g.policy.body.id, g.policy.body.pathHash), g.policyId).toBe(
        'cfrag',
      );
    }
    for (const g of receiptedRevocations) {
      expect(await askNode(readerT, peer, g.policy.body.id, g.policy.body.pathHash), g.policyId).toBe(
        'REVOKED',
      );
    }
  }, 90_000);

  it('after the storm, nothing revoked or abandoned answers on the restarted node', async () => {
    const peer = peerOf(cluster.nodes[4]);
    const ids16 = [
      ...storm.grants.filter((g) => storm.revoked.has(g.policyId)).map((g) => g.policyId),
      ...storm.abandoned,
    ];
    expect(ids16.length).toBeGreaterThan(0);
    const answers = await pollUntil(
      () =>
        Promise.all(
          ids16.map(async (id) => [id, await askNode(readerT, peer, Buffer.from(id, 'hex'), storm.pathHash)]),
        ),
      (all) => all.every(([, a]) => a !== 'cfrag'),
      30_000,
    );
    expect(answers.filter(([, a]) => a === 'cfrag')).toEqual([]);
  }, 60_000);

  it('byzantine nodes: forged cfrags are discarded; with too few honest nodes they are named bad-proof', async () => {
    const bad = [new ByzantineNode('other-capsule'), new ByzantineNode('random')];
    byzantine.push(...bad);
    await Promise.all(bad.map((b) => b.start([cluster.nodes[0].bootstrapAddr])));
    const honest = cluster.nodes.slice(0, 3).map(peerOf);

    // 3-of-5 over 2 byzantine + 3 honest nodes: the reader needs all three honest cfrags
    const g = await owner().grant({
      path: '/byzantine',
      reader: readerId.card,
      threshold: 3,
      shares: 5,
      ttl: 3600,
      nodes: [...bad.map((b) => b.peer), ...honest],
    });
    expect(g.nodeIds.map(hex)).toEqual(expect.arrayContaining(bad.map((b) => b.nodeId)));
    for (let round = 0; round < 3; round++) {
      const f = await fileUnder('/byzantine');
      expect(await reader().decrypt(f.file, { grant: g.grantString })).toEqual(f.plaintext);
    }

    // 3-of-4 over 2 byzantine + 2 honest: not enough, and the forgers are named
    const g2 = await owner().grant({
      path: '/byzantine-short',
      reader: readerId.card,
      threshold: 3,
      shares: 4,
      ttl: 3600,
      nodes: [...bad.map((b) => b.peer), ...honest.slice(0, 2)],
    });
    const f2 = await fileUnder('/byzantine-short');
    const e = await reader()
      .decrypt(f2.file, { grant: g2.grantString })
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    const err = e as NotEnoughFragmentsError;
    expect(err.found, JSON.stringify(err.failures)).toBe(2);
    expect(Object.fromEntries(err.failures.map((x) => [x.nodeId, x.reason]))).toEqual({
      [bad[0].nodeId]: 'bad-proof',
      [bad[1].nodeId]: 'bad-proof',
    });
    expect(bad.every((b) => b.forged > 0)).toBe(true);
  }, 90_000);
});
