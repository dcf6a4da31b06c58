/**
 * The policy record (DESIGN.md "Signed records", "Grant"): signed by the owner, it says who
 * granted which level to whom, m-of-n, until when, and which nodes hold the kfrags.
 *
 * Envelope ["policy", 1, 0, [body bytes, signature (64)]]; the body is a MessagePack map:
 *
 * | key       | type                  | meaning                                                   |
 * |-----------|-----------------------|-----------------------------------------------------------|
 * | id        | bin 16                | policy id, random                                         |
 * | owner     | bin 67                | owner's card (binary form); its signing key signs this    |
 * | reader    | bin 67                | reader's card; the kfrags re-encrypt to its encrypting key|
 * | pathHash  | bin 32                | path hash of the granted level (DESIGN.md "Path hashes")  |
 * | epoch     | uint (u32)            | the level's epoch                                         |
 * | m         | uint, 1..255          | threshold                                                 |
 * | n         | uint, m..255          | shares                                                    |
 * | notBefore | uint (Unix s)         | valid from                                                |
 * | expiry    | uint (Unix s) > notBefore | valid while now < expiry                              |
 * | precursor | bin 33 (point)        | the kfrags' precursor: every kfrag of the policy has it;  |
 * |           |                       | readers drop cfrags with another precursor                |
 * | alg       | map { pre: str, aead: uint } | pre = "umbral-secp256k1-v0.10"; aead = 1 (XChaCha20-Poly1305) or 2 (AES-256-GCM) |
 * | nodes     | array of n bin 33     | designated node ids (node's compressed signing key), distinct; |
 * |           |                       | kfrag i goes to nodes[i]                                  |
 * | created   | uint (Unix s)         | when the owner signed it                                  |
 *
 * The policy digest, which other records name the policy by, is SHA-256 of the whole encoded
 * signed record (`Signed.digest()`).
 *
 * One policy id never has two signed versions (DESIGN.md "Grant" step 4): a failed grant is
 * abandoned and a new id made. Nothing here can enforce that (only the owner signs); nodes
 * that see a second version of a known id should refuse it.
 *
 * Verification: signature by the owner card's signing key; notBefore at most 300 s ahead of
 * now; now < expiry; created at most 300 s ahead; optionally the expected owner, reader and
 * that the policy designates a given node.
 */
import { type AeadId, DEFAULT_AEAD_ID, isAeadId } from '../aead/index.js';
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { u32, unixSeconds, z } from '../codec/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { Card } from '../identity/card.js';
import type { Identity } from '../identity/identity.js';
import { PublicKey } from '../umbral/keys.js';
import { draw, type RngOptions } from '../umbral/rng.js';
import {
  asSigned,
  assertBytes,
  assertCard,
  assertIdentity,
  assertNodeId,
  assertNotExpired,
  assertNotFuture,
  bytesEqual,
  cardSchema,
  DIGEST_BYTES,
  digestSchema,
  issue,
  nodeIdSchema,
  POLICY_ID_BYTES,
  pointSchema,
  policyIdSchema,
  RECORD_TAGS,
  RecordMismatchError,
  resolveNow,
  shortHex,
  signRecord,
  type TimeOptions,
  toHex,
} from './common.js';

/** The PRE suite of this major version. */
export const PRE_ALGORITHM = 'umbral-secp256k1-v0.10';
export const MAX_SHARES = 255;
/** 255 node ids come to ~9.5 KB; room for minor versions' optional fields. */
export const POLICY_MAX_BYTES = 16 * 1024;

const share = z.number().int().min(1).max(MAX_SHARES);

export const policyAlgorithmsSchema = z.object({
  pre: z.literal(PRE_ALGORITHM),
  aead: z.number().refine(isAeadId, { message: 'unknown AEAD id' }),
});

export const policySchema = z
  .object({
    id: policyIdSchema,
    owner: cardSchema,
    reader: cardSchema,
    pathHash: digestSchema,
    epoch: u32,
    m: share,
    n: share,
    notBefore: unixSeconds,
    expiry: unixSeconds,
    precursor: pointSchema,
    alg: policyAlgorithmsSchema,
    nodes: z.array(nodeIdSchema).min(1).max(MAX_SHARES),
    created: unixSeconds,
  })
  .superRefine((p, ctx) => {
    if (p.m > p.n) issue(ctx, ['m'], `threshold ${p.m} is over the ${p.n} shares`);
    if (p.expiry <= p.notBefore) issue(ctx, ['expiry'], 'must be after notBefore');
    if (p.nodes.length !== p.n) issue(ctx, ['nodes'], `expected ${p.n} node ids, got ${p.nodes.length}`);
    const seen = new Set<string>();
    p.nodes.forEach((node, i) => {
      const h = toHex(node);
      if (seen.has(h)) issue(ctx, ['nodes', i], 'node id repeated');
      seen.add(h);
    });
  });

export type PolicyBody = z.infer<typeof policySchema>;
export type PolicyAlgorithms = z.infer<typeof policyAlgorithmsSchema>;

export const policyType = new SignedType<PolicyBody>(RECORD_TAGS.policy, policySchema, 0, POLICY_MAX_BYTES);

export interface PolicyInit {
  reader: Card;
  /** Path hash of the granted level, 32 bytes. */
  pathHash: Uint8Array;
  /** Default 0. */
  epoch?: number;
  threshold: number;
  shares: number;
  /** Default now. */
  notBefore?: number;
  expiry: number;
  /** The kfrags' precursor, 33 bytes (`kfragPrecursor(kfrags[0])`). */
  precursor: Uint8Array;
  /** Exactly `shares` distinct node ids; kfrag i goes to nodeIds[i]. */
  nodeIds: readonly Uint8Array[];
  /** Default DEFAULT_AEAD_ID (XChaCha20-Poly1305). */
  aead?: AeadId;
}

/** Signs a new policy with a fresh random id. */
export function makePolicy(
  owner: Identity,
  init: PolicyInit,
  opts: TimeOptions & RngOptions = {},
): Signed<PolicyBody> {
  assertIdentity('owner', owner);
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError('policy', 'expected an object');
  assertCard('reader', init.reader);
  assertBytes('pathHash', init.pathHash, DIGEST_BYTES);
  assertBytes('precursor', init.precursor, 33);
  if (!Array.isArray(init.nodeIds)) throw new InvalidArgumentError('nodeIds', 'expected an array');
  init.nodeIds.forEach((id, i) => {
    assertNodeId(`nodeIds[${i}]`, id);
  });
  const now = resolveNow(opts);
  const notBefore = init.notBefore ?? now;
  if (typeof init.expiry === 'number' && init.expiry <= now) {
    throw new InvalidArgumentError('expiry', `must be in the future (now ${now})`);
  }
  return signRecord(
    policyType,
    {
      id: draw(opts.rng, POLICY_ID_BYTES).slice(),
      owner: owner.card.bytes,
      reader: init.reader.bytes,
      pathHash: init.pathHash,
      epoch: init.epoch ?? 0,
      m: init.threshold,
      n: init.shares,
      notBefore,
      expiry: init.expiry,
      precursor: init.precursor,
      alg: { pre: PRE_ALGORITHM, aead: init.aead ?? DEFAULT_AEAD_ID },
      nodes: [...init.nodeIds],
      created: now,
    },
    owner.signer,
  );
}

/** Decodes a policy record without trusting it (see verifyPolicy). */
export function decodePolicy(bytes: Uint8Array): Signed<PolicyBody> {
  return policyType.decode(bytes);
}

const CHECKED = Symbol('VerifiedPolicy');

/** A policy whose signature and validity window were checked. Only verifyPolicy makes one. */
export class VerifiedPolicy {
  readonly owner: Card;
  readonly reader: Card;
  readonly precursor: PublicKey;
  /** SHA-256 of the whole signed record. */
  readonly digest: Uint8Array;

  /** @internal */
  constructor(
    token: typeof CHECKED,
    readonly signed: Signed<PolicyBody>,
  ) {
    if (token !== CHECKED) throw new InvalidArgumentError('policy', 'use verifyPolicy()');
    this.owner = Card.fromBytes(signed.body.owner);
    this.reader = Card.fromBytes(signed.body.reader);
    this.precursor = PublicKey.fromCompressedBytes(signed.body.precursor);
    this.digest = signed.digest();
  }

  get body(): PolicyBody {
    return this.signed.body;
  }

  get bytes(): Uint8Array {
    return this.signed.bytes;
  }

  get id(): Uint8Array {
    return this.signed.body.id;
  }

  get nodeIds(): readonly Uint8Array[] {
    return this.signed.body.nodes;
  }

  /** Index of `nodeId` among the designated nodes, or -1. */
  indexOfNode(nodeId: Uint8Array): number {
    return this.signed.body.nodes.findIndex((n) => bytesEqual(n, nodeId));
  }

  designates(nodeId: Uint8Array): boolean {
    return this.indexOfNode(nodeId) >= 0;
  }

  toString(): string {
    return `VerifiedPolicy:${shortHex(this.id)}`;
  }
}

export interface PolicyCheck extends TimeOptions {
  /** The owner the caller expects. */
  owner?: Card;
  /** The reader the caller expects. */
  reader?: Card;
  /** A node that must be among the designated nodes (a node checking a store request). */
  nodeId?: Uint8Array;
}

/**
 * Checks the owner's signature, the validity window and the caller's expectations. Throws
 * DecodeError, SignatureError, ExpiredError, NotYetValidError or RecordMismatchError.
 */
export function verifyPolicy(
  input: Uint8Array | Signed<PolicyBody>,
  check: PolicyCheck = {},
): VerifiedPolicy {
  const now = resolveNow(check);
  const signed = asSigned(policyType, input);
  const body = signed.body;
  const owner = Card.fromBytes(body.owner);
  signed.assertSignedBy(owner.signingKey);
  assertNotFuture('policy.notBefore', body.notBefore, now);
  assertNotFuture('policy.created', body.created, now);
  assertNotExpired('policy.expiry', body.expiry, now);
  if (check.owner !== undefined) {
    assertCard('owner', check.owner);
    if (!bytesEqual(check.owner.bytes, body.owner)) {
      throw new RecordMismatchError('policy.owner', 'signed by another owner');
    }
  }
  if (check.reader !== undefined) {
    assertCard('reader', check.reader);
    if (!bytesEqual(check.reader.bytes, body.reader)) {
      throw new RecordMismatchError('policy.reader', 'granted to another reader');
    }
  }
  const policy = new VerifiedPolicy(CHECKED, signed);
  if (check.nodeId !== undefined) {
    assertNodeId('nodeId', check.nodeId);
    if (!policy.designates(check.nodeId)) {
      throw new RecordMismatchError('policy.nodes', `node ${shortHex(check.nodeId)} is not designated`);
    }
  }
  return policy;
}
