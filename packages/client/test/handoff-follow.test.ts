/**
 * Readers follow handoffs published in the DHT (issue #6, DESIGN.md "Nodes": "Readers follow
 * handoffs transparently"), against the fake network: a node's kfrag moves to a new node as a
 * decommission leaves it (the new node stores it with the certificate, the old one deletes its
 * copy and publishes the certificate under its own key), and a reader holding the original
 * grant string, whose map names the old node, still decrypts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  collect,
  encodeDhtValue,
  encryptFile,
  handoffDhtId,
  Identity,
  KeyFrag,
  kfragId,
  makeDhtKey,
  makeHandoffCertificate,
  nodeIdOf,
} from '@thresh/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient } from '../src/client.js';
import { NotEnoughFragmentsError } from '../src/errors.js';
import { DAY, FakeNetwork, type FakeNode, hex, T } from './fake-network.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const plaintext = new TextEncoder().encode('handed over');

async function world() {
  const net = new FakeNetwork();
  for (let i = 0; i < 7; i++) await net.addNode();
  const ownerId = Identity.generate();
  const readerId = Identity.generate();
  const stateDir = await mkdtemp(join(tmpdir(), 'thresh-follow-'));
  dirs.push(stateDir);
  const owner = createClient({ identity: ownerId, transport: net, stateDir, now: () => T });
  const reader = createClient({ identity: readerId, transport: net, now: () => T, requestTimeoutMs: 1_000 });
  const nodes = net.nodes;
  // 3-of-3 on nodes 0-2: the reader needs every kfrag, so node 0's must be found where it went
  const g = await owner.grant({
    path: '/team',
    reader: readerId.card,
    threshold: 3,
    shares: 3,
    ttl: DAY,
    nodes: nodes.slice(0, 3).map((n) => ({ id: n.peerId, addrs: [] })),
  });
  const file = await collect(encryptFile(ownerId, { path: '/team/x', now: T }, [plaintext]).stream);
  return { net, nodes, owner, reader, g, file };
}

/** What a decommission does, as the node would: hand `from`'s kfrag of the policy to `to`. */
async function handOver(
  net: FakeNetwork,
  from: FakeNode,
  to: FakeNode,
  policyId: Uint8Array,
  opts: { publish?: boolean; keepCopy?: boolean; earlier?: Uint8Array[] } = {},
): Promise<Uint8Array> {
  const stored = (await from.store.getPolicy(policyId))!;
  const kid = kfragId(KeyFrag.fromBytes(stored.kfrag));
  const cert = makeHandoffCertificate(
    from.identity,
    { policyDigest: stored.policyDigest, kfragId: kid, to: nodeIdOf(to.identity.card) },
    { now: T },
  );
  await to.store.putPolicy({
    ...stored,
    source: 'handoff',
    handoffCertificates: [...(opts.earlier ?? stored.handoffCertificates ?? []), cert.bytes],
  });
  if (!opts.keepCopy) await from.store.deletePolicy(policyId);
  if (opts.publish !== false) {
    const id = handoffDhtId(stored.policyDigest, kid);
    await net.putRecord(
      makeDhtKey('handoff', nodeIdOf(from.identity.card), id),
      encodeDhtValue({ namespace: 'handoff', id, seq: T, record: cert.bytes }, from.identity.signer),
    );
  }
  return cert.bytes;
}

const reencryptsOf = (n: FakeNode) => n.calls.filter((c) => c.protocol === 'reencrypt').length;

describe('readers follow handoffs published in the DHT', () => {
  it('the old node deleted its copy (not-found): the reader asks the new holder and decrypts', async () => {
    const w = await world();
    await handOver(w.net, w.nodes[0], w.nodes[5], w.g.policy.body.id);
    expect(await w.reader.decrypt(w.file, { grant: w.g.grantString })).toEqual(plaintext);
    expect(reencryptsOf(w.nodes[5])).toBe(1);
  });

  it('the old node is gone (unreachable), and the kfrag moved twice: the reader follows the chain', async () => {
    const w = await world();
    const first = await handOver(w.net, w.nodes[0], w.nodes[5], w.g.policy.body.id);
    await handOver(w.net, w.nodes[5], w.nodes[6], w.g.policy.body.id, { earlier: [first] });
    w.nodes[0].down = true;
    w.nodes[5].down = true;
    expect(await w.reader.decrypt(w.file, { grant: w.g.grantString })).toEqual(plaintext);
    expect(reencryptsOf(w.nodes[6])).toBe(1);
  });

  it('nothing published: the old node is named (not-found) and the new one never asked', async () => {
    const w = await world();
    await handOver(w.net, w.nodes[0], w.nodes[5], w.g.policy.body.id, { publish: false });
    const e = await w.reader.decrypt(w.file, { grant: w.g.grantString }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    expect((e as NotEnoughFragmentsError).failures).toEqual([
      expect.objectContaining({ nodeId: hex(nodeIdOf(w.nodes[0].identity.card)), reason: 'not-found' }),
    ]);
    expect(reencryptsOf(w.nodes[5])).toBe(0);
  });

  it('a handoff to a designated node of the policy is not followed (the chain check refuses it)', async () => {
    const w = await world();
    // node 0 "hands" its kfrag to node 1, which already holds another kfrag of the policy
    const stored = (await w.nodes[0].store.getPolicy(w.g.policy.body.id))!;
    const kid = kfragId(KeyFrag.fromBytes(stored.kfrag));
    const cert = makeHandoffCertificate(
      w.nodes[0].identity,
      { policyDigest: stored.policyDigest, kfragId: kid, to: nodeIdOf(w.nodes[1].identity.card) },
      { now: T },
    );
    const id = handoffDhtId(stored.policyDigest, kid);
    await w.net.putRecord(
      makeDhtKey('handoff', nodeIdOf(w.nodes[0].identity.card), id),
      encodeDhtValue({ namespace: 'handoff', id, seq: T, record: cert.bytes }, w.nodes[0].identity.signer),
    );
    await w.nodes[0].store.deletePolicy(w.g.policy.body.id);
    const before = reencryptsOf(w.nodes[1]);
    await expect(w.reader.decrypt(w.file, { grant: w.g.grantString })).rejects.toBeInstanceOf(
      NotEnoughFragmentsError,
    );
    expect(reencryptsOf(w.nodes[1]) - before).toBe(1); // asked once, as a designated node only
  });
});
