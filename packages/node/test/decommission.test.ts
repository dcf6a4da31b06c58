/**
 * decommission.ts (issue #6 "Handoff") against a fake network: NodeService instances over
 * MemoryStores, reachable through an injected transport (closest peers, node-record, handoff,
 * DHT put), so the logic runs without libp2p. Every record is a real protocol record.
 */
import type { PeerInfo, Transport } from '@thresh/client';
import { TimeoutError, UnreachableError } from '@thresh/client';
import {
  CapsuleFrag,
  decodeDhtValue,
  decodeHandoffCertificate,
  decryptReencrypted,
  encrypt,
  errorReplyFromError,
  HandoffReply,
  HandoffRequest,
  handoffDhtId,
  Identity,
  isReencryptResult,
  makeDhtKey,
  makeNodeRecord,
  NodeRecordReply,
  type RequestProtocolName,
  unwrapReply,
  verifyHandoffCertificate,
} from '@thresh/protocol';
import { describe, expect, it } from 'vitest';
import { type DecommissionComponents, decommission } from '../src/decommission.js';
import { DAY, type Grant, hex, makeGrant, makeNode, T, type TestNode } from './service-fixture.js';

interface Peer {
  node: TestNode;
  info: PeerInfo;
  record: Uint8Array;
  /** Replaces the peer's handoff answer (e.g. to throw a transport error). */
  onHandoff?: () => Promise<Uint8Array>;
}

/** A network of NodeService peers; records every handoff request and DHT put. */
class FakeNetwork implements Pick<Transport, 'closestNodes' | 'call' | 'putRecord'> {
  readonly peers: Peer[] = [];
  readonly handoffs: string[] = [];
  readonly puts: { key: Uint8Array; value: Uint8Array }[] = [];

  async add(opts: { maxLifetime?: number; peerIdInRecord?: string } = {}): Promise<Peer> {
    const node = await makeNode();
    const id = `peer-${this.peers.length}`;
    const record = makeNodeRecord(node.identity, {
      peer: opts.peerIdInRecord ?? id,
      addrs: [`/ip4/127.0.0.1/tcp/${4100 + this.peers.length}`],
      maxLifetime: opts.maxLifetime ?? 365 * DAY,
      capacity: 10_000,
      version: 'test',
      seq: 1,
      expiry: T + 2 * DAY,
    }).bytes;
    const peer = { node, info: { id, addrs: [] }, record };
    this.peers.push(peer);
    return peer;
  }

  async closestNodes(_key: Uint8Array, count: number): Promise<PeerInfo[]> {
    return this.peers.slice(0, count).map((p) => p.info);
  }

  async call(peer: PeerInfo, protocol: RequestProtocolName, bytes: Uint8Array): Promise<Uint8Array> {
    const p = this.peers.find((x) => x.info.id === peer.id);
    if (!p) throw new UnreachableError(`no peer ${peer.id}`);
    if (protocol === 'nodeRecord') return NodeRecordReply.encode({ nodeRecord: p.record });
    if (protocol !== 'handoff') throw new Error(`unexpected protocol ${protocol}`);
    this.handoffs.push(peer.id);
    if (p.onHandoff) return p.onHandoff();
    try {
      return HandoffReply.encode(await p.node.service.handoff(HandoffRequest.decode(bytes)));
    } catch (e) {
      return HandoffReply.encode(errorReplyFromError(e) as never);
    }
  }

  async putRecord(key: Uint8Array, value: Uint8Array): Promise<{ accepted: number }> {
    this.puts.push({ key, value });
    return { accepted: 1 };
  }
}

/** `designated` nodes holding a 2-of-n grant, plus `spares` other nodes, all in one network. */
async function setup(designated = 3, spares = 2) {
  const net = new FakeNetwork();
  for (let i = 0; i < designated + spares; i++) await net.add();
  const owner = Identity.generate();
  const reader = Identity.generate();
  const grant = makeGrant(
    owner,
    reader,
    net.peers.slice(0, designated).map((p) => p.node.identity.card),
    { m: 2 },
  );
  for (let i = 0; i < designated; i++)
    unwrapReply(await net.peers[i].node.service.storePolicy(grant.request(i)));
  return { net, grant, owner, reader };
}

const components = (net: FakeNetwork, leaving: TestNode, extra: Partial<DecommissionComponents> = {}) => ({
  identity: leaving.identity,
  store: leaving.store,
  transport: net,
  now: () => T + 60,
  ...extra,
});

/** A reencryption by `node` of a fresh capsule under the grant's level key, checked. */
async function cfragOf(node: TestNode, grant: Grant, capsule: ReturnType<typeof encrypt>[0]) {
  node.clock.now = T + 60;
  const reply = unwrapReply(
    await node.service.reencrypt({
      items: [
        {
          id: 1,
          levels: [{ pathHash: grant.pathHash, capsule: capsule.toBytes() }],
          policyId: grant.policy.body.id,
        },
      ],
    }),
  );
  const item = reply.items[0];
  if (!isReencryptResult(item)) throw new Error(`no cfrag: ${JSON.stringify(item)}`);
  return CapsuleFrag.fromBytes(item.cfrag).verify(
    capsule,
    grant.owner.card.signingKey,
    grant.levelPublicKey,
    grant.reader.card.encryptingKey,
  );
}

describe('decommission', () => {
  it('hands the kfrag to a non-designated node, which then re-encrypts; the reader still decrypts', async () => {
    const { net, grant, reader } = await setup();
    const leaving = net.peers[0].node;
    const report = await decommission(components(net, leaving));
    expect(report).toEqual({ handedOver: 1, failed: [] });
    expect(await leaving.store.countPolicies()).toBe(0);
    // Designated nodes are never asked.
    expect(net.handoffs).toHaveLength(1);
    expect(['peer-3', 'peer-4']).toContain(net.handoffs[0]);
    const replacement = net.peers.find((p) => p.info.id === net.handoffs[0])!.node;
    const held = (await replacement.store.getPolicy(grant.policy.body.id))!;
    expect(held.source).toBe('handoff');
    expect(held.handoffCertificates).toHaveLength(1);
    const cert = verifyHandoffCertificate(held.handoffCertificates![0], { now: T + 60 });
    expect(hex(cert.body.from)).toBe(hex(leaving.id));
    expect(hex(cert.body.to)).toBe(hex(replacement.id));

    const [capsule, ct] = encrypt(grant.levelPublicKey, new TextEncoder().encode('still readable'));
    const cfrags = [
      await cfragOf(replacement, grant, capsule),
      await cfragOf(net.peers[1].node, grant, capsule),
    ];
    const pt = decryptReencrypted(reader.encryptingKey, grant.levelPublicKey, capsule, cfrags, ct);
    expect(new TextDecoder().decode(pt)).toBe('still readable');

    // The certificate is published under the leaving node's handoff key.
    expect(net.puts).toHaveLength(1);
    const id = handoffDhtId(grant.digest, grant.kfragIds[0]);
    expect(hex(net.puts[0].key)).toBe(hex(makeDhtKey('handoff', leaving.id, id)));
    const value = decodeDhtValue(net.puts[0].value);
    expect(value.seq).toBe(cert.body.time);
    expect(hex(decodeHandoffCertificate(value.record).bytes)).toBe(hex(cert.bytes));
  });

  it('a second hop extends the chain and skips earlier holders', async () => {
    const { net, grant } = await setup(3, 2);
    const first = net.peers[0].node;
    // Deterministic: the first candidate after the shuffle is peer-3.
    await decommission(components(net, first, { randomInt: () => 0, attempts: 1 }));
    const holder = net.peers.find((p) => p.info.id === net.handoffs[0])!;
    const other = net.peers.find(
      (p) => p.info.id !== holder.info.id && ['peer-3', 'peer-4'].includes(p.info.id),
    )!;
    const report = await decommission(components(net, holder.node));
    expect(report).toEqual({ handedOver: 1, failed: [] });
    // peer-0 (the earlier holder) still answers, but is not a candidate.
    expect(net.handoffs.at(-1)).toBe(other.info.id);
    const held = (await other.node.store.getPolicy(grant.policy.body.id))!;
    expect(held.handoffCertificates).toHaveLength(2);
    expect(await holder.node.store.countPolicies()).toBe(0);
  });

  it('keeps and reports a policy no other node can take', async () => {
    const { net, grant } = await setup(3, 0);
    await net.add({ maxLifetime: 60 }); // cannot hold a policy living 30 days
    await net.add({ peerIdInRecord: 'someone-else' }); // its record names another peer
    const leaving = net.peers[0].node;
    const report = await decommission(components(net, leaving));
    expect(report.handedOver).toBe(0);
    expect(report.failed).toEqual([
      { policyId: hex(grant.policy.body.id), reason: expect.stringMatching(/no replacement/) },
    ]);
    expect(await leaving.store.getPolicy(grant.policy.body.id)).toBeDefined();
    expect(net.handoffs).toEqual([]);
  });

  it('tries another candidate when one refuses or is unreachable', async () => {
    const { net, grant } = await setup(3, 3);
    net.peers[3].onHandoff = async () =>
      HandoffReply.encode({ error: { code: 'CAPACITY', message: 'full' } });
    net.peers[4].onHandoff = async () => {
      throw new UnreachableError('gone');
    };
    // Identity permutation of the candidates [3, 4, 5]: 3 and 4 fail, 5 takes it.
    const report = await decommission(components(net, net.peers[0].node, { randomInt: (max) => max - 1 }));
    expect(report).toEqual({ handedOver: 1, failed: [] });
    expect(net.handoffs).toEqual(['peer-3', 'peer-4', 'peer-5']);
    expect(await net.peers[5].node.store.getPolicy(grant.policy.body.id)).toBeDefined();
  });

  it('keeps the policy, without trying others, when a handoff may have landed (timeout)', async () => {
    const { net, grant } = await setup(3, 2);
    for (const p of net.peers.slice(3)) {
      p.onHandoff = async () => {
        throw new TimeoutError(1000, 'no reply');
      };
    }
    const leaving = net.peers[0].node;
    const report = await decommission(components(net, leaving));
    expect(report.handedOver).toBe(0);
    expect(report.failed[0].reason).toMatch(/no reply/);
    expect(net.handoffs).toHaveLength(1);
    expect(net.puts).toEqual([]);
    expect(await leaving.store.getPolicy(grant.policy.body.id)).toBeDefined();
  });

  it('keeps the policy when the receipt does not verify', async () => {
    const { net, grant } = await setup(3, 1);
    // A receipt from the wrong node: a store receipt of the decommissioning node's own.
    const wrong = (await net.peers[0].node.store.getPolicy(grant.policy.body.id))!.receipt;
    net.peers[3].onHandoff = async () => HandoffReply.encode({ receipt: wrong });
    const report = await decommission(components(net, net.peers[0].node));
    expect(report.handedOver).toBe(0);
    expect(report.failed[0].reason).toMatch(/receipt/);
    expect(await net.peers[0].node.store.getPolicy(grant.policy.body.id)).toBeDefined();
  });

  it('leaves expired policies alone', async () => {
    const { net, grant } = await setup(3, 2);
    const report = await decommission(
      components(net, net.peers[0].node, { now: () => grant.policy.body.expiry }),
    );
    expect(report).toEqual({ handedOver: 0, failed: [] });
    expect(net.handoffs).toEqual([]);
  });
});
