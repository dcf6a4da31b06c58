/**
 * The client library's owner and reader operations (DESIGN.md "Grant", "Decrypt", "Revoke"):
 * `createClient({ identity, transport })` gives grant / policies / revoke for an owner and
 * decrypt / decryptStream / decryptMany for a reader. Everything network goes through the
 * small Transport interface (transport.ts); everything cryptographic is @thresh/protocol's.
 *
 * @example
 * ```ts
 * import '@thresh/protocol/polyfill';
 * const transport = await Libp2pTransport.create({ bootstrap: ['/ip4/127.0.0.1/tcp/7000/p2p/16Uiu2...'] });
 * const owner = createClient({ identity: ownerIdentity, transport, stateDir: '~/.thresh' });
 * const { grantString } = await owner.grant({ path: '/team', reader: readerCard, threshold: 3, shares: 5, ttl: 86400 });
 * const reader = createClient({ identity: readerIdentity, transport });
 * const plaintext = await reader.decrypt(fileBytes, { grant: grantString });
 * ```
 */
import {
  type ByteSource,
  bytesEqual,
  Capsule,
  CapsuleFrag,
  Card,
  canonicalPath,
  checkReencryptReply,
  collect,
  DecodeError,
  decodeDhtValue,
  decodeHandoffCertificate,
  decryptFileBody,
  type EncryptedFile,
  type EncryptOptions,
  type ErrorReply,
  encodeDhtValue,
  encodeGrant,
  encryptFile,
  encryptFileAsWriter,
  generateKFrags,
  type HandoffChain,
  handoffDhtId,
  type Identity,
  InvalidArgumentError,
  type IssueDirKeyOptions,
  isAncestorOrSelf,
  isReencryptResult,
  issueDirKey,
  kfragId,
  kfragPrecursor,
  levelIndex,
  MAX_HANDOFF_CHAIN,
  makeAssignments,
  makeDhtKey,
  makePolicy,
  makePolicyMap,
  makeRevocation,
  NodeRecordReply,
  NodeRecordRequest,
  nodeCanHold,
  nodeRecordDhtId,
  type OpenedHeader,
  openGrant,
  type PolicyBody,
  pathDepth,
  pathHashSecret,
  pathKey,
  pathPrefixes,
  policyMapDhtId,
  REENCRYPT_MAX_ITEMS,
  ReencryptReply,
  type ReencryptReplyItem,
  ReencryptRequest,
  RemoteError,
  RevokeReply,
  RevokeRequest,
  type Rng,
  readFileHeader,
  revocationDhtId,
  type Signed,
  StorePolicyReply,
  StorePolicyRequest,
  sealKFrag,
  sealPolicyMap,
  unwrapDekAsOwner,
  unwrapDekWithCfrags,
  unwrapReply,
  type VerifiedCapsuleFrag,
  type VerifiedDirKey,
  type VerifiedNodeRecord,
  type VerifiedPolicyMap,
  type VerifiedReceipt,
  verifyDirKey,
  verifyHandoffChain,
  verifyNodeRecord,
  verifyReceipt,
} from '@thresh/protocol';
import {
  GrantFailedError,
  type NodeFailure,
  type NodeFailureReason,
  NoNodesError,
  NoTransportError,
  NotEnoughFragmentsError,
  NotGrantedError,
  UnknownPolicyError,
} from './errors.js';
import {
  fromHexString,
  type PolicyEntry,
  PolicyState,
  type RegrantEntry,
  type RotationEntry,
  type StateData,
  toB64,
  toHexString,
} from './state.js';
import type { PeerInfo, Transport } from './transport.js';
import {
  anySignal,
  deadlineReason,
  randomInt,
  reasonOf,
  reasonOfWireCode,
  shuffle,
  throwIfAborted,
} from './util.js';

export type ClientLogLevel = 'debug' | 'info' | 'warn';
export type ClientLog = (level: ClientLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface ClientOptions {
  identity: Identity;
  /**
   * The network. Optional for an owner's offline work (encrypt, issueDirKey, openAsOwner,
   * policies, epochs); every network call then throws NoTransportError.
   */
  transport?: Transport;
  /** Where the owner keeps policies.json. Without it, the owner's state lives in memory. */
  stateDir?: string;
  /** Unix seconds. @default the system clock */
  now?: () => number;
  log?: ClientLog;
  /** Randomness for node choice (tests pin it). @default the platform CSPRNG */
  rng?: Rng;
  /** Delay before the reader asks the rest of the nodes (DESIGN.md "Decrypt"). @default 150 */
  staggerMs?: number;
  /** Deadline of one re-encrypt request in ms. @default 10_000 */
  requestTimeoutMs?: number;
  /** Deadline of one node-record fetch during node selection in ms. @default 5_000 */
  selectionTimeoutMs?: number;
  /** Deadline of one store-policy or revoke request in ms. @default 10_000 */
  storeTimeoutMs?: number;
  /** Grant attempts before GrantFailedError (each failed one abandoned and revoked). @default 3 */
  maxGrantAttempts?: number;
  /** Peers asked for node records during selection: max(this, 2n). @default 20 */
  selectionPeers?: number;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface GrantOptions extends CallOptions {
  /** The granted level: a directory or a file (canonicalized). */
  path: string;
  reader: Card;
  threshold: number;
  shares: number;
  /** Unix seconds; or give `ttl`. */
  expiresAt?: number;
  /** Seconds from now; or give `expiresAt`. */
  ttl?: number;
  /** The level's epoch. @default the level's current epoch in the owner's state (0 until rotated) */
  epoch?: number;
  /** Pin nodes instead of DHT selection: n of them are chosen at random. */
  nodes?: PeerInfo[];
  /**
   * Whether grant() waits for the policy map's DHT publication before it resolves. By default
   * it resolves once every node has receipted and the owner's state is saved (the grant string
   * works from then on) and the publication goes on: `GrantResult.published` settles when it is
   * done, and `client.flush()` waits for every publication still running. @default false
   */
  awaitPublication?: boolean;
}

/** How the DHT publication of a policy map went (best effort: the grant string always works). */
export interface PublicationResult {
  /** DHT peers that stored the map; 0 when the put failed (`error` says why). */
  accepted: number;
  error?: string;
}

export interface GrantResult {
  policy: Signed<PolicyBody>;
  /** Hex. */
  policyId: string;
  nodeIds: Uint8Array[];
  grantString: string;
  receipts: VerifiedReceipt[];
  /** Ids (hex) of attempts abandoned (and revoked) before this one. */
  abandoned: string[];
  /**
   * The policy map's DHT publication, which readers without the grant string look up. Settles
   * (never rejects) when the put is done; already settled if `awaitPublication` was set.
   */
  published: Promise<PublicationResult>;
}

export type RevokeNodeResult =
  | { nodeId: string; peer: string; ok: true; receipt: VerifiedReceipt }
  | { nodeId: string; peer: string; ok: false; reason: NodeFailureReason; error: unknown };

/** What to revoke: a policy id (hex or bytes), or every live policy of a reader on a level. */
export type RevokeTarget = string | Uint8Array | { path: string; reader: Card };

export interface RevokeResult {
  /** The policies revoked (hex): the one named, or the reader's live ones on the level. */
  policyIds: string[];
  /** One per node of each policy. */
  receipts: RevokeNodeResult[];
  /** At least n - m + 1 nodes receipted: no m honest nodes are left to re-encrypt. */
  accessGone: boolean;
  /** Whether the revocation was stored by at least one DHT peer. */
  published: boolean;
}

export interface DecryptOptions extends CallOptions {
  /**
   * The grant string the owner gave. Files of the same level written at another epoch (after a
   * rotation) use the owner's grant for that epoch, found in the DHT. Without a grant, the
   * grant is looked up in the DHT by the file's owner, path and epochs.
   */
  grant?: string;
}

export interface RevokeOptions extends CallOptions {
  /**
   * Also rotate the level (DESIGN.md "Revoke, expiry, rotation"): cut the reader off the
   * directory (their other live policies on the same level, earlier re-grants, are revoked
   * too), bump the level's epoch for new files and re-grant every other reader. @default false
   */
  rotate?: boolean;
}

export interface RotateOptions extends CallOptions {
  /** Readers not to re-grant. */
  exclude?: readonly Card[];
}

export interface RegrantResult {
  /** Reader card, printed form. */
  reader: string;
  /** The reader's live policy at the old epoch (it stays live: old files keep opening). */
  fromPolicy: string;
  /** The new policy at the new epoch. */
  policyId: string;
  grantString: string;
}

export interface RotateResult {
  path: string;
  from: number;
  to: number;
  /** An earlier rotation of this path was unfinished: this call finished it (no new epoch). */
  resumed: boolean;
  regranted: RegrantResult[];
  /** Re-grants that failed: run rotate() on the path again to retry them. */
  failed: { reader: string; fromPolicy: string; error: string }[];
  excludedReaders: string[];
  /** Every re-grant is done. */
  done: boolean;
}

export interface RevokeRotateResult extends RevokeResult {
  /** With `rotate`: the reader's other live policies on the level, revoked too (hex ids). */
  alsoRevoked: { policyId: string; result: RevokeResult }[];
  rotation: RotateResult;
}

/** A level of a file whose epoch the owner has since rotated past. */
export interface SupersededLevel {
  prefix: string;
  fileEpoch: number;
  currentEpoch: number;
  /** When the owner rotated the level past the file's epoch (Unix seconds), if recorded. */
  rotatedAt?: number;
  /** The file says it was written after that rotation: its writer used stale keys. */
  writtenAfterRotation: boolean;
}

export interface OwnerOpened {
  path: string;
  /** Writer files: the writer's card. */
  writer?: Card;
  /** Levels written under a superseded epoch (empty for files written at the current epochs). */
  superseded: SupersededLevel[];
  /** A writer file, or one written after a rotation, under a superseded epoch: warn the owner. */
  stale: boolean;
  plaintext: AsyncIterable<Uint8Array>;
}

export type FileInput = Uint8Array | ByteSource;

interface Candidate {
  peer: PeerInfo;
  record: VerifiedNodeRecord;
  nodeId: Uint8Array;
}

interface FileJob {
  map: VerifiedPolicyMap;
  path: string;
  opened: OpenedHeader;
  index: number;
  capsule: Capsule;
  valid: Map<string, VerifiedCapsuleFrag>;
  failures: Map<string, NodeFailure>;
}

const defaultRng: Rng = (n) => crypto.getRandomValues(new Uint8Array(n));

/** A holder failing so may have handed its kfrag over: look for a handoff in the DHT. */
const FOLLOW_HANDOFF = new Set<string>(['not-found', 'unreachable', 'timeout']);

const mapKey = (owner: Card, prefix: string, epoch: number) =>
  `${toHexString(owner.bytes)}:${epoch}:${prefix}`;

/** Verified node records a client keeps (cleared when full). */
const VERIFIED_RECORDS_CACHED = 1024;

/** Opened grant strings a client keeps. */
const OPENED_GRANTS_CACHED = 64;

/** Tries of a request a node answered BUSY. */
const BUSY_ATTEMPTS = 4;

export class ThreshClient {
  readonly identity: Identity;
  readonly #transport: Transport | undefined;
  readonly #state: PolicyState;
  readonly #now: () => number;
  readonly #log: ClientLog;
  readonly #rng: Rng;
  readonly #o: Required<
    Pick<
      ClientOptions,
      | 'staggerMs'
      | 'requestTimeoutMs'
      | 'selectionTimeoutMs'
      | 'storeTimeoutMs'
      | 'maxGrantAttempts'
      | 'selectionPeers'
    >
  >;
  /** Node id (hex) -> where it was last seen: node selection and DHT lookups fill it. */
  readonly #peers = new Map<string, PeerInfo>();
  /** Node id (hex) -> smoothed re-encrypt latency in ms, so readers ask the fastest first. */
  readonly #latency = new Map<string, number>();
  /** Policy id (hex) -> a running lookup of its nodes' records, for nodes the DHT did not name. */
  readonly #discoveries = new Map<string, Promise<void>>();
  /** owner:prefix:epoch -> a map found in the DHT (grants of other epochs of a reader's level). */
  readonly #foundMaps = new Map<string, VerifiedPolicyMap>();
  /** Node records verified lately, by their signed bytes (base64). */
  readonly #verifiedRecords = new Map<string, VerifiedNodeRecord>();
  /** Grant strings opened lately (see #openGrant), oldest first. */
  readonly #openedGrants = new Map<string, VerifiedPolicyMap>();
  /** DHT publications of policy maps still running (grant's `published`); flush() waits for them. */
  readonly #publishing = new Set<Promise<PublicationResult>>();

  constructor(opts: ClientOptions) {
    if (opts === null || typeof opts !== 'object')
      throw new InvalidArgumentError('options', 'expected an object');
    if (!opts.identity) throw new InvalidArgumentError('identity', 'required');
    this.identity = opts.identity;
    this.#transport = opts.transport;
    this.#state = new PolicyState(opts.stateDir);
    this.#now = opts.now ?? (() => Math.floor(Date.now() / 1000));
    this.#log = opts.log ?? (() => {});
    this.#rng = opts.rng ?? defaultRng;
    this.#o = {
      staggerMs: opts.staggerMs ?? 150,
      requestTimeoutMs: opts.requestTimeoutMs ?? 10_000,
      selectionTimeoutMs: opts.selectionTimeoutMs ?? 5_000,
      storeTimeoutMs: opts.storeTimeoutMs ?? 10_000,
      maxGrantAttempts: opts.maxGrantAttempts ?? 3,
      selectionPeers: opts.selectionPeers ?? 20,
    };
  }

  /** The network; NoTransportError for a client made without one. */
  get transport(): Transport {
    if (!this.#transport) throw new NoTransportError();
    return this.#transport;
  }

  // ------------------------------------------------------------------------------- owner

  /**
   * Grants `reader` the level `path`, m-of-n (DESIGN.md "Grant"): selects n nodes at random
   * among those closest to the policy id that can hold it, stores a kfrag on each, and on any
   * failure abandons the attempt whole (revokes it) and retries with a new policy id.
   */
  async grant(opts: GrantOptions): Promise<GrantResult> {
    const owner = this.identity;
    const prefix = canonicalPath(opts.path);
    const m = opts.threshold;
    const n = opts.shares;
    if (!Number.isInteger(m) || !Number.isInteger(n) || m < 1 || n < m || n > 255) {
      throw new InvalidArgumentError('threshold/shares', `expected 1 <= m <= n <= 255, got ${m} of ${n}`);
    }
    const now = this.#now();
    const expiry = opts.expiresAt ?? (opts.ttl !== undefined ? now + opts.ttl : undefined);
    if (expiry === undefined || !Number.isSafeInteger(expiry) || expiry <= now) {
      throw new InvalidArgumentError('expiresAt', 'give a future expiresAt (Unix seconds) or a positive ttl');
    }
    const epoch = opts.epoch ?? (await this.#state.epochOf(prefix));
    const reader = opts.reader;
    const levelSk = pathKey(owner, prefix, epoch);
    const secret = pathHashSecret(owner.encryptingKey, owner.card.encryptingKey, reader.encryptingKey);
    const pathHash = secret.hash(prefix, epoch);
    secret.wipe();

    const excluded = new Set<string>();
    const attempts: { policyId: string; failures: NodeFailure[] }[] = [];
    for (let attempt = 1; attempt <= this.#o.maxGrantAttempts; attempt++) {
      throwIfAborted(opts.signal, 'grant');
      const id = crypto.getRandomValues(new Uint8Array(16));
      let chosen: Candidate[];
      try {
        chosen = await this.#selectNodes(id, n, expiry, excluded, opts.nodes, opts.signal);
      } catch (e) {
        if (attempts.length > 0) throw new GrantFailedError(attempts, { cause: e });
        throw e;
      }
      const nodeIds = chosen.map((c) => c.nodeId);
      const kfrags = generateKFrags(levelSk, reader.encryptingKey, owner.signer, m, n, false, true);
      let drawn = false;
      const policy = makePolicy(
        owner,
        {
          reader,
          pathHash,
          epoch,
          threshold: m,
          shares: n,
          expiry,
          precursor: kfragPrecursor(kfrags[0]),
          nodeIds,
        },
        {
          now: this.#now(),
          // the id was drawn first, so that nodes are chosen closest to it (DESIGN.md "Grant" step 2)
          rng: (len) => {
            if (!drawn && len === id.length) {
              drawn = true;
              return id;
            }
            return crypto.getRandomValues(new Uint8Array(len));
          },
        },
      );
      if (!bytesEqual(policy.body.id, id)) throw new Error('policy id is not the drawn one');
      const policyId = toHexString(id);
      const digest = policy.digest();
      const assignments = makeAssignments(owner, policy, kfrags);
      // Written before any kfrag leaves: whatever happens next, revoke() can reach every node.
      const entry: PolicyEntry = {
        policyId,
        path: prefix,
        epoch,
        reader: reader.toString(),
        threshold: m,
        shares: n,
        created: policy.body.created,
        expiresAt: expiry,
        status: 'pending',
        nodes: chosen.map((c) => ({ nodeId: toHexString(c.nodeId), peer: c.peer })),
        policy: toB64(policy.bytes),
      };
      await this.#state.upsert(policyId, () => entry);
      this.#log('info', 'grant attempt', { policyId, attempt, nodes: entry.nodes.map((x) => x.nodeId) });

      const results = await Promise.all(
        chosen.map(async (c, i) => {
          const deadline = AbortSignal.timeout(this.#o.storeTimeoutMs);
          try {
            const req = StorePolicyRequest.encode({
              policy: policy.bytes,
              assignment: assignments[i].bytes,
              sealedKFrag: sealKFrag(kfrags[i], digest, c.nodeId, c.record.card.encryptingKey),
            });
            const reply = await this.#request(
              c.peer,
              'storePolicy',
              req,
              StorePolicyReply,
              anySignal(opts.signal, deadline),
            );
            const receipt = verifyReceipt(reply.receipt, {
              op: 'store',
              nodeId: c.nodeId,
              policyDigest: digest,
              kfragId: kfragId(kfrags[i]),
              now: this.#now(),
            });
            return { ok: true as const, receipt };
          } catch (e) {
            const { reason, message } = deadlineReason(e, deadline, opts.signal, this.#o.storeTimeoutMs);
            return {
              ok: false as const,
              failure: { nodeId: toHexString(c.nodeId), peer: c.peer.id, reason, message },
            };
          }
        }),
      );
      const failures = results.flatMap((r) => (r.ok ? [] : [r.failure]));
      if (failures.length === 0) {
        const receipts = results.flatMap((r) => (r.ok ? [r.receipt] : []));
        return this.#completeGrant({
          policy,
          assignments,
          levelPk: levelSk.publicKey(),
          prefix,
          reader,
          pathHash,
          entry,
          receipts,
          abandoned: attempts.map((a) => a.policyId),
          signal: opts.signal,
          awaitPublication: opts.awaitPublication ?? false,
        });
      }
      // DESIGN.md "Grant" step 4: abandon the attempt whole, revoke what was stored, new id.
      this.#log('warn', 'grant attempt failed: abandoning it', { policyId, failures });
      attempts.push({ policyId, failures });
      for (const f of failures) excluded.add(f.nodeId);
      await this.#state.upsert(policyId, (e) => ({
        ...(e ?? entry),
        status: 'abandoned',
        abandonedBecause: failures.map((f) => `${f.nodeId.slice(0, 12)}: ${f.reason}`).join(', '),
      }));
      // Clean-up the caller cannot cancel: a stored kfrag of an abandoned id must not stay live.
      await this.#revokeEntry(entry, undefined).catch((e) => {
        this.#log('warn', 'revoking an abandoned attempt failed', { policyId, err: String(e) });
      });
    }
    throw new GrantFailedError(attempts);
  }

  async #completeGrant(a: {
    policy: Signed<PolicyBody>;
    assignments: ReturnType<typeof makeAssignments>;
    levelPk: ReturnType<ReturnType<typeof pathKey>['publicKey']>;
    prefix: string;
    reader: Card;
    pathHash: Uint8Array;
    entry: PolicyEntry;
    receipts: VerifiedReceipt[];
    abandoned: string[];
    signal?: AbortSignal;
    awaitPublication: boolean;
  }): Promise<GrantResult> {
    const owner = this.identity;
    const map = makePolicyMap(
      owner,
      { policy: a.policy, assignments: a.assignments, levelKey: a.levelPk, prefix: a.prefix },
      { now: this.#now() },
    );
    const sealed = sealPolicyMap(map, a.reader);
    const grantString = encodeGrant(sealed);
    const policyId = a.entry.policyId;
    await this.#state.upsert(policyId, (e) => ({
      ...(e ?? a.entry),
      status: 'active',
      map: toB64(map.bytes),
      grant: grantString,
    }));
    for (const old of a.abandoned) {
      await this.#state.upsert(old, (e) => ({ ...(e as PolicyEntry), supersededBy: policyId }));
    }
    // Best effort: the reader can always use the grant string.
    const published = this.#publishMap(
      policyId,
      sealed,
      a.reader,
      a.pathHash,
      a.policy.body.created,
      a.signal,
    );
    if (a.awaitPublication) await published;
    return {
      policy: a.policy,
      policyId,
      nodeIds: a.policy.body.nodes,
      grantString,
      receipts: a.receipts,
      abandoned: a.abandoned,
      published,
    };
  }

  /** Puts a sealed policy map in the DHT; never rejects. Tracked until done for flush(). */
  #publishMap(
    policyId: string,
    sealed: Parameters<typeof encodeGrant>[0],
    reader: Card,
    pathHash: Uint8Array,
    seq: number,
    signal: AbortSignal | undefined,
  ): Promise<PublicationResult> {
    const owner = this.identity;
    const run = async (): Promise<PublicationResult> => {
      try {
        const dhtId = policyMapDhtId(reader.encryptingKey, pathHash);
        const value = encodeDhtValue(
          { namespace: 'policy-map', id: dhtId, seq, record: sealed },
          owner.signer,
        );
        const r = await this.transport.putRecord(
          makeDhtKey('policy-map', owner.card.signingKey, dhtId),
          value,
          signal,
        );
        this.#log('debug', 'published the policy map', { policyId, accepted: r.accepted });
        return { accepted: r.accepted };
      } catch (e) {
        this.#log('warn', 'could not publish the policy map', { policyId, err: String(e) });
        return { accepted: 0, error: e instanceof Error ? e.message : String(e) };
      }
    };
    const publication = run();
    this.#publishing.add(publication);
    void publication.finally(() => this.#publishing.delete(publication));
    return publication;
  }

  /**
   * Waits for every DHT publication still running (policy maps of grants that did not await
   * theirs). Call it before the process exits, or before telling a reader to look the grant up
   * without its grant string.
   */
  async flush(): Promise<void> {
    while (this.#publishing.size > 0) await Promise.all([...this.#publishing]);
  }

  /** Node selection (DESIGN.md "Grant" step 2). */
  async #selectNodes(
    policyId: Uint8Array,
    n: number,
    expiry: number,
    excluded: ReadonlySet<string>,
    pinned: PeerInfo[] | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Candidate[]> {
    // Candidates: the peers closest to the policy id. When this client's DHT host already knows
    // 2n peers or more, they come from its routing table (a lookup over the network is most of
    // a grant's time): n of at least 2n are still chosen at random, as DESIGN.md "Grant" asks.
    const peers =
      pinned ??
      (await this.transport.closestNodes(policyId, Math.max(this.#o.selectionPeers, 2 * n), signal, {
        localEnough: 2 * n,
      }));
    const answers = await Promise.all(
      peers.map((p) => this.#fetchNodeRecord(p, signal).catch(() => undefined)),
    );
    const seen = new Set<string>();
    const usable: Candidate[] = [];
    const now = this.#now();
    answers.forEach((record, i) => {
      if (!record) return;
      const hex = toHexString(record.nodeId);
      if (seen.has(hex) || excluded.has(hex) || !nodeCanHold(record, expiry, { now })) return;
      seen.add(hex);
      usable.push({ peer: peers[i], record, nodeId: record.nodeId });
    });
    if (usable.length < n) {
      throw new NoNodesError(
        usable.length,
        n,
        `${peers.length} asked, ${answers.filter(Boolean).length} answered`,
      );
    }
    // At random among the usable ones, never by speed (DESIGN.md "Grant" step 2).
    return shuffle(usable, this.#rng).slice(0, n);
  }

  /**
   * One request of an idempotent kind (node record, store, revoke: a repeat gets the same
   * receipt), decoded and unwrapped. A node answering BUSY (too many requests of this peer in
   * flight, e.g. concurrent grants of one owner) is asked again after a short random pause, a
   * few times, within `signal`.
   */
  async #request<T extends object>(
    peer: PeerInfo,
    protocol: 'nodeRecord' | 'storePolicy' | 'revoke',
    bytes: Uint8Array,
    type: { decode(b: Uint8Array): T | ErrorReply },
    signal: AbortSignal,
  ): Promise<Exclude<T, ErrorReply>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return unwrapReply(type.decode(await this.transport.call(peer, protocol, bytes, signal)), peer.id);
      } catch (e) {
        if (
          !(e instanceof RemoteError) ||
          e.remoteCode !== 'BUSY' ||
          attempt >= BUSY_ATTEMPTS ||
          signal.aborted
        )
          throw e;
        await new Promise((r) => setTimeout(r, 50 + randomInt(this.#rng, 200) * attempt));
      }
    }
  }

  /** A node's own signed record, checked: valid, and of the peer that answered. */
  async #fetchNodeRecord(peer: PeerInfo, signal: AbortSignal | undefined): Promise<VerifiedNodeRecord> {
    const reply = await this.#request(
      peer,
      'nodeRecord',
      NodeRecordRequest.encode({}),
      NodeRecordReply,
      anySignal(signal, AbortSignal.timeout(this.#o.selectionTimeoutMs)),
    );
    // A node answers with the same signed bytes until it refreshes its record: verifying them
    // again (a signature and two card keys) on every grant is CPU for nothing. Only the expiry
    // can turn them invalid later, so a cached result is used while the record lives.
    const now = this.#now();
    const cacheKey = toB64(reply.nodeRecord);
    let record = this.#verifiedRecords.get(cacheKey);
    if (record === undefined || record.body.expiry <= now) {
      record = verifyNodeRecord(reply.nodeRecord, { now });
      if (this.#verifiedRecords.size >= VERIFIED_RECORDS_CACHED) this.#verifiedRecords.clear();
      this.#verifiedRecords.set(cacheKey, record);
    }
    if (record.body.peer !== peer.id) {
      throw new DecodeError('node-record.peer', `the record of ${record.body.peer}, answered by ${peer.id}`);
    }
    this.#peers.set(toHexString(record.nodeId), {
      id: peer.id,
      addrs: peer.addrs.length > 0 ? peer.addrs : record.body.addrs,
    });
    return record;
  }

  /** The owner's grants, abandoned attempts included, from the state file. */
  async policies(): Promise<PolicyEntry[]> {
    return this.#state.list();
  }

  /**
   * Revokes a policy (DESIGN.md "Revoke"): a signed revocation to every node ever sent a
   * kfrag of it, published in the DHT, and the policy marked revoked in the state file. With
   * `rotate`, also cuts the reader off the level and rotates it (see RevokeOptions.rotate).
   */
  async revoke(target: RevokeTarget, opts: RevokeOptions & { rotate: true }): Promise<RevokeRotateResult>;
  async revoke(target: RevokeTarget, opts?: RevokeOptions): Promise<RevokeResult>;
  async revoke(target: RevokeTarget, opts: RevokeOptions = {}): Promise<RevokeResult | RevokeRotateResult> {
    const entries = await this.#revokeTargets(target);
    const results: RevokeResult[] = [];
    for (const entry of entries) results.push(await this.#revokeAndMark(entry, opts.signal));
    const result: RevokeResult = {
      policyIds: entries.map((e) => e.policyId),
      receipts: results.flatMap((r) => r.receipts),
      accessGone: results.every((r) => r.accessGone),
      published: results.every((r) => r.published),
    };
    if (!opts.rotate) return result;
    const entry = entries[0];
    // The reader's other live policies on the level (earlier re-grants, other epochs).
    const now = this.#now();
    const others = (await this.#state.list()).filter(
      (e) => e.status === 'active' && e.path === entry.path && e.reader === entry.reader && e.expiresAt > now,
    );
    const alsoRevoked: RevokeRotateResult['alsoRevoked'] = [];
    for (const other of others) {
      alsoRevoked.push({ policyId: other.policyId, result: await this.#revokeAndMark(other, opts.signal) });
    }
    const rotation = await this.#rotate(entry.path, {
      exclude: [entry.reader],
      revokedPolicy: entry.policyId,
      signal: opts.signal,
    });
    return { ...result, alsoRevoked, rotation };
  }

  /** The state entries a revoke target names: one policy by id, or a reader's live ones on a level. */
  async #revokeTargets(target: RevokeTarget): Promise<PolicyEntry[]> {
    if (typeof target === 'string' || target instanceof Uint8Array) {
      const hex = typeof target === 'string' ? target.toLowerCase() : toHexString(target);
      const entry = await this.#state.get(hex);
      if (!entry) throw new UnknownPolicyError(hex);
      return [entry];
    }
    if (target === null || typeof target !== 'object' || !(target.reader instanceof Card)) {
      throw new InvalidArgumentError('target', 'expected a policy id, or { path, reader: Card }');
    }
    const path = canonicalPath(target.path);
    const reader = target.reader.toString();
    const now = this.#now();
    const live = (await this.#state.list())
      .filter((e) => e.path === path && e.reader === reader && e.status === 'active' && e.expiresAt > now)
      .sort((x, y) => y.created - x.created);
    if (live.length === 0) throw new UnknownPolicyError(`live for ${target.reader.fingerprint()} on ${path}`);
    return live;
  }

  async #revokeAndMark(entry: PolicyEntry, signal: AbortSignal | undefined): Promise<RevokeResult> {
    const result = await this.#revokeEntry(entry, signal);
    await this.#state.upsert(entry.policyId, (e) => ({
      ...(e ?? entry),
      status: e?.status === 'abandoned' ? 'abandoned' : 'revoked',
      revokedAt: this.#now(),
    }));
    return result;
  }

  // ------------------------------------------------------------------- epochs and rotation

  /** The levels the owner rotated, with their current epochs (every other level is at 0). */
  async epochs(): Promise<Record<string, number>> {
    return (await this.#state.snapshot()).epochs;
  }

  /** The current epoch of a level. */
  async epochOf(path: string): Promise<number> {
    return this.#state.epochOf(canonicalPath(path));
  }

  /** The owner's rotations, oldest first. */
  async rotations(): Promise<RotationEntry[]> {
    return (await this.#state.snapshot()).rotations;
  }

  /**
   * Encrypts a file as the owner at the current epochs (encryptFile with `epochs` from the
   * state): after a rotation, new files use the new level keys.
   */
  async encrypt(opts: Omit<EncryptOptions, 'epochs'>, source: ByteSource): Promise<EncryptedFile> {
    const epochs = (await this.#state.snapshot()).epochs;
    return encryptFile(this.identity, { ...opts, epochs: (prefix) => epochs[prefix] ?? 0 }, source);
  }

  /**
   * Encrypts as a writer holding an owner's directory-key record (the record's bytes, checked
   * here, or a VerifiedDirKey): the file is readable by the owner and the directory's readers.
   */
  async encryptFor(
    dirKey: Uint8Array | VerifiedDirKey,
    path: string,
    source: ByteSource,
    opts: Omit<EncryptOptions, 'epochs' | 'path'> = {},
  ): Promise<EncryptedFile> {
    const record = dirKey instanceof Uint8Array ? verifyDirKey(dirKey, { now: this.#now() }) : dirKey;
    return encryptFileAsWriter(this.identity, record, { ...opts, path }, source);
  }

  /** Issues a directory-key record for writers at the current epochs (issueDirKey). */
  async issueDirKey(directory: string, opts: Omit<IssueDirKeyOptions, 'epochs'>): Promise<VerifiedDirKey> {
    const epochs = (await this.#state.snapshot()).epochs;
    return issueDirKey(this.identity, directory, {
      ...opts,
      now: opts.now ?? this.#now(),
      epochs: (prefix) => epochs[prefix] ?? 0,
    });
  }

  /**
   * Rotates a level (DESIGN.md "Revoke, expiry, rotation"; `thresh rotate`): bumps its epoch,
   * so that files encrypted from now on use a new level key, and re-grants every reader with a
   * live policy on it (same threshold, shares and expiry, new policies at the new epoch). The
   * readers' old policies stay live, so old files keep opening; the readers' clients find the
   * new grants in the DHT. The epoch and the planned re-grants are saved before any grant: if
   * the rotation is interrupted, the next rotate() of the path finishes it instead.
   */
  async rotate(path: string, opts: RotateOptions = {}): Promise<RotateResult> {
    return this.#rotate(canonicalPath(path), {
      exclude: (opts.exclude ?? []).map((c) => c.toString()),
      signal: opts.signal,
    });
  }

  async #rotate(
    prefix: string,
    opts: { exclude: string[]; revokedPolicy?: string; signal?: AbortSignal },
  ): Promise<RotateResult> {
    const now = this.#now();
    const plan = await this.#state.update((data: StateData) => {
      const unfinished = data.rotations.find((r) => r.path === prefix && !r.done);
      if (unfinished) {
        // Finish it first; a revoked reader is dropped from its re-grants.
        for (const g of unfinished.regrants) {
          if (g.status !== 'done' && opts.exclude.includes(g.reader)) {
            g.status = 'failed';
            g.error = 'the reader was revoked';
          }
        }
        return { rotation: structuredClone(unfinished), resumed: true };
      }
      const from = data.epochs[prefix] ?? 0;
      if (from >= 0xffffffff) throw new InvalidArgumentError('epoch', `${prefix} is at the last epoch`);
      const to = from + 1;
      // One re-grant per reader with a live policy on the level: the one that lasts longest.
      const byReader = new Map<string, PolicyEntry>();
      for (const e of data.policies) {
        if (e.status !== 'active' || e.path !== prefix || e.expiresAt <= now || e.epoch >= to) continue;
        if (opts.exclude.includes(e.reader)) continue;
        const seen = byReader.get(e.reader);
        if (!seen || e.expiresAt > seen.expiresAt) byReader.set(e.reader, e);
      }
      const rotation: RotationEntry = {
        path: prefix,
        from,
        to,
        at: now,
        ...(opts.revokedPolicy ? { revokedPolicy: opts.revokedPolicy } : {}),
        excludedReaders: [...opts.exclude],
        regrants: [...byReader.values()].map(
          (e): RegrantEntry => ({
            reader: e.reader,
            fromPolicy: e.policyId,
            threshold: e.threshold,
            shares: e.shares,
            expiresAt: e.expiresAt,
            status: 'pending',
          }),
        ),
        done: false,
      };
      data.epochs[prefix] = to;
      data.rotations.push(rotation);
      return { rotation: structuredClone(rotation), resumed: false };
    });
    const { rotation } = plan;
    this.#log('info', plan.resumed ? 'resuming a rotation' : 'rotated', {
      path: prefix,
      from: rotation.from,
      to: rotation.to,
      regrants: rotation.regrants.length,
    });
    const regranted: RegrantResult[] = [];
    for (const g of rotation.regrants) {
      if (g.status === 'done' || (g.status === 'failed' && g.error === 'the reader was revoked')) continue;
      throwIfAborted(opts.signal, 'rotate');
      let update: Partial<RegrantEntry>;
      if (g.expiresAt <= this.#now()) {
        update = { status: 'failed', error: 'the old policy has expired: nothing to re-grant' };
      } else {
        try {
          const r = await this.grant({
            path: prefix,
            reader: Card.parse(g.reader),
            threshold: g.threshold,
            shares: g.shares,
            expiresAt: g.expiresAt,
            epoch: rotation.to,
            signal: opts.signal,
          });
          update = { status: 'done', policyId: r.policyId, error: undefined };
          regranted.push({
            reader: g.reader,
            fromPolicy: g.fromPolicy,
            policyId: r.policyId,
            grantString: r.grantString,
          });
        } catch (e) {
          throwIfAborted(opts.signal, 'rotate');
          update = { status: 'failed', error: e instanceof Error ? e.message : String(e) };
          this.#log('warn', 're-grant failed', { path: prefix, reader: g.reader, err: update.error });
        }
      }
      Object.assign(g, update);
      await this.#state.update((data) => {
        const r = data.rotations.find(
          (x) => x.path === prefix && x.to === rotation.to && x.at === rotation.at,
        );
        const entry = r?.regrants.find((x) => x.fromPolicy === g.fromPolicy);
        if (entry) Object.assign(entry, update);
      });
    }
    const retryable = (g: RegrantEntry) =>
      g.status === 'pending' ||
      (g.status === 'failed' && g.error !== 'the reader was revoked' && g.expiresAt > this.#now());
    const done = !rotation.regrants.some(retryable);
    if (done) {
      await this.#state.update((data) => {
        const r = data.rotations.find(
          (x) => x.path === prefix && x.to === rotation.to && x.at === rotation.at,
        );
        if (r) r.done = true;
      });
    }
    // Re-grants done by an earlier, interrupted run are reported too.
    for (const g of rotation.regrants) {
      if (g.status === 'done' && g.policyId && !regranted.some((x) => x.fromPolicy === g.fromPolicy)) {
        const entry = await this.#state.get(g.policyId);
        regranted.push({
          reader: g.reader,
          fromPolicy: g.fromPolicy,
          policyId: g.policyId,
          grantString: entry?.grant ?? '',
        });
      }
    }
    return {
      path: prefix,
      from: rotation.from,
      to: rotation.to,
      resumed: plan.resumed,
      regranted,
      failed: rotation.regrants
        .filter((g) => g.status === 'failed')
        .map((g) => ({ reader: g.reader, fromPolicy: g.fromPolicy, error: g.error ?? 'failed' })),
      excludedReaders: rotation.excludedReaders,
      done,
    };
  }

  /**
   * Opens a file of this owner's locally, with the path key (no network): the plaintext, and
   * the levels written under an epoch the owner has since rotated past. A writer file under a
   * superseded epoch, or any file written after the rotation that superseded it, is `stale`:
   * its writer holds an old directory-key record (issue a new one) or stale state.
   */
  async openAsOwner(file: FileInput): Promise<OwnerOpened> {
    const source: ByteSource = file instanceof Uint8Array ? [file] : file;
    const opened = await readFileHeader(source, { now: this.#now() });
    if (!opened.ownerCard.equals(this.identity.card)) {
      throw new NotGrantedError(opened.header.body.p, '/', 'the file belongs to another owner');
    }
    const superseded = await this.supersededLevels(opened);
    const stale =
      superseded.length > 0 &&
      (opened.writerCard !== undefined || superseded.some((l) => l.writtenAfterRotation));
    if (stale) {
      this.#log('warn', 'the file was written under a superseded epoch', {
        path: opened.header.body.p,
        levels: superseded,
      });
    }
    const dek = unwrapDekAsOwner(opened.header, this.identity);
    return {
      path: opened.header.body.p,
      writer: opened.writerCard,
      superseded,
      stale,
      plaintext: decryptFileBody(opened.header, dek, opened.body),
    };
  }

  /** The levels of a file (its opened header) whose epoch is older than the owner's current one. */
  async supersededLevels(opened: OpenedHeader): Promise<SupersededLevel[]> {
    const { epochs, rotations } = await this.#state.snapshot();
    const body = opened.header.body;
    const prefixes = pathPrefixes(body.p);
    const out: SupersededLevel[] = [];
    for (const l of body.l) {
      const prefix = prefixes[l.d];
      const current = epochs[prefix] ?? 0;
      if (l.e >= current) continue;
      const past = rotations.find((r) => r.path === prefix && r.from <= l.e && r.to > l.e);
      out.push({
        prefix,
        fileEpoch: l.e,
        currentEpoch: current,
        ...(past ? { rotatedAt: past.at } : {}),
        writtenAfterRotation: past !== undefined && body.t >= past.at,
      });
    }
    return out;
  }

  async #revokeEntry(entry: PolicyEntry, signal: AbortSignal | undefined): Promise<RevokeResult> {
    const owner = this.identity;
    const id = fromHexString(entry.policyId);
    const revocation = makeRevocation(owner, { id, expiry: entry.expiresAt }, { now: this.#now() });
    const dhtId = revocationDhtId(id);
    const published = encodeDhtValue(
      { namespace: 'revocation', id: dhtId, seq: revocation.body.created, record: revocation.bytes },
      owner.signer,
    );
    const req = RevokeRequest.encode({ revocation: revocation.bytes, published });
    const receipts = await Promise.all(
      entry.nodes.map(async (node): Promise<RevokeNodeResult> => {
        const deadline = AbortSignal.timeout(this.#o.storeTimeoutMs);
        try {
          const reply = await this.#request(
            node.peer,
            'revoke',
            req,
            RevokeReply,
            anySignal(signal, deadline),
          );
          const receipt = verifyReceipt(reply.receipt, {
            op: 'revoke',
            nodeId: fromHexString(node.nodeId),
            now: this.#now(),
          });
          return { nodeId: node.nodeId, peer: node.peer.id, ok: true, receipt };
        } catch (error) {
          return {
            nodeId: node.nodeId,
            peer: node.peer.id,
            ok: false,
            reason: deadlineReason(error, deadline, signal, this.#o.storeTimeoutMs).reason,
            error,
          };
        }
      }),
    );
    let publishedOk = false;
    try {
      const r = await this.transport.putRecord(
        makeDhtKey('revocation', owner.card.signingKey, dhtId),
        published,
        signal,
      );
      publishedOk = r.accepted > 0;
    } catch (e) {
      this.#log('warn', 'could not publish the revocation', { policyId: entry.policyId, err: String(e) });
    }
    const ok = receipts.filter((r) => r.ok).length;
    return {
      policyIds: [entry.policyId],
      receipts,
      accessGone: ok >= entry.shares - entry.threshold + 1,
      published: publishedOk,
    };
  }

  // ------------------------------------------------------------------------------ reader

  /** Decrypts one file with a grant string (or the grant found in the DHT); the whole plaintext. */
  async decrypt(file: FileInput, opts: DecryptOptions = {}): Promise<Uint8Array> {
    return collect(await this.decryptStream(file, opts));
  }

  /**
   * Opens the grant, reads the header, gathers m verified cfrags and returns the plaintext as a
   * stream (chunks are authenticated one by one: a tampered chunk fails when it is reached).
   */
  async decryptStream(file: FileInput, opts: DecryptOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    const base = opts.grant === undefined ? undefined : this.#openGrant(opts.grant);
    const job = await this.#job(base, file, opts.signal);
    await this.#gather(job.map, [job], opts.signal);
    return this.#open(job);
  }

  /**
   * Decrypts many files, one request per node for all the files of one policy (batched items).
   * Files of the grant's level at other epochs, or all files without a grant, are matched to
   * the grants found in the DHT.
   */
  async decryptMany(files: readonly FileInput[], opts: DecryptOptions = {}): Promise<Uint8Array[]> {
    const base = opts.grant === undefined ? undefined : this.#openGrant(opts.grant);
    const jobs: FileJob[] = [];
    for (const f of files) jobs.push(await this.#job(base, f, opts.signal));
    if (jobs.length === 0) return [];
    const byPolicy = new Map<string, FileJob[]>();
    for (const job of jobs) {
      const key = toHexString(job.map.policy.id);
      byPolicy.set(key, [...(byPolicy.get(key) ?? []), job]);
    }
    await Promise.all([...byPolicy.values()].map((group) => this.#gather(group[0].map, group, opts.signal)));
    const out: Uint8Array[] = [];
    for (const job of jobs) out.push(await collect(this.#open(job)));
    return out;
  }

  /**
   * Finds the reader's grant in the DHT (DESIGN.md "Decrypt": "or the DHT by owner card and
   * path"): the sealed map the owner published for the deepest prefix of `path` that has one,
   * as a grant string, or undefined. The map is opened and verified before it is returned.
   * `epoch` is one epoch for every level (default 0) or each level's (undefined: skip it).
   */
  async findGrant(
    owner: Card,
    path: string,
    opts: CallOptions & { epoch?: number | ((prefix: string) => number | undefined) } = {},
  ): Promise<string | undefined> {
    const canonical = canonicalPath(path);
    // every level at once (one DHT round trip, not one per level); the deepest found wins
    const found = await Promise.all(
      pathPrefixes(canonical).map((prefix) => {
        const epoch = typeof opts.epoch === 'function' ? opts.epoch(prefix) : (opts.epoch ?? 0);
        return epoch === undefined ? undefined : this.#lookupMap(owner, prefix, epoch, opts.signal);
      }),
    );
    return found.reverse().find((f) => f !== undefined)?.grant;
  }

  /** The owner's published map of one level and epoch for this reader, opened and checked. */
  async #lookupMap(
    owner: Card,
    prefix: string,
    epoch: number,
    signal: AbortSignal | undefined,
  ): Promise<{ grant: string; map: VerifiedPolicyMap } | undefined> {
    const reader = this.identity;
    const secret = pathHashSecret(reader.encryptingKey, owner.encryptingKey, reader.card.encryptingKey);
    let dhtId: Uint8Array;
    try {
      dhtId = policyMapDhtId(reader.card.encryptingKey, secret.hash(prefix, epoch));
    } finally {
      secret.wipe();
    }
    let value: Uint8Array | undefined;
    try {
      value = await this.transport.getRecord(makeDhtKey('policy-map', owner.signingKey, dhtId), signal);
    } catch (e) {
      throwIfAborted(signal, 'findGrant');
      this.#log('debug', 'policy map lookup failed', { prefix, epoch, err: String(e) });
      return undefined;
    }
    if (value === undefined) return undefined;
    try {
      const grant = encodeGrant(decodeDhtValue(value).record);
      const map = this.#openGrant(grant);
      if (map.policy.owner.equals(owner) && map.prefix === prefix && map.epoch === epoch)
        return { grant, map };
      this.#log('debug', 'a published policy map is of another level', { prefix, epoch });
    } catch (e) {
      this.#log('debug', 'a published policy map does not open', { prefix, epoch, err: String(e) });
    }
    return undefined;
  }

  /** #lookupMap, remembered for the client's lifetime once found. */
  async #foundMap(
    owner: Card,
    prefix: string,
    epoch: number,
    signal: AbortSignal | undefined,
  ): Promise<VerifiedPolicyMap | undefined> {
    const cached = this.#cachedMap(owner, prefix, epoch);
    if (cached) return cached;
    const found = await this.#lookupMap(owner, prefix, epoch, signal);
    if (found) this.#foundMaps.set(mapKey(owner, prefix, epoch), found.map);
    return found?.map;
  }

  /** A map found earlier, while its policy lives. */
  #cachedMap(owner: Card, prefix: string, epoch: number): VerifiedPolicyMap | undefined {
    const key = mapKey(owner, prefix, epoch);
    const cached = this.#foundMaps.get(key);
    if (cached && cached.policy.body.expiry <= this.#now()) this.#foundMaps.delete(key);
    else return cached;
    return undefined;
  }

  /** Forgets a found map whose nodes refused it (revoked, expired): the next file looks again. */
  #forgetMap(map: VerifiedPolicyMap): void {
    for (const [key, m] of this.#foundMaps) if (m === map) this.#foundMaps.delete(key);
  }

  #openGrant(grant: string): VerifiedPolicyMap {
    // Opening a grant string (unseal, verify the map, the policy and every assignment) costs
    // ~10 ms of CPU; a reader decrypting file after file with one grant does it once. Only the
    // policy's expiry can turn a verified map invalid later (its other time checks only become
    // truer), so a cached map is used while now < expiry and opened afresh after (which throws).
    const now = this.#now();
    const cached = this.#openedGrants.get(grant);
    if (cached !== undefined && now < cached.policy.signed.body.expiry) return cached;
    const map = openGrant(grant, this.identity, { now });
    if (this.#openedGrants.size >= OPENED_GRANTS_CACHED) {
      this.#openedGrants.delete(this.#openedGrants.keys().next().value as string);
    }
    this.#openedGrants.set(grant, map);
    return map;
  }

  /**
   * The map that opens a file: the grant's, if the file is under its level at its epoch; the
   * owner's map of the grant's level at the file's epoch (a rotation happened), from the DHT;
   * without a grant, the deepest level of the file with a map in the DHT at the file's epoch.
   */
  async #mapFor(
    base: VerifiedPolicyMap | undefined,
    opened: OpenedHeader,
    signal: AbortSignal | undefined,
  ): Promise<VerifiedPolicyMap> {
    const body = opened.header.body;
    const path = body.p;
    const prefixes = pathPrefixes(path);
    if (base === undefined) {
      const levels = [...body.l].reverse(); // deepest first
      for (const l of levels) {
        const map = this.#cachedMap(opened.ownerCard, prefixes[l.d], l.e);
        if (map) return map;
      }
      // one DHT round trip for every level at once; the deepest found wins
      const found = await Promise.all(
        levels.map((l) => this.#foundMap(opened.ownerCard, prefixes[l.d], l.e, signal)),
      );
      const map = found.find((m) => m !== undefined);
      if (map) return map;
      throw new NotGrantedError(
        path,
        path,
        'no grant given, and none found in the DHT for any level of the file',
      );
    }
    const prefix = base.prefix;
    if (!isAncestorOrSelf(prefix, path))
      throw new NotGrantedError(path, prefix, 'the path is outside the granted level');
    if (!opened.ownerCard.equals(base.policy.owner)) {
      throw new NotGrantedError(path, prefix, 'the file belongs to another owner');
    }
    const level = body.l.find((l) => l.d === pathDepth(prefix));
    if (!level) throw new NotGrantedError(path, prefix, 'the file has no capsule for the granted level');
    if (level.e === base.epoch) return base;
    const map = await this.#foundMap(opened.ownerCard, prefix, level.e, signal);
    if (map) return map;
    throw new NotGrantedError(
      path,
      prefix,
      `the file uses epoch ${level.e} of ${prefix}, the grant epoch ${base.epoch}, and the DHT has no grant of epoch ${level.e} for you (the level was rotated and you were not re-granted)`,
    );
  }

  async #job(
    base: VerifiedPolicyMap | undefined,
    file: FileInput,
    signal: AbortSignal | undefined,
  ): Promise<FileJob> {
    const source: ByteSource = file instanceof Uint8Array ? [file] : file;
    const opened = await readFileHeader(source, { now: this.#now() });
    const map = await this.#mapFor(base, opened, signal);
    const index = levelIndex(opened.header, pathDepth(map.prefix));
    return {
      map,
      path: opened.header.body.p,
      opened,
      index,
      capsule: Capsule.fromBytes(opened.header.body.l[index].c),
      valid: new Map(),
      failures: new Map(),
    };
  }

  #open(job: FileJob): AsyncIterable<Uint8Array> {
    const map = job.map;
    const m = map.policy.body.m;
    const cfrags = [...job.valid.values()].slice(0, m);
    const dek = unwrapDekWithCfrags(
      job.opened.header,
      job.index,
      this.identity.encryptingKey,
      map.levelKey,
      cfrags,
    );
    return decryptFileBody(job.opened.header, dek, job.opened.body);
  }

  /**
   * Asks the holders for cfrags until every job has m valid ones (DESIGN.md "Decrypt"): about
   * 1.25 m first (fastest known first), the rest after `staggerMs` or as soon as the ones in
   * flight cannot make up m. Throws NotEnoughFragmentsError for the first job left short.
   */
  async #gather(map: VerifiedPolicyMap, jobs: FileJob[], signal: AbortSignal | undefined): Promise<void> {
    const m = map.policy.body.m;
    const holders = map.holders;
    const expectedKfrag = new Map<string, Uint8Array>(
      map.chains.map((c, i) => [toHexString(holders[i]), c.assignment.kfragId]),
    );
    const order = this.#byLatency(holders.map((h) => toHexString(h)));
    const stop = new AbortController();
    const linked = anySignal(signal, stop.signal);
    const lacking = () => jobs.reduce((most, j) => Math.max(most, m - j.valid.size), 0);

    await new Promise<void>((resolve) => {
      let launched = 0;
      let pending = 0;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        stop.abort();
        resolve();
      };
      const launch = () => {
        const nodeId = order[launched++];
        pending++;
        void this.#askNode(map, nodeId, expectedKfrag, jobs, linked).finally(() => {
          pending--;
          settle();
        });
      };
      const settle = () => {
        if (finished) return;
        if (lacking() === 0 || signal?.aborted) return finish();
        while (pending < lacking() && launched < order.length) launch();
        if (pending === 0 && launched >= order.length) finish();
      };
      const first = Math.min(order.length, Math.ceil(1.25 * m));
      for (let i = 0; i < first; i++) launch();
      // The rest go after staggerMs, or after twice the slowest known latency of the first
      // ones when that is longer (busy nodes are not sent extra work they will answer anyway;
      // a node that fails fast still makes the rest go at once, see settle).
      const known = order.slice(0, first).map((id) => this.#latency.get(id));
      const slowest = known.every((x) => x !== undefined) ? Math.max(...(known as number[])) : 0;
      const stagger = Math.min(Math.max(this.#o.staggerMs, 2 * slowest), this.#o.requestTimeoutMs / 2);
      const timer = setTimeout(() => {
        if (finished || lacking() === 0) return;
        while (launched < order.length) launch();
      }, stagger);
      settle();
    });
    throwIfAborted(signal, 'decrypt');
    for (const job of jobs) {
      if (job.valid.size < m) {
        const failures = [...job.failures.values()];
        if (failures.some((f) => f.reason === 'revoked' || f.reason === 'expired')) this.#forgetMap(map);
        throw new NotEnoughFragmentsError(job.path, job.valid.size, m, failures);
      }
    }
  }

  /** Known-fast nodes first, then the unknown ones in random order. */
  #byLatency(nodeIds: string[]): string[] {
    const shuffled = shuffle(nodeIds, this.#rng);
    return shuffled.sort(
      (a, b) =>
        (this.#latency.get(a) ?? Number.POSITIVE_INFINITY) -
        (this.#latency.get(b) ?? Number.POSITIVE_INFINITY),
    );
  }

  /**
   * Asks one holder; when it no longer has the kfrag (not-found), or cannot be reached, follows
   * the handoff its node published in the DHT (DESIGN.md "Nodes": readers follow handoffs) to
   * the new holder, checking the chain from the owner's assignment on, and asks that one.
   */
  async #askNode(
    map: VerifiedPolicyMap,
    nodeHex: string,
    expectedKfrag: Map<string, Uint8Array>,
    jobs: FileJob[],
    signal: AbortSignal,
    chains: Map<string, HandoffChain> = new Map(),
  ): Promise<void> {
    await this.#askHolder(map, nodeHex, expectedKfrag, jobs, signal);
    const m = map.policy.body.m;
    const kid = expectedKfrag.get(nodeHex);
    const stuck = jobs.filter(
      (j) => j.valid.size < m && FOLLOW_HANDOFF.has(j.failures.get(nodeHex)?.reason ?? ''),
    );
    if (stuck.length === 0 || signal.aborted || kid === undefined) return;
    const chain = chains.get(nodeHex) ?? map.chains.find((c) => toHexString(c.holder) === nodeHex);
    if (!chain || chain.certificates.length >= MAX_HANDOFF_CHAIN) return;
    let next: HandoffChain | undefined;
    try {
      next = await this.#findHandoff(map, chain, signal);
    } catch (e) {
      this.#log('debug', 'no usable handoff in the DHT', { nodeId: nodeHex, err: String(e) });
    }
    if (!next) return;
    const nextHex = toHexString(next.holder);
    if (expectedKfrag.has(nextHex)) return; // a holder already asked: a loop, or a duplicate
    this.#log('info', 'following a handoff', { from: nodeHex, to: nextHex });
    expectedKfrag.set(nextHex, kid);
    chains.set(nextHex, next);
    await this.#askNode(map, nextHex, expectedKfrag, stuck, signal, chains);
    const kidHex = toHexString(kid);
    for (const j of stuck) if (j.valid.has(kidHex)) j.failures.delete(nodeHex);
  }

  /** The next link of a kfrag's handoff chain, from the DHT, checked; or undefined. */
  async #findHandoff(
    map: VerifiedPolicyMap,
    chain: HandoffChain,
    signal: AbortSignal,
  ): Promise<HandoffChain | undefined> {
    const id = handoffDhtId(map.policy.digest, chain.assignment.kfragId);
    const value = await this.transport.getRecord(makeDhtKey('handoff', chain.holder, id), signal);
    if (value === undefined) return undefined;
    const cert = decodeHandoffCertificate(decodeDhtValue(value).record);
    return verifyHandoffChain({
      policy: map.policy,
      assignment: chain.assignment,
      certificates: [...chain.certificates.map((c) => c.signed), cert],
      finalNodeId: cert.body.to,
      now: this.#now(),
    });
  }

  async #askHolder(
    map: VerifiedPolicyMap,
    nodeHex: string,
    expectedKfrag: Map<string, Uint8Array>,
    jobs: FileJob[],
    signal: AbortSignal,
  ): Promise<void> {
    const policy = map.policy;
    const m = policy.body.m;
    let peerId: string | undefined;
    const failAll = (targets: FileJob[], reason: NodeFailureReason, message?: string) => {
      if (signal.aborted && reason !== 'timeout') return; // stopped: we have enough, or the caller gave up
      for (const j of targets) j.failures.set(nodeHex, { nodeId: nodeHex, peer: peerId, reason, message });
    };
    let peer: PeerInfo;
    try {
      peer = await this.#resolvePeer(nodeHex, policy.id, signal);
      peerId = peer.id;
    } catch (e) {
      // No address for the node: its lookup timed out (say so), or it is nowhere to be found.
      const { reason, message } = reasonOf(e);
      failAll(jobs, reason === 'timeout' ? 'timeout' : 'unreachable', message);
      return;
    }
    const wanted = jobs.filter((j) => j.valid.size < m);
    for (let start = 0; start < wanted.length; start += REENCRYPT_MAX_ITEMS) {
      const batch = wanted.slice(start, start + REENCRYPT_MAX_ITEMS);
      const request = {
        items: batch.map((j, i) => ({
          id: i,
          levels: [{ pathHash: policy.body.pathHash, capsule: j.opened.header.body.l[j.index].c }],
          policyId: policy.id,
        })),
      };
      const deadline = AbortSignal.timeout(this.#o.requestTimeoutMs);
      const started = Date.now();
      let reply: ReencryptReply;
      try {
        const bytes = await this.transport.call(
          peer,
          'reencrypt',
          ReencryptRequest.encode(request),
          anySignal(signal, deadline),
        );
        reply = unwrapReply(ReencryptReply.decode(bytes), peer.id);
      } catch (e) {
        if (deadline.aborted) failAll(batch, 'timeout', `no reply within ${this.#o.requestTimeoutMs} ms`);
        else {
          const { reason, message } = reasonOf(e);
          failAll(batch, reason, message);
        }
        continue;
      }
      const ms = Date.now() - started;
      const prev = this.#latency.get(nodeHex);
      this.#latency.set(nodeHex, prev === undefined ? ms : 0.7 * prev + 0.3 * ms);
      try {
        checkReencryptReply(request, reply);
      } catch (e) {
        const msg = e instanceof Error ? e.message : String(e);
        const otherPolicy = e instanceof DecodeError && e.field.endsWith('.policyId');
        failAll(batch, otherPolicy ? 'wrong-policy' : 'malformed', msg);
        continue;
      }
      reply.items.forEach((item, i) => {
        const job = batch[i];
        // m verified cfrags are all a file needs: a later reply is not verified (~1 ms of CPU)
        if (job.valid.size >= map.policy.body.m) return;
        const failure = this.#acceptItem(map, job, item, nodeHex, expectedKfrag);
        if (failure) job.failures.set(nodeHex, { nodeId: nodeHex, peer: peerId, ...failure });
      });
    }
  }

  /** Verifies one reply item and keeps its cfrag; or says why not. */
  #acceptItem(
    map: VerifiedPolicyMap,
    job: FileJob,
    item: ReencryptReplyItem,
    nodeHex: string,
    expectedKfrag: Map<string, Uint8Array>,
  ): { reason: NodeFailureReason; message?: string } | undefined {
    const policy = map.policy;
    if (!isReencryptResult(item)) return { reason: reasonOfWireCode(item.error) };
    if (!bytesEqual(item.policyId, policy.id))
      return { reason: 'wrong-policy', message: 'a cfrag of another policy' };
    let verified: VerifiedCapsuleFrag;
    let cfrag: CapsuleFrag;
    try {
      cfrag = CapsuleFrag.fromBytes(item.cfrag);
      verified = cfrag.verify(
        job.capsule,
        policy.owner.signingKey,
        map.levelKey,
        this.identity.card.encryptingKey,
      );
    } catch (e) {
      return { reason: 'bad-proof', message: e instanceof Error ? e.message : String(e) };
    }
    // A cfrag of another policy of the same owner, level and reader verifies too: the
    // precursor and the kfrag id tell them apart (DESIGN.md "Decrypt").
    if (!bytesEqual(cfrag.precursor.toBytes(), policy.body.precursor)) {
      return { reason: 'wrong-policy', message: "the cfrag's precursor is not the policy's" };
    }
    const expected = expectedKfrag.get(nodeHex);
    if (expected && !bytesEqual(expected, cfrag.kfragId)) {
      const other = [...expectedKfrag.values()].some((k) => bytesEqual(k, cfrag.kfragId));
      return { reason: other ? 'duplicate' : 'wrong-policy', message: 'not the kfrag assigned to this node' };
    }
    const kid = toHexString(cfrag.kfragId);
    if (job.valid.has(kid)) return { reason: 'duplicate' };
    job.valid.set(kid, verified);
    job.failures.delete(nodeHex);
    return undefined;
  }

  /**
   * Where a node is: the client's cache (node selection fills it), its node record in the DHT
   * (namespace node, signer = the node id), or else the node records of the peers closest to
   * the policy id.
   */
  async #resolvePeer(nodeHex: string, policyId: Uint8Array, signal: AbortSignal): Promise<PeerInfo> {
    const cached = this.#peers.get(nodeHex);
    if (cached) return cached;
    const nodeId = fromHexString(nodeHex);
    // A peer the transport already knows needs no DHT lookup of its record.
    const known = await this.transport.knownPeer?.(nodeId).catch(() => undefined);
    if (known) {
      this.#peers.set(nodeHex, known);
      return known;
    }
    try {
      const value = await this.transport.getRecord(makeDhtKey('node', nodeId, nodeRecordDhtId()), signal);
      if (value !== undefined) {
        const record = verifyNodeRecord(decodeDhtValue(value).record, { nodeId, now: this.#now() });
        const peer = { id: record.body.peer, addrs: record.body.addrs };
        this.#peers.set(nodeHex, peer);
        return peer;
      }
    } catch (e) {
      this.#log('debug', 'node record lookup failed', { nodeId: nodeHex, err: String(e) });
    }
    // One discovery per policy at a time, however many of its nodes are missing.
    const key = toHexString(policyId);
    let discovery = this.#discoveries.get(key);
    if (!discovery) {
      discovery = (async () => {
        const peers = await this.transport.closestNodes(policyId, this.#o.selectionPeers, signal);
        await Promise.all(peers.map((p) => this.#fetchNodeRecord(p, signal).catch(() => undefined)));
      })().finally(() => this.#discoveries.delete(key));
      this.#discoveries.set(key, discovery);
    }
    await discovery;
    const found = this.#peers.get(nodeHex);
    if (!found) throw new Error(`node ${nodeHex.slice(0, 12)} not found in the DHT`);
    return found;
  }
}

/** A client for `identity` over `transport` (see ThreshClient). */
export function createClient(opts: ClientOptions): ThreshClient {
  return new ThreshClient(opts);
}
