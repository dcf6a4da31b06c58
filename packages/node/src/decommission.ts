/**
 * Decommission (DESIGN.md "Nodes": Handoff; issue #6): a node leaving the network for good
 * passes each live kfrag it holds to a replacement node, and deletes its copy only once the
 * replacement has receipted it.
 *
 * Per policy: the DHT peers closest to the policy id answer node-record; a record counts when
 * it verifies, is the answering peer's own, and its node can hold the policy until its expiry.
 * The policy's designated nodes, the earlier holders of this kfrag (the stored handoff
 * certificates) and this node are excluded; the replacement is chosen AT RANDOM among the rest
 * (never by speed, as in node selection). This node signs a handoff certificate, seals the
 * kfrag to the replacement, sends the chain (owner's assignment -> ... -> this node's
 * certificate), verifies the receipt, publishes the certificate in the DHT (best effort, so
 * readers can follow it) and only then deletes the policy. A policy that cannot be handed over
 * is kept and reported, never deleted.
 *
 * The network is injected (a Transport's closestNodes, call and putRecord), so the logic runs
 * in unit tests against NodeService instances without libp2p.
 */
import { randomInt } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { type PeerInfo, type Transport, TransportError } from '@thresh/client';
import {
  decodeHandoffCertificate,
  decodePolicy,
  encodeDhtValue,
  HandoffReply,
  HandoffRequest,
  handoffDhtId,
  type Identity,
  KeyFrag,
  kfragId,
  makeDhtKey,
  makeHandoffCertificate,
  NodeRecordReply,
  NodeRecordRequest,
  nodeCanHold,
  nodeIdOf,
  RemoteError,
  sealKFrag,
  unwrapReply,
  type VerifiedNodeRecord,
  verifyNodeRecord,
  verifyReceipt,
} from '@thresh/protocol';
import { type Logger, silentLogger } from './service.js';
import type { NodeStore, StoredPolicy } from './store/index.js';

export interface DecommissionComponents {
  identity: Identity;
  store: NodeStore;
  /** The network: DHT closest peers, one request/reply, DHT put (e.g. a Libp2pTransport). */
  transport: Pick<Transport, 'closestNodes' | 'call' | 'putRecord'>;
  /** Unix seconds. */
  now?: () => number;
  /** A uniform integer in [0, max). @default node:crypto randomInt */
  randomInt?: (max: number) => number;
  log?: Logger;
  /** DHT peers asked per policy. @default 20 */
  peers?: number;
  /** Deadline of the closest-peers query and of the node-record round, each, in ms. @default 15_000 */
  selectionTimeoutMs?: number;
  /** Deadline of the best-effort DHT publication of a certificate, in ms. @default 15_000 */
  publishTimeoutMs?: number;
  /** Candidates tried per policy when one refuses or cannot be reached. @default 3 */
  attempts?: number;
}

export interface DecommissionReport {
  /** Policies handed over (and deleted here). */
  handedOver: number;
  /** Policies kept, with why (hex policy id). */
  failed: { policyId: string; reason: string }[];
}

interface Candidate {
  peer: PeerInfo;
  record: VerifiedNodeRecord;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Hands over every live policy in the store (see the top of this file). Never throws per policy. */
export async function decommission(c: DecommissionComponents): Promise<DecommissionReport> {
  const now = c.now ?? (() => Math.floor(Date.now() / 1000));
  const log = c.log ?? silentLogger;
  const selfId = nodeIdOf(c.identity.card);
  const report: DecommissionReport = { handedOver: 0, failed: [] };
  // The store must not be written while it is iterated: collect the ids first.
  const ids: Uint8Array[] = [];
  for await (const p of c.store.policies()) if (now() < p.expiry) ids.push(p.policyId);
  // One node-record round trip per peer for the whole run.
  const records = new Map<string, Promise<VerifiedNodeRecord | undefined>>();
  for (const id of ids) {
    const stored = await c.store.getPolicy(id);
    if (!stored || now() >= stored.expiry) continue; // revoked or expired meanwhile: nothing to pass on
    try {
      await handOver(c, stored, selfId, records, now, log);
      report.handedOver++;
    } catch (e) {
      report.failed.push({ policyId: hex(id), reason: message(e) });
      log.warn({ policy: hex(id).slice(0, 12), err: message(e) }, 'could not hand a policy over; kept');
    }
  }
  log.info({ handedOver: report.handedOver, failed: report.failed.length }, 'decommission handoff done');
  return report;
}

async function handOver(
  c: DecommissionComponents,
  stored: StoredPolicy,
  selfId: Uint8Array,
  records: Map<string, Promise<VerifiedNodeRecord | undefined>>,
  now: () => number,
  log: Logger,
): Promise<void> {
  const earlier = (stored.handoffCertificates ?? []).map((b) => decodeHandoffCertificate(b));
  const policyNodes = decodePolicyNodeIds(stored);
  const excluded = new Set<string>([
    hex(selfId),
    ...policyNodes.map(hex),
    ...earlier.flatMap((cert) => [hex(cert.body.from), hex(cert.body.to)]),
  ]);
  const candidates = await selectCandidates(c, stored, excluded, records, now);
  if (candidates.length === 0) throw new Error('no replacement node found that can hold the policy');
  // This node verified the kfrag (owner's signature over it, the reader's key) when it stored
  // it, by store-policy or by handoff; the store keeps only verified kfrags, sealed at rest.
  const kfrag = KeyFrag.fromBytes(stored.kfrag).skipVerification();
  const kid = kfragId(kfrag);
  const attempts = Math.max(1, c.attempts ?? 3);
  let lastError: unknown;
  for (const cand of candidates.slice(0, attempts)) {
    const to = cand.record.nodeId;
    const cert = makeHandoffCertificate(
      c.identity,
      { policyDigest: stored.policyDigest, kfragId: kid, to },
      { now: now() },
    );
    const req = HandoffRequest.encode({
      policy: stored.policy,
      assignment: stored.assignment,
      certificates: [...(stored.handoffCertificates ?? []), cert.bytes],
      sealedKFrag: sealKFrag(kfrag, stored.policyDigest, to, cand.record.card.encryptingKey),
    });
    let replyBytes: Uint8Array;
    try {
      replyBytes = await c.transport.call(cand.peer, 'handoff', req);
      const reply = unwrapReply(HandoffReply.decode(replyBytes), cand.peer.id);
      verifyReceipt(reply.receipt, {
        op: 'handoff',
        nodeId: to,
        policyDigest: stored.policyDigest,
        kfragId: kid,
        now: now(),
      });
    } catch (e) {
      lastError = e;
      // Try another candidate only when this one surely does not hold the kfrag: it refused, or
      // was never reached. Anything else (a timeout after sending, a bad receipt) may have left
      // a copy there; a second holder would fork the chain, so the policy is kept and reported.
      if (!refusedOrUnreached(e)) throw e;
      log.info({ peer: cand.peer.id, err: message(e) }, 'handoff candidate refused; trying another');
      continue;
    }
    await publish(c, cert.bytes, cert.body.time, stored, kid, log);
    await c.store.deletePolicy(stored.policyId, { sync: true });
    log.info({ policy: hex(stored.policyId).slice(0, 12), to: cand.peer.id }, 'handed a policy over');
    return;
  }
  throw new Error(`every candidate failed; last: ${message(lastError)}`);
}

function refusedOrUnreached(e: unknown): boolean {
  if (e instanceof RemoteError) return true;
  return (
    e instanceof TransportError && (e.code === 'ERR_UNREACHABLE' || e.code === 'ERR_UNSUPPORTED_PROTOCOL')
  );
}

/** Usable candidates in random order. */
async function selectCandidates(
  c: DecommissionComponents,
  stored: StoredPolicy,
  excluded: ReadonlySet<string>,
  records: Map<string, Promise<VerifiedNodeRecord | undefined>>,
  now: () => number,
): Promise<Candidate[]> {
  const timeoutMs = c.selectionTimeoutMs ?? 15_000;
  const peers = await c.transport.closestNodes(
    stored.policyId,
    c.peers ?? 20,
    AbortSignal.timeout(timeoutMs),
  );
  const signal = AbortSignal.timeout(timeoutMs);
  setMaxListeners(Math.max(10, 2 * peers.length), signal); // one listener per peer's request
  const answers = await Promise.all(
    peers.map((peer) => {
      let r = records.get(peer.id);
      if (!r) {
        r = fetchRecord(c, peer, signal, now).catch(() => undefined);
        records.set(peer.id, r);
      }
      return r;
    }),
  );
  const seen = new Set<string>();
  const usable: Candidate[] = [];
  answers.forEach((record, i) => {
    if (!record) return;
    const id = hex(record.nodeId);
    if (seen.has(id) || excluded.has(id) || !nodeCanHold(record, stored.expiry, { now: now() })) return;
    seen.add(id);
    usable.push({ peer: peers[i], record });
  });
  // Fisher-Yates: at random, never by speed (DESIGN.md "Grant" step 2).
  const rnd = c.randomInt ?? ((max: number) => randomInt(max));
  for (let i = usable.length - 1; i > 0; i--) {
    const j = rnd(i + 1);
    [usable[i], usable[j]] = [usable[j], usable[i]];
  }
  return usable;
}

/** A peer's own node record, checked: valid now, and of the peer that answered. */
async function fetchRecord(
  c: DecommissionComponents,
  peer: PeerInfo,
  signal: AbortSignal,
  now: () => number,
): Promise<VerifiedNodeRecord> {
  const bytes = await c.transport.call(peer, 'nodeRecord', NodeRecordRequest.encode({}), signal);
  const reply = unwrapReply(NodeRecordReply.decode(bytes), peer.id);
  const record = verifyNodeRecord(reply.nodeRecord, { now: now() });
  if (record.body.peer !== peer.id)
    throw new Error(`the record of ${record.body.peer}, answered by ${peer.id}`);
  return record;
}

/** Best effort: the certificate in the DHT under this node's key, so readers follow the handoff. */
async function publish(
  c: DecommissionComponents,
  cert: Uint8Array,
  time: number,
  stored: StoredPolicy,
  kid: Uint8Array,
  log: Logger,
): Promise<void> {
  try {
    const id = handoffDhtId(stored.policyDigest, kid);
    const value = encodeDhtValue({ namespace: 'handoff', id, seq: time, record: cert }, c.identity.signer);
    const key = makeDhtKey('handoff', nodeIdOf(c.identity.card), id);
    await c.transport.putRecord(key, value, AbortSignal.timeout(c.publishTimeoutMs ?? 15_000));
  } catch (e) {
    log.warn({ err: message(e) }, 'could not publish the handoff certificate in the DHT');
  }
}

/** The policy's designated node ids, from the signed policy this node stored. */
function decodePolicyNodeIds(stored: StoredPolicy): Uint8Array[] {
  return decodePolicy(stored.policy).body.nodes;
}
