/**
 * A real network partition (issue #6): five `thresh node start` processes, each in its own
 * Linux network namespace with its own 10.x address, joined by veth pairs to one bridge in the
 * root namespace, where this test (owner and reader, libp2p clients) runs. Cutting a node off
 * sets its veth down: its packets are dropped both ways, so it neither answers nor refuses
 * (unlike a killed node, whose port refuses at once). Needs root and `ip netns`
 * (test/helpers/netns.ts); elsewhere the suite is skipped with the reason printed.
 *
 * The reader is one long-lived client (it has resolved every node once, as a reader that has
 * decrypted before has) with staggerMs 0: it asks all five nodes at once, so every cut node is
 * always asked, and a cold DHT lookup stalled by a cut DHT peer (see the kad-dht BUG note in
 * test/faults.test.ts) is not what is measured here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ClosestNodesOptions,
  createClient,
  type GrantResult,
  Libp2pTransport,
  type NodeFailure,
  NotEnoughFragmentsError,
  type PeerInfo,
  type ThreshClient,
  type Transport,
} from '@thresh/client';
import { initDataDir } from '@thresh/node';
import {
  collect,
  encryptFile,
  Identity,
  isReencryptResult,
  ReencryptReply,
  type RequestProtocolName,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { askNode, hex, nodeIdOfPeer, peerOf, pollUntil, sleep } from './helpers/faults.js';
import { NetnsLab, netnsSupport } from './helpers/netns.js';
import { NodeProcess, ProcessCluster } from './helpers/processes.js';

const support = netnsSupport();
if (!support.ok) console.warn(`test/faults-netns.test.ts: skipped, ${support.reason}`);
const suite = support.ok ? describe : describe.skip;
const title = support.ok
  ? 'a real network partition: five nodes in network namespaces'
  : `a real network partition (skipped: ${support.reason})`;

/** What became of one request the reader sent, by node index. */
type Outcome = string;

/**
 * The reader's transport, recording each request's outcome: 'cfrag' (a re-encrypt reply with
 * a cfrag for every item), the reply's error code, or the transport error's code (ERR_TIMEOUT,
 * ERR_UNREACHABLE, ERR_ABORTED when the reader had enough and stopped waiting).
 */
class RecordingTransport implements Transport {
  calls: { peer: string; protocol: RequestProtocolName; outcome: Outcome; ms: number }[] = [];
  constructor(readonly inner: Transport) {}
  closestNodes(
    key: Uint8Array,
    count: number,
    signal?: AbortSignal,
    options?: ClosestNodesOptions,
  ): Promise<PeerInfo[]> {
    return this.inner.closestNodes(key, count, signal, options);
  }
  putRecord(key: Uint8Array, value: Uint8Array, signal?: AbortSignal): Promise<{ accepted: number }> {
    return this.inner.putRecord(key, value, signal);
  }
  getRecord(key: Uint8Array, signal?: AbortSignal): Promise<Uint8Array | undefined> {
    return this.inner.getRecord(key, signal);
  }
  async call(
    peer: PeerInfo,
    protocol: RequestProtocolName,
    bytes: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const started = Date.now();
    try {
      const reply = await this.inner.call(peer, protocol, bytes, signal);
      let outcome = 'reply';
      if (protocol === 'reencrypt') {
        const decoded = ReencryptReply.decode(reply);
        if ('error' in decoded) outcome = String((decoded.error as { code?: string }).code);
        else {
          const bad = decoded.items.find((i) => !isReencryptResult(i));
          outcome = bad ? String((bad as { error?: string }).error) : 'cfrag';
        }
      }
      this.calls.push({ peer: peer.id, protocol, outcome, ms: Date.now() - started });
      return reply;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      this.calls.push({
        peer: peer.id,
        protocol,
        outcome: typeof code === 'string' ? code : String(e),
        ms: Date.now() - started,
      });
      throw e;
    }
  }
}

suite(title, () => {
  const N = 5;
  let lab: NetnsLab;
  const cluster = new ProcessCluster();
  const transports: Libp2pTransport[] = [];
  let base: string;
  let ownerT: Libp2pTransport;
  let readerT: Libp2pTransport;
  let recorder: RecordingTransport;
  let warmReader: ThreshClient;
  /** Node id (hex) of each node, by index. */
  const ids: string[] = [];
  const cut = new Set<number>();
  const ownerId = Identity.generate();
  const readerId = Identity.generate();
  let g: GrantResult;

  const nodes = () => cluster.nodes;
  const indexOfPeer = (peer: string) => nodes().findIndex((n) => n.runtime?.peerId === peer);

  /**
   * Exactly the nodes `which` cut off, every other one connected: each test sets the partition
   * it needs, whatever the one before it left (it may have failed half-way).
   */
  function cutOff(...which: number[]): void {
    for (let i = 0; i < N; i++) {
      if (which.includes(i) && !cut.has(i)) {
        lab.cut(i);
        cut.add(i);
      } else if (!which.includes(i) && cut.has(i)) {
        lab.heal(i);
        cut.delete(i);
      }
    }
  }

  async function transport(): Promise<Libp2pTransport> {
    const t = await Libp2pTransport.create({ bootstrap: [nodes()[0].bootstrapAddr], dhtTimeoutMs: 5_000 });
    transports.push(t);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const peers = await t
        .closestNodes(crypto.getRandomValues(new Uint8Array(16)), 20)
        .catch(() => [] as unknown[]);
      if (peers.length >= N) return t;
      if (Date.now() > deadline) throw new Error(`the client found ${peers.length} DHT peers`);
      await sleep(250);
    }
  }

  function owner(opts: { storeTimeoutMs?: number } = {}): ThreshClient {
    return createClient({ identity: ownerId, transport: ownerT, stateDir: join(base, 'owner'), ...opts });
  }

  let fileCount = 0;
  async function fileUnder(prefix: string): Promise<{ file: Uint8Array; plaintext: Uint8Array }> {
    const plaintext = new TextEncoder().encode(`file ${++fileCount} under ${prefix}. `.repeat(100));
    const file = await collect(
      encryptFile(ownerId, { path: `${prefix}/f${fileCount}.txt` }, [plaintext]).stream,
    );
    return { file, plaintext };
  }

  /** A 3-of-5 grant pinned to the five nodes (all five designated). */
  async function grantAll(path: string): Promise<GrantResult> {
    const grant = await owner().grant({
      path,
      reader: readerId.card,
      threshold: 3,
      shares: N,
      ttl: 3600,
      nodes: nodes().map(peerOf),
    });
    expect(new Set(grant.nodeIds.map(hex))).toEqual(new Set(ids));
    return grant;
  }

  /** Decrypts one new file under `prefix` with the warm reader; what each node's request came to. */
  async function decrypt(
    grant: GrantResult,
    prefix: string,
  ): Promise<{ result: Uint8Array | unknown; plaintext: Uint8Array; outcomes: Map<number, Outcome[]> }> {
    const { file, plaintext } = await fileUnder(prefix);
    recorder.calls = [];
    const result = await warmReader.decrypt(file, { grant: grant.grantString }).catch((e: unknown) => e);
    const outcomes = new Map<number, Outcome[]>();
    for (const c of recorder.calls.filter((x) => x.protocol === 'reencrypt')) {
      const i = indexOfPeer(c.peer);
      outcomes.set(i, [...(outcomes.get(i) ?? []), c.outcome]);
    }
    return { result, plaintext, outcomes };
  }

  const answered = (outcomes: Map<number, Outcome[]>) =>
    [...outcomes].filter(([, o]) => o.includes('cfrag')).map(([i]) => i);

  /** A cut node never answers: asked, it timed out, was unreachable, or was given up on. */
  function expectSilent(outcomes: Map<number, Outcome[]>, which: number[]): void {
    for (const i of which) {
      for (const o of outcomes.get(i) ?? []) {
        // ERR_STREAM: the connection monitor aborted the dead connection (see expectCutFailure)
        expect(['ERR_TIMEOUT', 'ERR_UNREACHABLE', 'ERR_ABORTED', 'ERR_STREAM'], `node ${i}`).toContain(o);
      }
    }
  }

  /**
   * The failure a reader reports for a cut node: 'timeout' (no reply by its deadline) or
   * 'unreachable' (the connection was closed and a new dial failed).
   * BUG (client, reported): libp2p's connection monitor pings every open connection and, when
   * a ping times out, aborts the connection with that timeout; a request opening a stream on it
   * at that moment rejects with the abort reason, and rpc.ts reports it as StreamError ('stream',
   * "cannot open a stream ...: The operation was aborted due to timeout") instead of as a
   * timeout or unreachable. Accepted here with that message only.
   */
  function expectCutFailure(f: NodeFailure | undefined): void {
    const why = JSON.stringify(f);
    expect(f, why).toBeDefined();
    if (f!.reason === 'stream') expect(f!.message, why).toMatch(/cannot open a stream.*timeout/);
    else expect(['timeout', 'unreachable'], why).toContain(f!.reason);
  }

  beforeAll(async () => {
    lab = NetnsLab.create(N);
    base = mkdtempSync(join(tmpdir(), 'thresh-netns-'));
    lab.defer(() => rmSync(base, { recursive: true, force: true }));
    // The data directories are made in this process with a low scrypt cost (what `thresh node
    // init` writes, its key file sealed at logN 10): five CLI inits at the default cost take
    // tens of seconds on a busy two-core machine. The nodes themselves are `thresh node start`.
    await Promise.all(
      lab.spaces.map((s, i) =>
        initDataDir(join(base, `node-${i}`), {
          generatePassphrase: true,
          scryptParams: { logN: 10, r: 8, p: 1 },
          config: {
            listen: [`/ip4/${s.addr}/tcp/0`],
            http: `${s.addr}:0`,
            workers: 1,
            // a healed node looks revocations of its policies up this often (default 600 s)
            revocationCheck: 3,
          },
        }),
      ),
    );
    cluster.nodes.push(
      ...lab.spaces.map((_, i) => new NodeProcess(join(base, `node-${i}`), {}, lab.exec(i))),
    );
    await cluster.startAll();
    for (const [i, n] of nodes().entries()) {
      // each node listens on its namespace's address only, and serves HTTP there too
      expect(n.bootstrapAddr).toMatch(
        new RegExp(`^/ip4/${lab.spaces[i].addr.replaceAll('.', '\\.')}/tcp/\\d+/p2p/`),
      );
      expect(n.runtime!.http).toMatch(
        new RegExp(`^http://${lab.spaces[i].addr.replaceAll('.', '\\.')}:\\d+`),
      );
    }
    await cluster.waitForPeers(1);
    [ownerT, readerT] = await Promise.all([transport(), transport()]);
    recorder = new RecordingTransport(readerT);
    warmReader = createClient({
      identity: readerId,
      transport: recorder,
      requestTimeoutMs: 4_000,
      staggerMs: 0,
    });
    for (const n of nodes()) ids.push(await nodeIdOfPeer(ownerT, peerOf(n)));
  }, 90_000);

  afterAll(async () => {
    for (const i of cut) lab?.heal(i);
    await Promise.allSettled(transports.map((t) => t.close()));
    await cluster.cleanup();
    lab?.cleanup();
    expect(lab?.leftovers() ?? []).toEqual([]);
  }, 60_000);

  it('baseline: 3-of-5, all five reachable over the bridge, the reader decrypts', async () => {
    g = await grantAll('/part');
    const { result, plaintext, outcomes } = await decrypt(g, '/part');
    expect(result).toEqual(plaintext);
    expect(answered(outcomes).length).toBeGreaterThanOrEqual(3);
    // the reader asked all five (staggerMs 0) and so has every node's address from here on
    expect([...outcomes.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
  }, 30_000);

  it('one holder cut off: decrypt succeeds, the cut node does not answer (timeout/unreachable)', async () => {
    cutOff(4);
    const [{ result, plaintext, outcomes }, direct] = await Promise.all([
      decrypt(g, '/part'),
      askNode(readerT, peerOf(nodes()[4]), g.policy.body.id, g.policy.body.pathHash),
    ]);
    expect(result).toEqual(plaintext);
    expect(answered(outcomes)).not.toContain(4);
    expectSilent(outcomes, [4]);
    // asked directly (5 s deadline), the cut node gives no reply at all
    expect(direct).toMatch(/^error: /);
    expect(direct).toMatch(/timed out|timeout|unreachable|abort|EHOSTUNREACH|dial/i);
  }, 30_000);

  it('two holders cut off (n - m = 2): decrypt still succeeds', async () => {
    cutOff(3, 4);
    for (let round = 0; round < 2; round++) {
      const { result, plaintext, outcomes } = await decrypt(g, '/part');
      expect(result).toEqual(plaintext);
      expect(answered(outcomes).sort()).toEqual([0, 1, 2]);
      expectSilent(outcomes, [3, 4]);
    }
  }, 30_000);

  it('a third holder cut off: NotEnoughFragmentsError naming exactly the three cut nodes', async () => {
    cutOff(2, 3, 4);
    const started = Date.now();
    const { result } = await decrypt(g, '/part');
    expect(result).toBeInstanceOf(NotEnoughFragmentsError);
    const err = result as NotEnoughFragmentsError;
    expect(err.found, JSON.stringify(err.failures)).toBe(2);
    expect(err.needed).toBe(3);
    const reasons = Object.fromEntries(err.failures.map((f) => [f.nodeId, f.reason]));
    expect(Object.keys(reasons).sort(), JSON.stringify(err.failures)).toEqual(
      [ids[2], ids[3], ids[4]].sort(),
    );
    for (const f of err.failures) expectCutFailure(f);
    // the reader's request deadline (4 s), then its look-up of a handoff for the holders that
    // did not answer (the DHT deadline, 5 s), and slack for a busy machine
    const took = Date.now() - started;
    expect(took, JSON.stringify(recorder.calls)).toBeLessThan(15_000);
  }, 30_000);

  it('healed: the three nodes answer again, and a decrypt succeeds with only them', async () => {
    cutOff();
    // each healed node answers a direct request again (TCP retransmits or a new dial)
    for (const i of [2, 3, 4]) {
      const a = await pollUntil(
        () => askNode(readerT, peerOf(nodes()[i]), g.policy.body.id, g.policy.body.pathHash),
        (x) => x === 'cfrag',
        20_000,
      );
      expect(a, `node ${i}`).toBe('cfrag');
    }
    const healed = await decrypt(g, '/part');
    expect(healed.result).toEqual(healed.plaintext);
    // now the other way round: with the never-cut nodes 0 and 1 cut off, the decrypt needs all
    // three healed nodes' cfrags
    cutOff(0, 1);
    try {
      const { result, plaintext, outcomes } = await decrypt(g, '/part');
      expect(result).toEqual(plaintext);
      expect(answered(outcomes).sort()).toEqual([2, 3, 4]);
      expectSilent(outcomes, [0, 1]);
    } finally {
      cutOff();
    }
  }, 60_000);

  let g2: GrantResult;

  it('a revocation while a holder is cut off: the others receipt it, the cut node cannot', async () => {
    for (const i of [0, 1]) {
      await pollUntil(
        () => askNode(readerT, peerOf(nodes()[i]), g.policy.body.id, g.policy.body.pathHash),
        (x) => x === 'cfrag',
        20_000,
      );
    }
    g2 = await grantAll('/part-revoke');
    expect(await askNode(readerT, peerOf(nodes()[4]), g2.policy.body.id, g2.policy.body.pathHash)).toBe(
      'cfrag',
    );
    cutOff(4);
    const r = await owner({ storeTimeoutMs: 4_000 }).revoke(g2.policyId);
    expect(Object.fromEntries(r.receipts.map((x) => [x.nodeId, x.ok]))).toEqual({
      [ids[0]]: true,
      [ids[1]]: true,
      [ids[2]]: true,
      [ids[3]]: true,
      [ids[4]]: false,
    });
    const reason4 = r.receipts.find((x) => x.nodeId === ids[4]);
    expect(['timeout', 'unreachable']).toContain(reason4 && !reason4.ok ? reason4.reason : 'ok');
    expect(r.accessGone, 'accessGone').toBe(true);
    // The owner's own DHT put may miss while a holder is cut off (kad-dht's put waits for its
    // closest-peers query, which the cut peer holds open): the four nodes that receipted publish
    // the owner-signed value too, and republish it while they keep the tombstone.
    if (!r.published) console.warn('faults-netns: the revocation was not published in the DHT');
    // the four that receipted refuse, the cut one cannot be reached: the reader gets nothing
    const { result } = await decrypt(g2, '/part-revoke');
    expect(result).toBeInstanceOf(NotEnoughFragmentsError);
    const reasons = Object.fromEntries(
      (result as NotEnoughFragmentsError).failures.map((f) => [f.nodeId, f.reason]),
    );
    for (const i of [0, 1, 2, 3]) expect(reasons[ids[i]], `node ${i}`).toBe('revoked');
    expectCutFailure((result as NotEnoughFragmentsError).failures.find((f) => f.nodeId === ids[4]));
  }, 60_000);

  /** What the healed node answered for the revoked policy, polled for a while after healing. */
  let afterHeal = '';

  it('after the partition heals, the node that missed the revocation answers again', async () => {
    cutOff();
    afterHeal = await pollUntil(
      () => askNode(readerT, peerOf(nodes()[4]), g2.policy.body.id, g2.policy.body.pathHash),
      (a) => !a.startsWith('error'),
      20_000,
    );
    expect(afterHeal).not.toMatch(/^error/);
    // it learns the revocation from the DHT by itself (its periodic revocation check, 3 s here)
    afterHeal = await pollUntil(
      () => askNode(readerT, peerOf(nodes()[4]), g2.policy.body.id, g2.policy.body.pathHash),
      (a) => a === 'REVOKED' || a === 'NOT_FOUND',
      30_000,
    );
    expect(['cfrag', 'REVOKED', 'NOT_FOUND']).toContain(afterHeal);
  }, 60_000);

  // A node that was partitioned, but kept running, while a revocation went out learns it once it
  // can reach the network: it looks up revocations of the policies it holds every
  // `revocationCheck` seconds (node.ts), and the nodes that receipted published the revocation.
  it('after the partition heals, the node refuses the revoked policy by itself', () => {
    expect(['REVOKED', 'NOT_FOUND']).toContain(afterHeal);
  });

  it('after the partition heals, a re-sent revoke reaches the node and it refuses the policy', async () => {
    cutOff();
    const r = await owner({ storeTimeoutMs: 4_000 }).revoke(g2.policyId);
    expect(r.receipts.filter((x) => !x.ok)).toEqual([]);
    expect(await askNode(readerT, peerOf(nodes()[4]), g2.policy.body.id, g2.policy.body.pathHash)).toBe(
      'REVOKED',
    );
    // and the first policy is untouched: all five answer it
    for (const n of nodes()) {
      expect(await askNode(readerT, peerOf(n), g.policy.body.id, g.policy.body.pathHash)).toBe('cfrag');
    }
  }, 30_000);
});
