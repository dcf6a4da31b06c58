/**
 * Issue #6's integration test (DESIGN.md "Nodes": Handoff): five real node processes; an owner
 * stores a 2-of-3 policy on nodes 0-2; `thresh node decommission` makes node 0 hand its kfrag to
 * node 3 or 4 and exit; the replacement then re-encrypts by policy id with a cfrag that
 * verifies, and the reader decrypts with it and node 1's. Then a reader's client holding the
 * original grant string (its map names node 0) decrypts with node 2 down: it must follow the
 * handoff node 0 published in the DHT.
 */
import {
  createClient,
  createThreshLibp2p,
  Libp2pTransport,
  type ThreshLibp2p,
  threshDhtNamespaces,
} from '@thresh/client';
import {
  type Capsule,
  CapsuleFrag,
  type Card,
  collect,
  decryptReencrypted,
  encrypt,
  encryptFile,
  generateKFrags,
  Identity,
  isReencryptResult,
  kfragPrecursor,
  makeAssignments,
  makeGrant,
  makePolicy,
  makePolicyMap,
  NodeRecordReply,
  NodeRecordRequest,
  nodeIdOf,
  PROTOCOL_IDS,
  pathHashSecret,
  pathKey,
  ReencryptReply,
  ReencryptRequest,
  StorePolicyReply,
  StorePolicyRequest,
  sealKFrag,
  unwrapReply,
  type VerifiedCapsuleFrag,
  verifyNodeRecord,
  verifyReceipt,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callNode, ProcessCluster, runCli } from './helpers/processes.js';

const cluster = new ProcessCluster();
let client: ThreshLibp2p;
const owner = Identity.generate();
const reader = Identity.generate();

beforeAll(async () => {
  await cluster.init(5);
  await cluster.startAll();
  client = await createThreshLibp2p({
    privateKey: crypto.getRandomValues(new Uint8Array(32)),
    clientMode: true,
    dhtNamespaces: threshDhtNamespaces(),
    initialQuerySelfInterval: 0,
  });
  await cluster.waitForPeers(4);
}, 180_000);

afterAll(async () => {
  await client?.stop();
  await cluster.cleanup();
});

describe('handoff on decommission (real processes)', () => {
  const state: {
    cards: Card[];
    policyId?: Uint8Array;
    pathHash?: Uint8Array;
    levelPk?: ReturnType<ReturnType<typeof pathKey>['publicKey']>;
    grant?: string;
  } = { cards: [] };

  it('stores a 2-of-3 policy on nodes 0-2', async () => {
    for (let i = 0; i < 5; i++) {
      const reply = unwrapReply(
        await callNode(
          client,
          cluster.nodes[i],
          PROTOCOL_IDS.nodeRecord,
          NodeRecordRequest.encode({}),
          NodeRecordReply,
        ),
      );
      state.cards.push(verifyNodeRecord(reply.nodeRecord).card);
    }
    const cards = state.cards.slice(0, 3);
    const levelSk = pathKey(owner, '/team', 0);
    state.levelPk = levelSk.publicKey();
    const kfrags = generateKFrags(levelSk, reader.card.encryptingKey, owner.signer, 2, 3, false, true);
    state.pathHash = pathHashSecret(
      owner.encryptingKey,
      owner.card.encryptingKey,
      reader.card.encryptingKey,
    ).hash('/team', 0);
    const nodeIds = cards.map((c) => nodeIdOf(c));
    const policy = makePolicy(owner, {
      reader: reader.card,
      pathHash: state.pathHash,
      threshold: 2,
      shares: 3,
      expiry: Math.floor(Date.now() / 1000) + 3600,
      precursor: kfragPrecursor(kfrags[0]),
      nodeIds,
    });
    state.policyId = policy.body.id;
    const assignments = makeAssignments(owner, policy, kfrags);
    for (let i = 0; i < 3; i++) {
      const req = StorePolicyRequest.encode({
        policy: policy.bytes,
        assignment: assignments[i].bytes,
        sealedKFrag: sealKFrag(kfrags[i], policy.digest(), nodeIds[i], cards[i].encryptingKey),
      });
      const reply = unwrapReply(
        await callNode(client, cluster.nodes[i], PROTOCOL_IDS.storePolicy, req, StorePolicyReply),
      );
      verifyReceipt(reply.receipt, { op: 'store', nodeId: nodeIds[i], policyDigest: policy.digest() });
    }
    const map = makePolicyMap(owner, { policy, assignments, levelKey: state.levelPk, prefix: '/team' });
    state.grant = makeGrant(map, reader.card);
  });

  async function cfragFrom(node: number, capsule: Capsule): Promise<VerifiedCapsuleFrag | string> {
    const reply = unwrapReply(
      await callNode(
        client,
        cluster.nodes[node],
        PROTOCOL_IDS.reencrypt,
        ReencryptRequest.encode({
          items: [
            {
              id: 1,
              levels: [{ pathHash: state.pathHash!, capsule: capsule.toBytes() }],
              policyId: state.policyId,
            },
          ],
        }),
        ReencryptReply,
      ),
    );
    const item = reply.items[0];
    if (!isReencryptResult(item)) return item.error;
    return CapsuleFrag.fromBytes(item.cfrag).verify(
      capsule,
      owner.card.signingKey,
      state.levelPk!,
      reader.card.encryptingKey,
    );
  }

  it('`thresh node decommission`: node 0 hands its kfrag over and exits 0', async () => {
    const n0 = cluster.nodes[0];
    const r = await runCli(['node', 'decommission', '--data-dir', n0.dataDir, '--json'], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { handedOver: number; failed: unknown[]; exited: boolean };
    expect(report).toMatchObject({ handedOver: 1, failed: [], exited: true });
    const deadline = Date.now() + 10_000;
    while (n0.exitCode === undefined && Date.now() < deadline)
      await new Promise((res) => setTimeout(res, 50));
    expect(n0.exitCode, n0.stderr).toBe(0);
  });

  it('a replacement (node 3 or 4) re-encrypts; with node 1 the reader decrypts', async () => {
    const [capsule, ct] = encrypt(state.levelPk!, new TextEncoder().encode('after the handoff'));
    const answers = [await cfragFrom(3, capsule), await cfragFrom(4, capsule)];
    const held = answers.filter((a): a is VerifiedCapsuleFrag => typeof a !== 'string');
    expect(held, JSON.stringify(answers.filter((a) => typeof a === 'string'))).toHaveLength(1);
    expect(answers.filter((a) => typeof a === 'string')).toEqual(['NOT_FOUND']);
    const other = await cfragFrom(1, capsule);
    if (typeof other === 'string') throw new Error(other);
    const pt = decryptReencrypted(reader.encryptingKey, state.levelPk!, capsule, [held[0], other], ct);
    expect(new TextDecoder().decode(pt)).toBe('after the handoff');
  });

  it("a reader's client with the original grant follows the handoff published in the DHT", async () => {
    const file = await collect(
      encryptFile(owner, { path: '/team/doc' }, [new TextEncoder().encode('followed')]).stream,
    );
    await cluster.nodes[2].kill(); // with node 0 gone too, node 0's kfrag is needed: 2 of 3
    const transport = await Libp2pTransport.create({ bootstrap: [cluster.nodes[1].bootstrapAddr] });
    try {
      for (let i = 0; i < 60; i++) {
        const peers = await transport
          .closestNodes(crypto.getRandomValues(new Uint8Array(16)), 3, AbortSignal.timeout(5_000))
          .catch(() => []);
        if (peers.length >= 2) break;
        await new Promise((r) => setTimeout(r, 500));
      }
      const logs: string[] = [];
      const r = createClient({
        identity: reader,
        transport,
        requestTimeoutMs: 5_000,
        log: (_level, message) => logs.push(message),
      });
      expect(new TextDecoder().decode(await r.decrypt(file, { grant: state.grant! }))).toBe('followed');
      expect(logs).toContain('following a handoff');
    } finally {
      await transport.close();
    }
  }, 120_000);
});
