/**
 * The client library over the HTTP gateway of one real node (HttpGatewayTransport), against
 * five real node processes: the same story and assertions as client-network.test.ts (libp2p),
 * but every store-policy, re-encrypt and revoke request goes through the /v1/gateway/* routes
 * of a sixth node (node 0). Over the gateway the owner grants only to nodes it names
 * (DESIGN.md "Grant" step 2): the five nodes' peer infos come from their GET /v1/status.
 *
 * Why a sixth node: a gateway cannot yet relay to itself (its relay dials the named node over
 * libp2p, and libp2p refuses to dial its own PeerId: 502 UNREACHABLE), so the gateway node is
 * kept out of the five named ones until the node serves requests for itself locally.
 *
 * Node records: no HTTP route serves a node's signed record yet (see transport-http.ts), so
 * this test fetches them once over libp2p and gives them to the HTTP transports; nothing else
 * in the test speaks libp2p.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClient,
  HttpGatewayTransport,
  Libp2pTransport,
  NotEnoughFragmentsError,
  type PeerInfo,
  type ThreshClient,
} from '@thresh/client';
import {
  collect,
  encryptFile,
  Identity,
  NodeRecordReply,
  NodeRecordRequest,
  unwrapReply,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from './helpers/processes.js';

const cluster = new ProcessCluster();
let stateDir: string;
let gatewayUrl: string;
let peers: PeerInfo[] = [];
let records: Uint8Array[] = [];

const ownerId = Identity.generate();
const readerId = Identity.generate();
const plaintext = new TextEncoder().encode('Q3 numbers, for the team only. '.repeat(1000));

interface Status {
  peers: number;
  peerId: string;
  addresses: string[];
}

async function status(url: string): Promise<Status> {
  return (await (await fetch(`${url}/v1/status`)).json()) as Status;
}

/** The nodes' signed records, fetched once over libp2p (no HTTP route serves them). */
async function fetchRecords(named: PeerInfo[]): Promise<Uint8Array[]> {
  const t = await Libp2pTransport.create({ bootstrap: [cluster.nodes[0].bootstrapAddr] });
  try {
    return await Promise.all(
      named.map(async (p) => {
        const bytes = await t.call(p, 'nodeRecord', NodeRecordRequest.encode({}));
        return unwrapReply(NodeRecordReply.decode(bytes), p.id).nodeRecord;
      }),
    );
  } finally {
    await t.close();
  }
}

function transport(): HttpGatewayTransport {
  return new HttpGatewayTransport({ url: gatewayUrl, nodeRecords: records });
}

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'thresh-client-http-'));
  await cluster.init(6);
  await cluster.startAll();
  await cluster.waitForPeers(4);
  gatewayUrl = cluster.nodes[0].runtime!.http!;
  peers = await Promise.all(
    cluster.nodes.slice(1).map(async (n) => {
      const s = await status(n.runtime!.http!);
      return { id: s.peerId, addrs: s.addresses };
    }),
  );
  records = await fetchRecords(peers);
}, 180_000);

afterAll(async () => {
  await cluster.cleanup();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

describe('client over the HTTP gateway of a node, with five real nodes named', () => {
  const state: { grant?: string; policyId?: string; file?: Uint8Array; owner?: ThreshClient } = {};

  it('the owner grants /team 3-of-5 to the five nodes it names, through the gateway', async () => {
    const owner = createClient({ identity: ownerId, transport: transport(), stateDir });
    const g = await owner.grant({
      path: '/team',
      reader: readerId.card,
      threshold: 3,
      shares: 5,
      ttl: 3600,
      nodes: peers,
    });
    expect(g.receipts).toHaveLength(5);
    expect(new Set(g.nodeIds.map((id) => Buffer.from(id).toString('hex'))).size).toBe(5);
    state.grant = g.grantString;
    state.policyId = g.policyId;
    state.owner = owner;
    state.file = await collect(encryptFile(ownerId, { path: '/team/reports/q3.pdf' }, [plaintext]).stream);
    expect((await owner.policies())[0]).toMatchObject({ policyId: g.policyId, status: 'active' });
  }, 60_000);

  it('the reader decrypts /team/reports/q3.pdf through the gateway with the grant string', async () => {
    const reader = createClient({ identity: readerId, transport: transport() });
    expect(await reader.decrypt(state.file!, { grant: state.grant! })).toEqual(plaintext);
    const metrics = await (await fetch(`${gatewayUrl}/metrics`)).text();
    expect(metrics).toMatch(/thresh_requests_total\{[^}]*protocol="reencrypt"[^}]*transport="gateway"/);
  }, 60_000);

  it('after the owner revokes through the gateway, decrypt fails naming the revocation', async () => {
    const r = await state.owner!.revoke(state.policyId!);
    expect(r.receipts.every((x) => x.ok)).toBe(true);
    expect(r.accessGone).toBe(true);
    const reader = createClient({ identity: readerId, transport: transport() });
    const e = await reader.decrypt(state.file!, { grant: state.grant! }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(NotEnoughFragmentsError);
    expect((e as NotEnoughFragmentsError).reasons).toEqual(Array(5).fill('revoked'));
  }, 60_000);
});
