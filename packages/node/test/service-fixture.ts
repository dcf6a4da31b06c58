/**
 * Fixtures for the NodeService handler tests (service.test.ts): nodes made of an identity, a
 * MemoryStore, a settable clock and an inline re-encryption engine; owner grants built with
 * the real protocol records (policy, assignments, sealed kfrags) on real path keys and path
 * hashes, so that the cfrags the nodes return open real files.
 */
import {
  type AssignmentBody,
  Capsule,
  errorReplyFromError,
  generateKFrags,
  type HandoffRequest,
  Identity,
  KeyFrag,
  kfragId,
  kfragPrecursor,
  makeAssignments,
  makeHandoffCertificate,
  makeNodeRecord,
  makePolicy,
  makeRevocation,
  nodeIdOf,
  type PathHashSecret,
  type PolicyBody,
  type PublicKey,
  pathHashSecret,
  pathKey,
  reencrypt,
  type SecretKey,
  type Signed,
  type StorePolicyRequest,
  sealKFrag,
  type VerifiedKeyFrag,
} from '@thresh/protocol';
import { NodeService, type ReencryptEngine, type ServiceComponents } from '../src/service.js';
import { MemoryStore } from '../src/store/index.js';

/** 2026-01-01T00:00:00Z: every test's "now" unless it moves the clock. */
export const T = 1_767_225_600;
export const DAY = 86_400;
export const VERSION = 'thresh-node/0.1.0-test';

// ---------------------------------------------------------------------------------- engine

/** The crypto pool's contract, inline: parse, re-encrypt, per-item errors. Counts its calls. */
export class InlineEngine implements ReencryptEngine {
  calls = 0;
  items = 0;

  async reencryptBatch(
    items: { capsule: Uint8Array; kfrag: Uint8Array }[],
  ): Promise<Array<{ cfrag: Uint8Array } | { error: 'BAD_CAPSULE' | 'BAD_KFRAG' | 'INTERNAL' }>> {
    this.calls++;
    this.items += items.length;
    return items.map(({ capsule, kfrag }) => {
      let c: Capsule;
      try {
        c = Capsule.fromBytes(capsule);
      } catch {
        return { error: 'BAD_CAPSULE' as const };
      }
      let k: VerifiedKeyFrag;
      try {
        k = KeyFrag.fromBytes(kfrag).skipVerification();
      } catch {
        return { error: 'BAD_KFRAG' as const };
      }
      return { cfrag: reencrypt(c, k).toBytes() };
    });
  }
}

// ---------------------------------------------------------------------------------- nodes

export interface TestNode {
  identity: Identity;
  id: Uint8Array;
  store: MemoryStore;
  engine: InlineEngine;
  clock: { now: number };
  service: NodeService;
  nodeRecord: Uint8Array;
  /** What the service handed to onRevoked (revocations to publish). */
  published: { key: Uint8Array; value: Uint8Array }[];
}

export interface NodeOptions {
  identity?: Identity;
  maxPolicyLifetime?: number;
  capacity?: number;
  peers?: number;
  engine?: ReencryptEngine;
  now?: number;
}

export async function makeNode(opts: NodeOptions = {}): Promise<TestNode> {
  const identity = opts.identity ?? Identity.generate();
  const store = new MemoryStore();
  await store.open();
  const engine = new InlineEngine();
  const clock = { now: opts.now ?? T };
  const maxPolicyLifetime = opts.maxPolicyLifetime ?? 365 * DAY;
  const capacity = opts.capacity ?? 10_000;
  const nodeRecord = makeNodeRecord(identity, {
    peer: '16Uiu2HAmTestPeerIdForTheServiceTests',
    addrs: ['/ip4/127.0.0.1/tcp/4100'],
    maxLifetime: maxPolicyLifetime,
    capacity,
    version: VERSION,
    seq: 1,
    expiry: T + 2 * DAY,
  }).bytes;
  const components: ServiceComponents = {
    identity,
    store,
    engine: opts.engine ?? engine,
    limits: { maxPolicyLifetime, capacity },
    nodeRecord: () => nodeRecord,
    version: VERSION,
    now: () => clock.now,
    onRevoked: (p) => published.push(p),
  };
  const published: { key: Uint8Array; value: Uint8Array }[] = [];
  if (opts.peers !== undefined) {
    const peers = opts.peers;
    components.peers = () => peers;
  }
  const service = new NodeService(components);
  return { identity, id: nodeIdOf(identity.card), store, engine, clock, service, nodeRecord, published };
}

// ---------------------------------------------------------------------------------- grants

export interface GrantOptions {
  /** The granted level (a canonical prefix). Default '/team'. */
  prefix?: string;
  epoch?: number;
  m?: number;
  n?: number;
  /** Default T + 30 days. */
  expiry?: number;
  notBefore?: number;
  /** When the owner signs. Default T. */
  now?: number;
}

export interface Grant {
  owner: Identity;
  reader: Identity;
  /** The designated nodes, in the policy's order. */
  nodeIds: Uint8Array[];
  nodeCards: Identity['card'][];
  prefix: string;
  epoch: number;
  levelKey: SecretKey;
  levelPublicKey: PublicKey;
  pathHash: Uint8Array;
  kfrags: VerifiedKeyFrag[];
  kfragIds: Uint8Array[];
  policy: Signed<PolicyBody>;
  digest: Uint8Array;
  assignments: Signed<AssignmentBody>[];
  /** kfrags[i] sealed to node i. */
  sealed: Uint8Array[];
  /** The store-policy request of node i. */
  request(i: number): StorePolicyRequest;
}

/** The owner-reader path hash secret, as the owner computes it. */
export function ownerSecret(owner: Identity, reader: Identity): PathHashSecret {
  return pathHashSecret(owner.encryptingKey, owner.card.encryptingKey, reader.card.encryptingKey);
}

/** The same secret as the reader computes it. */
export function readerSecret(owner: Identity, reader: Identity): PathHashSecret {
  return pathHashSecret(reader.encryptingKey, owner.card.encryptingKey, reader.card.encryptingKey);
}

/**
 * An m-of-n grant by `owner` to `reader` of one level, on the owner's real path key of that
 * level and epoch, to the nodes `nodes` (cards, in order).
 */
export function makeGrant(
  owner: Identity,
  reader: Identity,
  nodes: readonly Identity['card'][],
  opts: GrantOptions = {},
): Grant {
  const prefix = opts.prefix ?? '/team';
  const epoch = opts.epoch ?? 0;
  const n = opts.n ?? nodes.length;
  const m = opts.m ?? Math.min(3, n);
  const nodeCards = nodes.slice(0, n);
  const nodeIds = nodeCards.map((c) => nodeIdOf(c));
  const levelKey = pathKey(owner, prefix, epoch);
  const kfrags = generateKFrags(levelKey, reader.card.encryptingKey, owner.signer, m, n, false, true);
  const pathHash = ownerSecret(owner, reader).hash(prefix, epoch);
  const policy = makePolicy(
    owner,
    {
      reader: reader.card,
      pathHash,
      epoch,
      threshold: m,
      shares: n,
      notBefore: opts.notBefore,
      expiry: opts.expiry ?? T + 30 * DAY,
      precursor: kfragPrecursor(kfrags[0]),
      nodeIds,
    },
    { now: opts.now ?? T },
  );
  const digest = policy.digest();
  const assignments = makeAssignments(owner, policy, kfrags);
  const sealed = kfrags.map((k, i) => sealKFrag(k, digest, nodeIds[i], nodeCards[i].encryptingKey));
  return {
    owner,
    reader,
    nodeIds,
    nodeCards,
    prefix,
    epoch,
    levelKey,
    levelPublicKey: levelKey.publicKey(),
    pathHash,
    kfrags,
    kfragIds: kfrags.map((k) => kfragId(k)),
    policy,
    digest,
    assignments,
    sealed,
    request: (i) => ({
      policy: policy.bytes,
      assignment: assignments[i].bytes,
      sealedKFrag: sealed[i],
    }),
  };
}

/** A revocation of `grant`'s policy by its owner (or by `signer`, who then claims to own it). */
export function revocationOf(grant: Grant, signer: Identity = grant.owner, now = T): Uint8Array {
  return makeRevocation(signer, { id: grant.policy.body.id, expiry: grant.policy.body.expiry }, { now })
    .bytes;
}

/**
 * The handoff of kfrag `index` of `grant` from `from` (which holds it in its store) to `to`:
 * certificate signed by `from`, the kfrag taken from `from`'s store and sealed to `to`.
 */
export async function handoffRequest(
  grant: Grant,
  index: number,
  from: TestNode,
  to: { identity: Identity },
  now = T,
): Promise<HandoffRequest> {
  const held = await from.store.getPolicy(grant.policy.body.id);
  if (!held) throw new Error('the old node does not hold the policy');
  const kfrag = KeyFrag.fromBytes(held.kfrag).skipVerification();
  const toId = nodeIdOf(to.identity.card);
  const certificate = makeHandoffCertificate(
    from.identity,
    { policyDigest: grant.digest, kfragId: kfragId(kfrag), to: toId },
    { now },
  );
  return {
    policy: grant.policy.bytes,
    assignment: grant.assignments[index].bytes,
    certificates: [certificate.bytes],
    sealedKFrag: sealKFrag(kfrag, grant.digest, toId, to.identity.encryptingKey.publicKey()),
  };
}

// ---------------------------------------------------------------------------------- errors

/** Awaits `p`, expecting a rejection; returns the error. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`non-Error rejection: ${String(e)}`);
    return e;
  }
  throw new Error('expected a rejection, got a result');
}

/** The wire code the transport would send for `e`. */
export function wireCode(e: unknown): string {
  return errorReplyFromError(e).error.code;
}

/** Flips one bit of a copy of `bytes` at `index` (negative: from the end). */
export function flip(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice();
  const i = index < 0 ? out.length + index : index;
  out[i] ^= 0x01;
  return out;
}

/** Lower-case hex, for comparing bytes whatever their class (Buffer, Uint8Array). */
export const hex = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** `n` random bytes (Node's CSPRNG). */
export function randomBytes(n: number): Uint8Array {
  return new Uint8Array(globalThis.crypto.getRandomValues(new Uint8Array(n)));
}
