/**
 * A FAKE transport for the client's unit tests: in-memory nodes, each a real NodeService
 * (@thresh/node) on a MemoryStore with an inline re-encryption engine, and an in-memory DHT
 * that validates values like the real one. Faults are injected per node: down, slow, failing
 * stores, forged cfrags, answers made with another policy's kfrag.
 */
import { MemoryStore, NodeService, type ReencryptEngine } from '@thresh/node';
import {
  Capsule,
  decodeDhtValue,
  encodeDhtValue,
  errorReplyFromError,
  Identity,
  KeyFrag,
  type MessageType,
  makeDhtKey,
  makeNodeRecord,
  NodeRecordReply,
  NodeRecordRequest,
  nodeIdOf,
  nodeRecordDhtId,
  ReencryptReply,
  ReencryptRequest,
  type RequestProtocolName,
  RevokeReply,
  RevokeRequest,
  reencrypt,
  StorePolicyReply,
  StorePolicyRequest,
  validateDhtRecord,
} from '@thresh/protocol';
import { threshRecordVerifier } from '../src/dht-records.js';
import { AbortedError, UnreachableError } from '../src/transport/errors.js';
import type { PeerInfo, Transport } from '../src/transport.js';

export const T = 1_767_225_600; // 2026-01-01T00:00:00Z
export const DAY = 86_400;
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

class InlineEngine implements ReencryptEngine {
  async reencryptBatch(items: { capsule: Uint8Array; kfrag: Uint8Array }[]) {
    return items.map(({ capsule, kfrag }) => ({
      cfrag: reencrypt(Capsule.fromBytes(capsule), KeyFrag.fromBytes(kfrag).skipVerification()).toBytes(),
    }));
  }
}

export interface FakeNode {
  peerId: string;
  identity: Identity;
  service: NodeService;
  store: MemoryStore;
  down: boolean;
  delayMs: number;
  failStore: boolean;
  forge: boolean;
  /** Answers this many more requests BUSY (too many in flight) before serving again. */
  busy?: number;
  /** Answers re-encrypt requests for any policy with this (hex) policy's kfrag. */
  answerWith?: Uint8Array;
  /** With answerWith: says so in the reply (policyId of the other policy) instead of hiding it. */
  admitOther?: boolean;
  calls: { protocol: RequestProtocolName; items?: number }[];
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortedError('aborted', { cause: signal.reason }));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new AbortedError('aborted', { cause: signal.reason }));
      },
      { once: true },
    );
  });
}

export class FakeNetwork implements Transport {
  readonly nodes: FakeNode[] = [];
  readonly dht = new Map<string, Uint8Array>();
  readonly verifier = threshRecordVerifier(() => T);

  async addNode(): Promise<FakeNode> {
    const identity = Identity.generate();
    const store = new MemoryStore();
    await store.open();
    const peerId = `fake-peer-${this.nodes.length}-${hex(nodeIdOf(identity.card)).slice(0, 8)}`;
    const record = makeNodeRecord(identity, {
      peer: peerId,
      addrs: [`/ip4/127.0.0.1/tcp/${4100 + this.nodes.length}`],
      maxLifetime: 365 * DAY,
      capacity: 10_000,
      version: 'test',
      seq: 1,
      expiry: T + 2 * DAY,
    });
    const service = new NodeService({
      identity,
      store,
      engine: new InlineEngine(),
      limits: { maxPolicyLifetime: 365 * DAY, capacity: 10_000 },
      nodeRecord: () => record.bytes,
      version: 'test',
      now: () => T,
    });
    const id = nodeRecordDhtId();
    await this.putRecord(
      makeDhtKey('node', nodeIdOf(identity.card), id),
      encodeDhtValue({ namespace: 'node', id, seq: 1, record: record.bytes }, identity.signer),
    );
    const node: FakeNode = {
      peerId,
      identity,
      service,
      store,
      down: false,
      delayMs: 0,
      failStore: false,
      forge: false,
      calls: [],
    };
    this.nodes.push(node);
    return node;
  }

  async closestNodes(_key: Uint8Array, count: number): Promise<PeerInfo[]> {
    return this.nodes.slice(0, count).map((n) => ({ id: n.peerId, addrs: [] }));
  }

  async call(
    peer: PeerInfo,
    protocol: RequestProtocolName,
    bytes: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    const node = this.nodes.find((n) => n.peerId === peer.id);
    if (!node || node.down) throw new UnreachableError(`cannot dial ${peer.id}`);
    if (node.delayMs > 0) await sleep(node.delayMs, signal);
    if ((node.busy ?? 0) > 0) {
      node.busy! -= 1;
      node.calls.push({ protocol });
      return NodeRecordReply.encode({
        error: { code: 'BUSY', message: 'too many requests in flight' },
      } as never);
    }
    const serve = async <Req, Res>(
      reqType: MessageType<Req>,
      resType: MessageType<Res>,
      handler: (r: Req) => Promise<Res>,
    ) => {
      try {
        return resType.encode(await handler(reqType.decode(bytes)));
      } catch (e) {
        return resType.encode(errorReplyFromError(e) as Res);
      }
    };
    switch (protocol) {
      case 'storePolicy':
        node.calls.push({ protocol });
        return serve(StorePolicyRequest, StorePolicyReply, async (r) => {
          if (node.failStore) throw new Error('disk full');
          return node.service.storePolicy(r);
        });
      case 'revoke':
        node.calls.push({ protocol });
        return serve(RevokeRequest, RevokeReply, (r) => node.service.revoke(r));
      case 'nodeRecord':
        node.calls.push({ protocol });
        return serve(NodeRecordRequest, NodeRecordReply, () => node.service.nodeRecord());
      case 'reencrypt':
        return serve(ReencryptRequest, ReencryptReply, async (r) => {
          node.calls.push({ protocol, items: r.items.length });
          const asked = r.items.map((i) => i.policyId);
          const other = node.answerWith;
          const req = other ? { items: r.items.map((i) => ({ ...i, policyId: other })) } : r;
          const reply = await node.service.reencrypt(req);
          if ('error' in reply && reply.error) return reply;
          return {
            items: reply.items.map((item, i) => {
              if (!('cfrag' in item) || !item.cfrag) return item;
              const cfrag = item.cfrag.slice();
              if (node.forge) cfrag[cfrag.length - 1] ^= 1;
              const claimed = other && !node.admitOther ? asked[i]! : item.policyId;
              return { ...item, cfrag, policyId: claimed };
            }),
          };
        });
      default:
        throw new UnreachableError(`unsupported ${protocol}`);
    }
  }

  async putRecord(key: Uint8Array, value: Uint8Array): Promise<{ accepted: number }> {
    validateDhtRecord(key, value, this.verifier);
    const k = hex(key);
    const prior = this.dht.get(k);
    if (prior && decodeDhtValue(prior).seq > decodeDhtValue(value).seq) return { accepted: 0 };
    this.dht.set(k, value);
    return { accepted: 1 };
  }

  async getRecord(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.dht.get(hex(key));
  }
}
