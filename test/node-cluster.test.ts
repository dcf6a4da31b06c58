/**
 * Issue #4's integration test: three real node processes on 127.0.0.1 (ports chosen at run
 * time) form the DHT; an owner stores a policy on them over libp2p; a reader re-encrypts through
 * libp2p and through HTTP and decrypts; a node restarts and still holds its policy; the owner
 * revokes; and no data directory holds a kfrag, policy or path hash in the clear.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createThreshLibp2p, getRecord, type ThreshLibp2p, threshDhtNamespaces } from '@thresh/client';
import {
  Capsule,
  CapsuleFrag,
  collect,
  decodeDhtValue,
  decryptFileBody,
  encryptFile,
  generateKFrags,
  Identity,
  isReencryptResult,
  kfragPrecursor,
  makeAssignments,
  makeDhtKey,
  makePolicy,
  makeRevocation,
  NodeRecordReply,
  NodeRecordRequest,
  nodeIdOf,
  nodeRecordDhtId,
  PROTOCOL_IDS,
  pathHashes,
  pathHashSecret,
  pathKey,
  ReencryptReply,
  ReencryptRequest,
  RevokeReply,
  RevokeRequest,
  readFileHeader,
  StorePolicyReply,
  StorePolicyRequest,
  sealKFrag,
  unwrapDekWithCfrags,
  unwrapReply,
  verifyNodeRecord,
  verifyReceipt,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callNode, ProcessCluster } from './helpers/processes.js';

const cluster = new ProcessCluster();
let client: ThreshLibp2p;

const owner = Identity.generate();
const reader = Identity.generate();
const plaintext = new TextEncoder().encode('Q3 numbers, for the team only. '.repeat(100));
const PATH = '/team/reports/q3.pdf';

beforeAll(async () => {
  await cluster.init(3);
  await cluster.startAll();
  client = await createThreshLibp2p({
    privateKey: crypto.getRandomValues(new Uint8Array(32)),
    clientMode: true,
    dhtNamespaces: threshDhtNamespaces(),
    initialQuerySelfInterval: 0,
  });
  await cluster.waitForPeers(2);
}, 120_000);

afterAll(async () => {
  await client?.stop();
  await cluster.cleanup();
});

/** A node's `thresh_crypto_workers_ready` gauge, from its /metrics. */
async function workersReady(i: number): Promise<number> {
  const text = await (await fetch(`${cluster.nodes[i].runtime!.http}/metrics`)).text();
  const m = /^thresh_crypto_workers_ready(?:\{[^}]*\})? (\d+)$/m.exec(text);
  if (!m) throw new Error('no thresh_crypto_workers_ready in /metrics');
  return Number(m[1]);
}

describe('three real nodes', () => {
  const state: {
    cards?: Identity['card'][];
    file?: Uint8Array;
    policyId?: Uint8Array;
    secrets?: Uint8Array[];
    levelPk?: ReturnType<ReturnType<typeof pathKey>['publicKey']>;
  } = {};

  it('a fresh node, holding no policy, has started no crypto worker yet', async () => {
    for (let i = 0; i < 3; i++) expect(await workersReady(i), `node ${i}`).toBe(0);
  });

  it('each node answers node-record with a record signed by its own key', async () => {
    state.cards = [];
    for (let i = 0; i < 3; i++) {
      const reply = unwrapReply(
        await callNode(
          client,
          cluster.nodes[i],
          PROTOCOL_IDS.nodeRecord,
          NodeRecordRequest.encode({}),
          NodeRecordReply,
        ),
      );
      const rec = verifyNodeRecord(reply.nodeRecord);
      expect(rec.body.peer).toBe(cluster.nodes[i].runtime!.peerId);
      state.cards.push(rec.card);
      expect(reply.status?.version).toBe('0.1.0');
    }
  });

  it('each node has published its record in the DHT, where the client finds and validates it', async () => {
    for (let i = 0; i < 3; i++) {
      const key = makeDhtKey('node', nodeIdOf(state.cards![i]), nodeRecordDhtId());
      let value: Uint8Array | undefined;
      for (let tries = 0; tries < 20 && !value; tries++) {
        value = await getRecord(client, key, { timeoutMs: 5000 }).catch(() => undefined);
        if (!value) await new Promise((r) => setTimeout(r, 500));
      }
      expect(value, `node ${i}`).toBeDefined();
      const rec = verifyNodeRecord(decodeDhtValue(value!).record);
      expect(rec.body.peer).toBe(cluster.nodes[i].runtime!.peerId);
    }
  });

  it('stores a 2-of-3 policy for /team on the three nodes, each answering with a receipt', async () => {
    const cards = state.cards!;
    const levelSk = pathKey(owner, '/team', 0);
    state.levelPk = levelSk.publicKey();
    const kfrags = generateKFrags(levelSk, reader.card.encryptingKey, owner.signer, 2, 3, false, true);
    const secret = pathHashSecret(owner.encryptingKey, owner.card.encryptingKey, reader.card.encryptingKey);
    const pathHash = secret.hash('/team', 0);
    const nodeIds = cards.map((c) => nodeIdOf(c));
    const policy = makePolicy(owner, {
      reader: reader.card,
      pathHash,
      threshold: 2,
      shares: 3,
      expiry: Math.floor(Date.now() / 1000) + 3600,
      precursor: kfragPrecursor(kfrags[0]),
      nodeIds,
    });
    state.policyId = policy.body.id;
    const assignments = makeAssignments(owner, policy, kfrags);
    state.secrets = [policy.bytes, pathHash, ...kfrags.map((k) => k.toBytes())];
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
    const f = encryptFile(owner, { path: PATH }, [plaintext]);
    state.file = await collect(f.stream);
  });

  async function reencryptVia(node: number, http: boolean) {
    const h = await readFileHeader([state.file!]);
    const secret = pathHashSecret(reader.encryptingKey, owner.card.encryptingKey, reader.card.encryptingKey);
    const hashes = pathHashes(secret, PATH, 0);
    const levels = h.header.body.l.map((l, i) => ({ pathHash: hashes[i], capsule: l.c }));
    if (!http) {
      const reply = unwrapReply(
        await callNode(
          client,
          cluster.nodes[node],
          PROTOCOL_IDS.reencrypt,
          ReencryptRequest.encode({ items: [{ id: 7, levels }] }),
          ReencryptReply,
        ),
      );
      return { h, item: reply.items[0] };
    }
    const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
    const res = await fetch(`${cluster.nodes[node].runtime!.http}/v1/reencrypt`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        items: [
          { id: 7, levels: levels.map((l) => ({ pathHash: b64(l.pathHash), capsule: b64(l.capsule) })) },
        ],
      }),
    });
    expect(res.status).toBe(200);
    const json = (await res.json()) as {
      items: { id: number; cfrag?: string; policyId?: string; level?: number; error?: string }[];
    };
    const it0 = json.items[0];
    const item = it0.cfrag
      ? {
          id: it0.id,
          cfrag: Buffer.from(it0.cfrag, 'base64'),
          policyId: Buffer.from(it0.policyId!, 'base64'),
          level: it0.level!,
        }
      : { id: it0.id, error: it0.error };
    return { h, item };
  }

  it('re-encrypts through libp2p (node 1) and HTTP (node 2); the reader verifies and decrypts', async () => {
    const a = await reencryptVia(0, false);
    const b = await reencryptVia(1, true);
    // the first re-encryption started their workers
    expect(await workersReady(0)).toBeGreaterThan(0);
    expect(await workersReady(1)).toBeGreaterThan(0);
    const verified = [a.item, b.item].map((item) => {
      if (!('cfrag' in item) || !item.cfrag) throw new Error(`no cfrag: ${JSON.stringify(item)}`);
      expect(item.level).toBe(1); // the /team level
      const capsule = Capsule.fromBytes(a.h.header.body.l[1].c);
      return CapsuleFrag.fromBytes(item.cfrag).verify(
        capsule,
        owner.card.signingKey,
        state.levelPk!,
        reader.card.encryptingKey,
      );
    });
    const dek = unwrapDekWithCfrags(a.h.header, 1, reader.encryptingKey, state.levelPk!, verified);
    expect(await collect(decryptFileBody(a.h.header, dek, a.h.body))).toEqual(plaintext);
  });

  it('a restarted node keeps its identity and its policy', async () => {
    const n = cluster.nodes[2];
    const before = n.runtime!.peerId;
    expect(await n.stop()).toBe(0);
    await n.start(['--bootstrap', cluster.nodes[0].bootstrapAddr]);
    expect(n.runtime!.peerId).toBe(before);
    // it holds a policy: its workers started with it, before any request
    expect(await workersReady(2)).toBeGreaterThan(0);
    const { item } = await reencryptVia(2, false);
    expect(isReencryptResult(item as never)).toBe(true);
  });

  it('revokes on every node; each receipts and then refuses the policy', async () => {
    const rev = makeRevocation(owner, { id: state.policyId!, expiry: Math.floor(Date.now() / 1000) + 3600 });
    for (let i = 0; i < 3; i++) {
      const reply = unwrapReply(
        await callNode(
          client,
          cluster.nodes[i],
          PROTOCOL_IDS.revoke,
          RevokeRequest.encode({ revocation: rev.bytes }),
          RevokeReply,
        ),
      );
      verifyReceipt(reply.receipt, { op: 'revoke', nodeId: nodeIdOf(state.cards![i]) });
      const { item } = await reencryptVia(i, i === 1);
      expect('error' in item && item.error).toBe('NOT_FOUND');
    }
  });

  it('keeps no kfrag, policy or path hash in the clear in any data directory', async () => {
    const needles = state.secrets!.map((s) => Buffer.from(s));
    for (const n of cluster.nodes) {
      for (const file of await listFiles(n.dataDir)) {
        const data = await readFile(file);
        for (const needle of needles) expect(data.includes(needle), `${file}`).toBe(false);
      }
    }
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir)) {
    const p = join(dir, entry);
    if ((await stat(p)).isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}
