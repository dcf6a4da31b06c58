/**
 * Helpers of the fault tests (issue #6): ask one node directly for a cfrag of one policy, learn
 * a node's id from its signed record, and run a byzantine node in this process (a real
 * NodeService for store-policy / revoke / node-record, a re-encrypt handler that forges cfrags).
 */
import {
  createThreshLibp2p,
  Libp2pTransport,
  type PeerInfo,
  putRecord,
  type ThreshLibp2p,
  threshDhtNamespaces,
} from '@thresh/client';
import { CryptoPool, MemoryStore, NodeService, serveProtocol } from '@thresh/node';
import {
  encodeDhtValue,
  encrypt,
  errorReply,
  errorReplyFromError,
  Identity,
  isReencryptResult,
  type MessageType,
  makeDhtKey,
  makeNodeRecord,
  NodeRecordReply,
  NodeRecordRequest,
  nodeIdOf,
  nodeRecordDhtId,
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  ReencryptReply,
  ReencryptRequest,
  RevokeReply,
  RevokeRequest,
  SecretKey,
  StorePolicyReply,
  StorePolicyRequest,
  unwrapReply,
  verifyNodeRecord,
} from '@thresh/protocol';
import type { NodeProcess } from './processes.js';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Where a running node process is, as the client's PeerInfo. */
export function peerOf(node: NodeProcess): PeerInfo {
  return { id: node.runtime!.peerId, addrs: node.runtime!.multiaddrs };
}

/** The node id (hex) of `peer`, from its signed node record. */
export async function nodeIdOfPeer(t: Libp2pTransport, peer: PeerInfo): Promise<string> {
  const bytes = await t.call(peer, 'nodeRecord', NodeRecordRequest.encode({}), AbortSignal.timeout(5_000));
  const reply = unwrapReply(NodeRecordReply.decode(bytes), peer.id);
  return hex(verifyNodeRecord(reply.nodeRecord).nodeId);
}

/** A valid capsule (of a throwaway key): a node re-encrypts any well-formed capsule. */
export function someCapsule(): Uint8Array {
  return encrypt(SecretKey.random().publicKey(), new Uint8Array([1]))[0].toBytes();
}

/**
 * Asks one node for a cfrag of `policyId` (one item, that level only): 'cfrag', the item's wire
 * error code (REVOKED, NOT_FOUND, ...), or 'error: ...' when there was no usable reply.
 */
export async function askNode(
  t: Libp2pTransport,
  peer: PeerInfo,
  policyId: Uint8Array,
  pathHash: Uint8Array,
): Promise<string> {
  try {
    const bytes = await t.call(
      peer,
      'reencrypt',
      ReencryptRequest.encode({
        items: [{ id: 0, levels: [{ pathHash, capsule: someCapsule() }], policyId }],
      }),
      AbortSignal.timeout(5_000),
    );
    const item = unwrapReply(ReencryptReply.decode(bytes), peer.id).items[0];
    return isReencryptResult(item) ? 'cfrag' : item.error;
  } catch (e) {
    return `error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/**
 * A client transport bootstrapped off `bootstrap` that already sees `min` DHT peers (as the
 * CLI waits for the network before it works); kept in `opened` for the caller to close.
 */
export async function readyTransport(
  bootstrap: string[],
  min: number,
  opened: Libp2pTransport[],
): Promise<Libp2pTransport> {
  const t = await Libp2pTransport.create({ bootstrap });
  opened.push(t);
  const peers = await pollUntil(
    () =>
      t
        .closestNodes(crypto.getRandomValues(new Uint8Array(16)), min + 1, AbortSignal.timeout(5_000))
        .catch(() => []),
    (found) => found.length >= min,
    30_000,
  );
  if (peers.length < min) throw new Error(`the client found ${peers.length} DHT peers, wanted ${min}`);
  return t;
}

/** Polls `f` until `done(value)` or `ms` passed; returns the last value. */
export async function pollUntil<T>(f: () => Promise<T>, done: (v: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (done(v) || Date.now() > deadline) return v;
    await sleep(500);
  }
}

/** How a byzantine node forges its cfrags. */
export type Forgery =
  /** A real cfrag of its own kfrag, but of another capsule: parses, fails verification. */
  | 'other-capsule'
  /** Random bytes of a cfrag's length. */
  | 'random';

/**
 * A byzantine thresh node in this process: a DHT server host on 127.0.0.1, bootstrapped off the
 * cluster, that publishes a valid signed node record, stores policies and receipts them like
 * an honest node (a real NodeService over a MemoryStore), and answers re-encrypt with forgeries.
 */
export class ByzantineNode {
  readonly identity = Identity.generate();
  readonly nodeId = hex(nodeIdOf(this.identity.card));
  host: ThreshLibp2p | undefined;
  #pool = new CryptoPool({ workers: 0 });
  /** Re-encrypt requests answered (with forgeries). */
  forged = 0;

  constructor(readonly forgery: Forgery) {}

  get peer(): PeerInfo {
    return { id: this.host!.peerId.toString(), addrs: this.host!.getMultiaddrs().map(String) };
  }

  async start(bootstrap: string[]): Promise<void> {
    await this.#pool.start();
    const store = new MemoryStore();
    await store.open();
    const host = await createThreshLibp2p({
      privateKey: this.identity.signingKey.toBEBytes(),
      clientMode: false,
      bootstrap,
      dhtNamespaces: threshDhtNamespaces(),
      initialQuerySelfInterval: 0,
    });
    this.host = host;
    const now = Math.floor(Date.now() / 1000);
    const record = makeNodeRecord(this.identity, {
      peer: host.peerId.toString(),
      addrs: host.getMultiaddrs().map(String),
      maxLifetime: 30 * 86_400,
      capacity: 100_000,
      version: '0.1.0',
      seq: 1,
      expiry: now + 86_400,
    });
    const service = new NodeService({
      identity: this.identity,
      store,
      engine: this.#pool,
      limits: { maxPolicyLifetime: 30 * 86_400, capacity: 100_000 },
      nodeRecord: () => record.bytes,
      version: '0.1.0',
    });
    const serve = async <Req, Res>(
      name: 'storePolicy' | 'revoke' | 'nodeRecord' | 'reencrypt',
      reqType: MessageType<Req>,
      resType: MessageType<Res>,
      handler: (req: Req) => Promise<Res>,
    ) => {
      const l = PROTOCOL_LIMITS[name];
      await serveProtocol(
        host,
        PROTOCOL_IDS[name],
        async (bytes) => resType.encode(await handler(reqType.decode(bytes))),
        {
          maxRequestBytes: l.maxRequestBytes,
          timeoutMs: l.timeoutMs,
          maxConcurrentPerPeer: l.maxStreamsPerPeer,
          maxConcurrentTotal: 64,
        },
        {
          onError: (code, message) => resType.encode(errorReply(code, message) as Res),
          mapError: (e) => resType.encode(errorReplyFromError(e) as Res),
        },
      );
    };
    await serve('storePolicy', StorePolicyRequest, StorePolicyReply, (r) => service.storePolicy(r));
    await serve('revoke', RevokeRequest, RevokeReply, (r) => service.revoke(r));
    await serve('nodeRecord', NodeRecordRequest, NodeRecordReply, () => service.nodeRecord());
    await serve('reencrypt', ReencryptRequest, ReencryptReply, async (req) => {
      this.forged++;
      const other = someCapsule();
      const honest = await service.reencrypt(
        this.forgery === 'other-capsule'
          ? {
              items: req.items.map((it) => ({
                ...it,
                levels: it.levels.map((l) => ({ ...l, capsule: other })),
              })),
            }
          : req,
      );
      if (!('items' in honest)) return honest;
      return {
        items: honest.items.map((it) =>
          isReencryptResult(it) && this.forgery === 'random'
            ? { ...it, cfrag: crypto.getRandomValues(new Uint8Array(it.cfrag.length)) }
            : it,
        ),
      };
    });
    // Readers find a node through its record in the DHT: publish it once a peer takes it.
    const value = encodeDhtValue(
      { namespace: 'node', id: nodeRecordDhtId(), seq: 1, record: record.bytes },
      this.identity.signer,
    );
    const key = makeDhtKey('node', nodeIdOf(this.identity.card), nodeRecordDhtId());
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await putRecord(host, key, value, { timeoutMs: 10_000 }).catch(() => undefined);
      if (r && r.accepted.length > 0) return;
      if (Date.now() > deadline) throw new Error('the byzantine node could not publish its record');
      await sleep(500);
    }
  }

  async stop(): Promise<void> {
    await Promise.resolve(this.host?.stop()).catch(() => {});
    await Promise.resolve(this.#pool.stop()).catch(() => {});
  }
}
