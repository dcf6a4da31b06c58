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
  type Card,
  canonicalPath,
  checkReencryptReply,
  collect,
  DecodeError,
  decodeDhtValue,
  decryptFileBody,
  encodeDhtValue,
  encodeGrant,
  generateKFrags,
  type Identity,
  InvalidArgumentError,
  isAncestorOrSelf,
  isReencryptResult,
  kfragId,
  kfragPrecursor,
  levelIndex,
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
  unwrapDekWithCfrags,
  unwrapReply,
  type VerifiedCapsuleFrag,
  type VerifiedNodeRecord,
  type VerifiedPolicyMap,
  type VerifiedReceipt,
  verifyNodeRecord,
  verifyReceipt,
} from '@thresh/protocol';
import {
  GrantFailedError,
  type NodeFailure,
  type NodeFailureReason,
  NoNodesError,
  NotEnoughFragmentsError,
  NotGrantedError,
  UnknownPolicyError,
} from './errors.js';
import { fromHexString, type PolicyEntry, PolicyState, toB64, toHexString } from './state.js';
import type { PeerInfo, Transport } from './transport.js';
import { anySignal, reasonOf, reasonOfWireCode, shuffle, throwIfAborted } from './util.js';

export type ClientLogLevel = 'debug' | 'info' | 'warn';
export type ClientLog = (level: ClientLogLevel, message: string, fields?: Record<string, unknown>) => void;

export interface ClientOptions {
  identity: Identity;
  transport: Transport;
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
  /** The level's epoch. @default 0 */
  epoch?: number;
  /** Pin nodes instead of DHT selection: n of them are chosen at random. */
  nodes?: PeerInfo[];
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
}

export type RevokeNodeResult =
  | { nodeId: string; peer: string; ok: true; receipt: VerifiedReceipt }
  | { nodeId: string; peer: string; ok: false; reason: NodeFailureReason; error: unknown };

export interface RevokeResult {
  receipts: RevokeNodeResult[];
  /** At least n - m + 1 nodes receipted: no m honest nodes are left to re-encrypt. */
  accessGone: boolean;
  /** Whether the revocation was stored by at least one DHT peer. */
  published: boolean;
}

export interface DecryptOptions extends CallOptions {
  grant: string;
}

export type FileInput = Uint8Array | ByteSource;

interface Candidate {
  peer: PeerInfo;
  record: VerifiedNodeRecord;
  nodeId: Uint8Array;
}

interface FileJob {
  path: string;
  opened: OpenedHeader;
  index: number;
  capsule: Capsule;
  valid: Map<string, VerifiedCapsuleFrag>;
  failures: Map<string, NodeFailure>;
}

const defaultRng: Rng = (n) => crypto.getRandomValues(new Uint8Array(n));

export class ThreshClient {
  readonly identity: Identity;
  readonly transport: Transport;
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

  constructor(opts: ClientOptions) {
    if (opts === null || typeof opts !== 'object')
      throw new InvalidArgumentError('options', 'expected an object');
    if (!opts.identity) throw new InvalidArgumentError('identity', 'required');
    if (!opts.transport) throw new InvalidArgumentError('transport', 'required');
    this.identity = opts.identity;
    this.transport = opts.transport;
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
    const epoch = opts.epoch ?? 0;
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
          try {
            const req = StorePolicyRequest.encode({
              policy: policy.bytes,
              assignment: assignments[i].bytes,
              sealedKFrag: sealKFrag(kfrags[i], digest, c.nodeId, c.record.card.encryptingKey),
            });
            const bytes = await this.transport.call(
              c.peer,
              'storePolicy',
              req,
              anySignal(opts.signal, AbortSignal.timeout(this.#o.storeTimeoutMs)),
            );
            const reply = unwrapReply(StorePolicyReply.decode(bytes), c.peer.id);
            const receipt = verifyReceipt(reply.receipt, {
              op: 'store',
              nodeId: c.nodeId,
              policyDigest: digest,
              kfragId: kfragId(kfrags[i]),
              now: this.#now(),
            });
            return { ok: true as const, receipt };
          } catch (e) {
            const { reason, message } = reasonOf(e);
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
    try {
      const dhtId = policyMapDhtId(a.reader.encryptingKey, a.pathHash);
      const value = encodeDhtValue(
        { namespace: 'policy-map', id: dhtId, seq: a.policy.body.created, record: sealed },
        owner.signer,
      );
      const r = await this.transport.putRecord(
        makeDhtKey('policy-map', owner.card.signingKey, dhtId),
        value,
        a.signal,
      );
      this.#log('debug', 'published the policy map', { policyId, accepted: r.accepted });
    } catch (e) {
      this.#log('warn', 'could not publish the policy map', { policyId, err: String(e) });
    }
    return {
      policy: a.policy,
      policyId,
      nodeIds: a.policy.body.nodes,
      grantString,
      receipts: a.receipts,
      abandoned: a.abandoned,
    };
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
    const peers =
      pinned ??
      (await this.transport.closestNodes(policyId, Math.max(this.#o.selectionPeers, 2 * n), signal));
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

  /** A node's own signed record, checked: valid, and of the peer that answered. */
  async #fetchNodeRecord(peer: PeerInfo, signal: AbortSignal | undefined): Promise<VerifiedNodeRecord> {
    const bytes = await this.transport.call(
      peer,
      'nodeRecord',
      NodeRecordRequest.encode({}),
      anySignal(signal, AbortSignal.timeout(this.#o.selectionTimeoutMs)),
    );
    const reply = unwrapReply(NodeRecordReply.decode(bytes), peer.id);
    const record = verifyNodeRecord(reply.nodeRecord, { now: this.#now() });
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
   * kfrag of it, published in the DHT, and the policy marked revoked in the state file.
   */
  async revoke(policyId: string | Uint8Array, opts: CallOptions = {}): Promise<RevokeResult> {
    const hex = typeof policyId === 'string' ? policyId.toLowerCase() : toHexString(policyId);
    const entry = await this.#state.get(hex);
    if (!entry) throw new UnknownPolicyError(hex);
    const result = await this.#revokeEntry(entry, opts.signal);
    await this.#state.upsert(hex, (e) => ({
      ...(e ?? entry),
      status: e?.status === 'abandoned' ? 'abandoned' : 'revoked',
      revokedAt: this.#now(),
    }));
    return result;
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
        try {
          const bytes = await this.transport.call(
            node.peer,
            'revoke',
            req,
            anySignal(signal, AbortSignal.timeout(this.#o.storeTimeoutMs)),
          );
          const reply = unwrapReply(RevokeReply.decode(bytes), node.peer.id);
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
            reason: reasonOf(error).reason,
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
    return { receipts, accessGone: ok >= entry.shares - entry.threshold + 1, published: publishedOk };
  }

  // ------------------------------------------------------------------------------ reader

  /** Decrypts one file with a grant string; the whole plaintext. */
  async decrypt(file: FileInput, opts: DecryptOptions): Promise<Uint8Array> {
    return collect(await this.decryptStream(file, opts));
  }

  /**
   * Opens the grant, reads the header, gathers m verified cfrags and returns the plaintext as a
   * stream (chunks are authenticated one by one: a tampered chunk fails when it is reached).
   */
  async decryptStream(file: FileInput, opts: DecryptOptions): Promise<AsyncIterable<Uint8Array>> {
    const map = this.#openGrant(opts.grant);
    const job = await this.#job(map, file);
    await this.#gather(map, [job], opts.signal);
    return this.#open(map, job);
  }

  /** Decrypts many files of one grant, one request per node for all of them (batched items). */
  async decryptMany(files: readonly FileInput[], opts: DecryptOptions): Promise<Uint8Array[]> {
    const map = this.#openGrant(opts.grant);
    const jobs: FileJob[] = [];
    for (const f of files) jobs.push(await this.#job(map, f));
    if (jobs.length === 0) return [];
    await this.#gather(map, jobs, opts.signal);
    const out: Uint8Array[] = [];
    for (const job of jobs) out.push(await collect(this.#open(map, job)));
    return out;
  }

  /**
   * Finds the reader's grant in the DHT (DESIGN.md "Decrypt": "or the DHT by owner card and
   * path"): the sealed map the owner published for the deepest prefix of `path` that has one,
   * as a grant string, or undefined. The map is opened and verified before it is returned.
   */
  async findGrant(
    owner: Card,
    path: string,
    opts: CallOptions & { epoch?: number } = {},
  ): Promise<string | undefined> {
    const canonical = canonicalPath(path);
    const epoch = opts.epoch ?? 0;
    const reader = this.identity;
    const secret = pathHashSecret(reader.encryptingKey, owner.encryptingKey, reader.card.encryptingKey);
    try {
      const prefixes = pathPrefixes(canonical).reverse();
      for (const prefix of prefixes) {
        const dhtId = policyMapDhtId(reader.card.encryptingKey, secret.hash(prefix, epoch));
        let value: Uint8Array | undefined;
        try {
          value = await this.transport.getRecord(
            makeDhtKey('policy-map', owner.signingKey, dhtId),
            opts.signal,
          );
        } catch (e) {
          throwIfAborted(opts.signal, 'findGrant');
          this.#log('debug', 'policy map lookup failed', { prefix, err: String(e) });
          continue;
        }
        if (value === undefined) continue;
        const grant = encodeGrant(decodeDhtValue(value).record);
        try {
          const map = this.#openGrant(grant);
          if (map.policy.owner.equals(owner) && map.prefix === prefix) return grant;
        } catch (e) {
          this.#log('debug', 'a published policy map does not open', { prefix, err: String(e) });
        }
      }
      return undefined;
    } finally {
      secret.wipe();
    }
  }

  #openGrant(grant: string): VerifiedPolicyMap {
    return openGrant(grant, this.identity, { now: this.#now() });
  }

  async #job(map: VerifiedPolicyMap, file: FileInput): Promise<FileJob> {
    const source: ByteSource = file instanceof Uint8Array ? [file] : file;
    const opened = await readFileHeader(source, { now: this.#now() });
    const body = opened.header.body;
    const path = body.p;
    const prefix = map.prefix;
    if (!isAncestorOrSelf(prefix, path))
      throw new NotGrantedError(path, prefix, 'the path is outside the granted level');
    if (!opened.ownerCard.equals(map.policy.owner)) {
      throw new NotGrantedError(path, prefix, 'the file belongs to another owner');
    }
    const index = levelIndex(opened.header, pathDepth(prefix));
    if (index < 0) throw new NotGrantedError(path, prefix, 'the file has no capsule for the granted level');
    if (body.l[index].e !== map.epoch) {
      throw new NotGrantedError(
        path,
        prefix,
        `the file uses epoch ${body.l[index].e}, the grant epoch ${map.epoch}`,
      );
    }
    return {
      path,
      opened,
      index,
      capsule: Capsule.fromBytes(body.l[index].c),
      valid: new Map(),
      failures: new Map(),
    };
  }

  #open(map: VerifiedPolicyMap, job: FileJob): AsyncIterable<Uint8Array> {
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
      const timer = setTimeout(() => {
        if (finished || lacking() === 0) return;
        while (launched < order.length) launch();
      }, this.#o.staggerMs);
      settle();
    });
    throwIfAborted(signal, 'decrypt');
    for (const job of jobs) {
      if (job.valid.size < m) {
        throw new NotEnoughFragmentsError(job.path, job.valid.size, m, [...job.failures.values()]);
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

  async #askNode(
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
