/**
 * HttpGatewayTransport against a real node HTTP API in-process (createHttpApi from
 * @thresh/node, listening on 127.0.0.1:0) whose gateway relay hands each request to in-memory
 * nodes (real NodeServices on MemoryStores): the owner grants to nodes it names, the reader
 * decrypts with the grant string, the owner revokes, all through the gateway's JSON routes.
 * Error mapping is checked with an injected fetch.
 */
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { createHttpApi, type HttpApi, type HttpMetrics, MemoryStore, NodeService } from '@thresh/node';
import {
  Capsule,
  collect,
  encryptFile,
  errorReplyFromError,
  Identity,
  KeyFrag,
  type MessageType,
  makeNodeRecord,
  NodeRecordReply,
  PROTOCOL_IDS,
  type ProtocolId,
  ReencryptReply,
  ReencryptRequest,
  RemoteError,
  RevokeReply,
  RevokeRequest,
  reencrypt,
  StorePolicyReply,
  StorePolicyRequest,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ThreshClient } from '../src/client.js';
import { NoNodesError, NotEnoughFragmentsError } from '../src/errors.js';
import {
  AbortedError,
  DhtError,
  TimeoutError,
  UnreachableError,
  UnsupportedProtocolError,
} from '../src/transport/errors.js';
import type { PeerInfo } from '../src/transport.js';
import { HttpGatewayTransport } from '../src/transport-http.js';

const T = 1_767_225_600; // 2026-01-01T00:00:00Z
const DAY = 86_400;
const now = () => T;

interface MemNode {
  peer: PeerInfo;
  service: NodeService;
  record: Uint8Array;
  down: boolean;
}

const nodes: MemNode[] = [];
let api: HttpApi;
let url: string;

async function addNode(i: number): Promise<MemNode> {
  const identity = Identity.generate();
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString();
  const store = new MemoryStore();
  await store.open();
  const record = makeNodeRecord(identity, {
    peer: peerId,
    addrs: [`/ip4/127.0.0.1/tcp/${4200 + i}`],
    maxLifetime: 365 * DAY,
    capacity: 10_000,
    version: 'test',
    seq: 1,
    expiry: T + 2 * DAY,
  });
  const service = new NodeService({
    identity,
    store,
    engine: {
      async reencryptBatch(items: { capsule: Uint8Array; kfrag: Uint8Array }[]) {
        return items.map(({ capsule, kfrag }) => ({
          cfrag: reencrypt(Capsule.fromBytes(capsule), KeyFrag.fromBytes(kfrag).skipVerification()).toBytes(),
        }));
      },
    },
    limits: { maxPolicyLifetime: 365 * DAY, capacity: 10_000 },
    nodeRecord: () => record.bytes,
    version: 'test',
    now,
  });
  return {
    peer: { id: peerId, addrs: [`/ip4/127.0.0.1/tcp/${4200 + i}`] },
    service,
    record: record.bytes,
    down: false,
  };
}

/** The gateway's relay: the named node's service, as its libp2p handler would answer. */
async function relay(addrs: string[], protocol: ProtocolId, bytes: Uint8Array): Promise<Uint8Array> {
  const id = addrs[0].split('/p2p/')[1];
  const node = nodes.find((n) => n.peer.id === id);
  if (!node || node.down) throw new UnreachableError(`cannot dial ${id}`);
  const serve = async <Req, Res>(
    req: MessageType<Req>,
    res: MessageType<Res>,
    h: (r: Req) => Promise<Res>,
  ) => {
    try {
      return res.encode(await h(req.decode(bytes)));
    } catch (e) {
      return res.encode(errorReplyFromError(e) as Res);
    }
  };
  if (protocol === PROTOCOL_IDS.storePolicy)
    return serve(StorePolicyRequest, StorePolicyReply, (r) => node.service.storePolicy(r));
  if (protocol === PROTOCOL_IDS.revoke)
    return serve(RevokeRequest, RevokeReply, (r) => node.service.revoke(r));
  if (protocol === PROTOCOL_IDS.reencrypt)
    return serve(ReencryptRequest, ReencryptReply, (r) => node.service.reencrypt(r));
  throw new UnreachableError(`unsupported ${protocol}`);
}

const metrics = {
  observe() {},
  recordReencrypt() {},
  metrics: async () => '',
  contentType: 'text/plain',
} as unknown as HttpMetrics;

beforeAll(async () => {
  for (let i = 0; i < 5; i++) nodes.push(await addNode(i));
  api = createHttpApi({
    service: { reencrypt: async () => ({ items: [] }), status: async () => ({ policies: 0 }) },
    metrics,
    adminToken: 'a'.repeat(32),
    host: '127.0.0.1',
    port: 0,
    gateway: { enabled: true, relay },
  });
  url = (await api.start()).url;
});

afterAll(async () => {
  await api?.stop();
});

const ownerId = Identity.generate();
const readerId = Identity.generate();
const plaintext = new TextEncoder().encode('Q3 numbers, for the team only. '.repeat(200));

function gateway(records = nodes.map((n) => n.record)): HttpGatewayTransport {
  return new HttpGatewayTransport({ url, nodeRecords: records, now });
}

describe('HttpGatewayTransport over an in-process gateway', () => {
  const state: { grant?: string; policyId?: string; file?: Uint8Array; owner?: ThreshClient } = {};

  it('the owner grants /team 3-of-5 to the nodes it names, through the gateway', async () => {
    const owner = createClient({ identity: ownerId, transport: gateway(), now });
    const g = await owner.grant({
      path: '/team',
      reader: readerId.card,
      threshold: 3,
      shares: 5,
      ttl: 30 * DAY,
      nodes: nodes.map((n) => n.peer),
    });
    expect(g.receipts).toHaveLength(5);
    expect(g.abandoned).toEqual([]);
    expect(new Set(g.nodeIds.map((id) => Buffer.from(id).toString('hex'))).size).toBe(5);
    state.grant = g.grantString;
    state.policyId = g.policyId;
    state.file = await collect(encryptFile(ownerId, { path: '/team/q3.pdf', now: T }, [plaintext]).stream);
    // the owner's state keeps the revocation targets
    const [entry] = await owner.policies();
    expect(entry).toMatchObject({ policyId: g.policyId, status: 'active' });
    state.owner = owner;
  });

  it('a fresh reader decrypts with the grant string (its transport knows only the records)', async () => {
    const reader = createClient({ identity: readerId, transport: gateway(), now });
    expect(await reader.decrypt(state.file!, { grant: state.grant! })).toEqual(plaintext);
  });

  it('with 3 of 5 nodes down, decrypt names them unreachable', async () => {
    for (const n of nodes.slice(0, 3)) n.down = true;
    try {
      const reader = createClient({ identity: readerId, transport: gateway(), now, staggerMs: 0 });
      const e = await reader.decrypt(state.file!, { grant: state.grant! }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(NotEnoughFragmentsError);
      const reasons = (e as NotEnoughFragmentsError).reasons;
      expect(reasons.filter((r) => r === 'unreachable')).toHaveLength(3);
    } finally {
      for (const n of nodes) n.down = false;
    }
  });

  it('the owner revokes through the gateway; the reader then gets revoked from every node', async () => {
    const r = await state.owner!.revoke(state.policyId!);
    expect(r.receipts.every((x) => x.ok)).toBe(true);
    expect(r.accessGone).toBe(true);
    expect(r.published).toBe(false); // no DHT over the gateway
    const reader = createClient({ identity: readerId, transport: gateway(), now });
    const e = await reader.decrypt(state.file!, { grant: state.grant! }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    expect((e as NotEnoughFragmentsError).reasons).toEqual(Array(5).fill('revoked'));
  });

  it('without node records a grant finds no usable node, and there is no DHT', async () => {
    const t = gateway([]);
    const owner = createClient({ identity: ownerId, transport: t, now });
    await expect(
      owner.grant({
        path: '/team',
        reader: readerId.card,
        threshold: 1,
        shares: 1,
        ttl: DAY,
        nodes: [nodes[0].peer],
      }),
    ).rejects.toBeInstanceOf(NoNodesError);
    await expect(t.closestNodes(new Uint8Array(16), 5)).rejects.toBeInstanceOf(DhtError);
    await expect(t.getRecord(new Uint8Array(32))).rejects.toBeInstanceOf(DhtError);
    await expect(t.putRecord(new Uint8Array(32), new Uint8Array(1))).rejects.toBeInstanceOf(DhtError);
    await expect(t.call(nodes[0].peer, 'nodeRecord', new Uint8Array(0))).rejects.toBeInstanceOf(
      UnsupportedProtocolError,
    );
  });

  it('answers node-record calls from the records it was given', async () => {
    const t = gateway();
    expect(t.knownNodes().map((p) => p.id)).toEqual(nodes.map((n) => n.peer.id));
    const reply = NodeRecordReply.decode(await t.call(nodes[1].peer, 'nodeRecord', new Uint8Array(0)));
    expect('nodeRecord' in reply && reply.nodeRecord).toEqual(nodes[1].record);
    await expect(t.call(nodes[1].peer, 'handoff', new Uint8Array(0))).rejects.toBeInstanceOf(
      UnsupportedProtocolError,
    );
  });

  it('a malformed request is the gateway MALFORMED, as a RemoteError', async () => {
    const e = await gateway()
      .call(nodes[0].peer, 'storePolicy', new Uint8Array([1, 2, 3]))
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).remoteCode).toBe('MALFORMED');
  });
});

describe('HttpGatewayTransport error mapping (injected fetch)', () => {
  const peer: PeerInfo = { id: 'x', addrs: ['/ip4/127.0.0.1/tcp/1/p2p/x'] };
  const answering =
    (status: number, body: unknown): typeof fetch =>
    async () =>
      new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const t = (f: typeof fetch) => new HttpGatewayTransport({ url: 'http://gw.example:1', fetch: f });
  const err = (code: string) => ({ error: { code, message: 'm' } });

  it.each([
    [502, err('UNREACHABLE'), UnreachableError],
    [503, err('BUSY'), UnreachableError],
    [504, err('TIMEOUT'), TimeoutError],
    [404, err('NOT_FOUND'), UnsupportedProtocolError],
    [403, err('FORBIDDEN'), UnsupportedProtocolError],
    [400, err('MALFORMED'), RemoteError],
    [502, { nonsense: true }, UnreachableError],
  ])('HTTP %i %j -> %o', async (status, body, cls) => {
    await expect(t(answering(status, body)).call(peer, 'revoke', new Uint8Array(1))).rejects.toBeInstanceOf(
      cls,
    );
  });

  it('a per-node retrieve error keeps its kind', async () => {
    const f = answering(200, { results: [{ node: peer.addrs[0], ...err('TIMEOUT') }] });
    await expect(t(f).call(peer, 'reencrypt', new Uint8Array(1))).rejects.toBeInstanceOf(TimeoutError);
  });

  it('sends the node and the base64 request, and unwraps the one result', async () => {
    let sent: { url: string; body: unknown } | undefined;
    const f: typeof fetch = async (input, init) => {
      sent = { url: String(input), body: JSON.parse(String(init?.body)) };
      return new Response(JSON.stringify({ results: [{ node: peer.addrs[0], reply: 'AQID' }] }));
    };
    const reply = await t(f).call(
      { id: 'x', addrs: ['/ip4/127.0.0.1/tcp/1'] },
      'reencrypt',
      new Uint8Array([9]),
    );
    expect(reply).toEqual(new Uint8Array([1, 2, 3]));
    expect(sent).toEqual({
      url: 'http://gw.example:1/v1/gateway/retrieve',
      body: { nodes: ['/ip4/127.0.0.1/tcp/1/p2p/x'], request: 'CQ==' },
    });
  });

  it('a failed fetch is unreachable; the caller aborting is AbortedError', async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError('fetch failed');
    };
    await expect(t(failing).call(peer, 'revoke', new Uint8Array(1))).rejects.toBeInstanceOf(UnreachableError);
    const ac = new AbortController();
    ac.abort();
    await expect(t(failing).call(peer, 'revoke', new Uint8Array(1), ac.signal)).rejects.toBeInstanceOf(
      AbortedError,
    );
    await expect(
      t(failing).call(peer, 'revoke', new Uint8Array(1), AbortSignal.timeout(0)),
    ).rejects.toBeDefined();
  });

  it('loadGatewayRecord takes the record from /v1/status when the node serves it there', async () => {
    const rec = nodes[2].record;
    const withRecord = answering(200, { peers: 1, nodeRecord: Buffer.from(rec).toString('base64') });
    const t1 = new HttpGatewayTransport({ url: 'http://gw.example:1', fetch: withRecord, now });
    expect(await t1.loadGatewayRecord()).toEqual(nodes[2].peer);
    expect(t1.knownNodes()).toEqual([nodes[2].peer]);
    const t2 = new HttpGatewayTransport({ url: 'http://gw.example:1', fetch: answering(200, { peers: 1 }) });
    expect(await t2.loadGatewayRecord()).toBeUndefined();
  });

  it('a peer without addresses is unreachable', async () => {
    await expect(
      t(answering(200, {})).call({ id: 'x', addrs: [] }, 'revoke', new Uint8Array(1)),
    ).rejects.toBeInstanceOf(UnreachableError);
  });
});
