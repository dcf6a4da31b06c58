/**
 * The policy map and the grant string (DESIGN.md "Signed records", "Grant" step 5, "Decrypt"):
 * everything a reader needs to use a grant: the policy, its assignments, the granted level's
 * public key (the kfrags do not carry it: sign_delegating_key = false), the prefix and epoch.
 * The owner signs it, seals it to the reader's encrypting key, publishes the sealed bytes in
 * the DHT and hands the reader the grant string.
 *
 * Policy map: envelope ["policy-map", 1, 0, [body bytes, signature (64)]], owner-signed; the
 * body is a MessagePack map:
 *
 * | key         | type                              | meaning                                    |
 * |-------------|-----------------------------------|--------------------------------------------|
 * | policy      | bin <= 16 KiB                     | the whole signed policy record             |
 * | assignments | array 1..255 of bin <= 512        | the n signed assignment records            |
 * | levelKey    | bin 33 (point)                    | the granted level's public key (delegating key for cfrag checks) |
 * | prefix      | str, canonical path               | the granted level, e.g. "/projects/x"      |
 * | epoch       | uint (u32)                        | the level's epoch (= the policy's)         |
 * | handoffs    | optional array <= 512 of bin <= 512 | handoff certificates, any order          |
 * | created     | uint (Unix s)                     | when the owner signed it                   |
 *
 * Sealed map: envelope ["sealed-map", 1, 0, { capsule: bin 105, ct: bin }]: Umbral
 * `encrypt(reader encrypting key, signed map bytes)` (see seal.ts).
 *
 * Grant string: "thresh-grant1" + base64url without padding of (sealed map bytes || first 4
 * bytes of SHA-256(sealed map bytes)). Whitespace in a pasted grant is ignored; a truncated or
 * mistyped one fails the checksum.
 *
 * Verification (openGrant / verifyPolicyMap): the map is signed by the owner card in its
 * policy; the policy verifies (owner's signature, validity window) and names this reader; the
 * epochs agree; exactly n assignments, each signed by the owner, about this policy's digest,
 * naming n distinct designated nodes and n distinct kfrag ids; the handoffs form valid chains
 * from those assignments; the prefix is canonical; and the policy's path hash is that of
 * (prefix, epoch) (openGrant computes it from the reader's key; verifyPolicyMap takes it as a
 * callback).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { base64urlnopad } from '@scure/base';
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { u32, unixSeconds, z } from '../codec/schema.js';
import { DecodeError, InvalidArgumentError, TooLargeError } from '../errors.js';
import { Card } from '../identity/card.js';
import type { Identity } from '../identity/identity.js';
import { assertCanonicalPath } from '../path.js';
import { pathHashSecret } from '../pathkeys.js';
import { assertPublicKey, PublicKey } from '../umbral/keys.js';
import type { RngOptions } from '../umbral/rng.js';
import { ASSIGNMENT_MAX_BYTES, type AssignmentBody, assignmentType, verifyAssignment } from './assignment.js';
import {
  asSigned,
  assertCard,
  assertIdentity,
  assertNotFuture,
  bin,
  bytesEqual,
  pointSchema,
  RECORD_TAGS,
  RecordMismatchError,
  resolveNow,
  signRecord,
  type TimeOptions,
  toHex,
} from './common.js';
import {
  HANDOFF_MAX_BYTES,
  type HandoffBody,
  type HandoffChain,
  handoffType,
  resolveHandoffs,
} from './handoff.js';
import {
  MAX_SHARES,
  POLICY_MAX_BYTES,
  type PolicyBody,
  policyType,
  type VerifiedPolicy,
  verifyPolicy,
} from './policy.js';
import { sealedType, sealTo, unsealWith } from './seal.js';

export const MAX_MAP_HANDOFFS = 512;
/** 255 assignments come to ~55 KB, a 255-node policy ~9.5 KB; the rest is room for handoffs. */
export const POLICY_MAP_MAX_BYTES = 256 * 1024;
export const GRANT_PREFIX = 'thresh-grant1';
const GRANT_CHECKSUM_BYTES = 4;

function isCanonical(p: string): boolean {
  try {
    assertCanonicalPath(p);
    return true;
  } catch {
    return false;
  }
}

export const policyMapSchema = z.object({
  policy: bin({ min: 1, max: POLICY_MAX_BYTES }),
  assignments: z
    .array(bin({ min: 1, max: ASSIGNMENT_MAX_BYTES }))
    .min(1)
    .max(MAX_SHARES),
  levelKey: pointSchema,
  prefix: z.string().refine(isCanonical, { message: 'not a canonical path' }),
  epoch: u32,
  handoffs: z
    .array(bin({ min: 1, max: HANDOFF_MAX_BYTES }))
    .max(MAX_MAP_HANDOFFS)
    .optional(),
  created: unixSeconds,
});

export type PolicyMapBody = z.infer<typeof policyMapSchema>;

export const policyMapType = new SignedType<PolicyMapBody>(
  RECORD_TAGS.policyMap,
  policyMapSchema,
  0,
  POLICY_MAP_MAX_BYTES,
);

export const sealedMapType = sealedType(RECORD_TAGS.sealedMap, POLICY_MAP_MAX_BYTES);
const SEALED_MAP_MAX_BYTES = sealedMapType.maxBytes;
const GRANT_MAX_CHARS =
  GRANT_PREFIX.length + Math.ceil(((SEALED_MAP_MAX_BYTES + GRANT_CHECKSUM_BYTES) * 4) / 3) + 4;

export interface PolicyMapInit {
  policy: Signed<PolicyBody>;
  /** The policy's n assignments. */
  assignments: readonly Signed<AssignmentBody>[];
  /** The granted level's public key. */
  levelKey: PublicKey;
  /** The granted level's canonical path. */
  prefix: string;
  handoffs?: readonly Signed<HandoffBody>[];
}

/** Signs the map of a policy the owner made. */
export function makePolicyMap(
  owner: Identity,
  init: PolicyMapInit,
  opts: TimeOptions = {},
): Signed<PolicyMapBody> {
  assertIdentity('owner', owner);
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError('policy map', 'expected an object');
  const policy = asSigned(policyType, init.policy);
  if (!bytesEqual(policy.body.owner, owner.card.bytes)) {
    throw new InvalidArgumentError('owner', 'is not the owner of the policy');
  }
  if (!Array.isArray(init.assignments)) throw new InvalidArgumentError('assignments', 'expected an array');
  const assignments = init.assignments.map((a) => asSigned(assignmentType, a).bytes);
  assertPublicKey(init.levelKey, 'levelKey');
  assertCanonicalPath(init.prefix);
  const body: PolicyMapBody = {
    policy: policy.bytes,
    assignments,
    levelKey: init.levelKey.toCompressedBytes(),
    prefix: init.prefix,
    epoch: policy.body.epoch,
    created: resolveNow(opts),
  };
  if (init.handoffs !== undefined && !Array.isArray(init.handoffs)) {
    throw new InvalidArgumentError('handoffs', 'expected an array');
  }
  if (init.handoffs !== undefined && init.handoffs.length > 0) {
    body.handoffs = init.handoffs.map((h) => asSigned(handoffType, h).bytes);
  }
  return signRecord(policyMapType, body, owner.signer);
}

/** Decodes a policy map without trusting it (see verifyPolicyMap). */
export function decodePolicyMap(bytes: Uint8Array): Signed<PolicyMapBody> {
  return policyMapType.decode(bytes);
}

const CHECKED = Symbol('VerifiedPolicyMap');

/** A map checked for its reader. Only verifyPolicyMap (and so openGrant) makes one. */
export class VerifiedPolicyMap {
  readonly levelKey: PublicKey;

  /** @internal */
  constructor(
    token: typeof CHECKED,
    readonly signed: Signed<PolicyMapBody>,
    readonly policy: VerifiedPolicy,
    /** One chain per assignment, in the policy's node order: who holds each kfrag now. */
    readonly chains: readonly HandoffChain[],
  ) {
    if (token !== CHECKED) throw new InvalidArgumentError('policy map', 'use verifyPolicyMap()');
    this.levelKey = PublicKey.fromCompressedBytes(signed.body.levelKey);
  }

  get body(): PolicyMapBody {
    return this.signed.body;
  }

  get bytes(): Uint8Array {
    return this.signed.bytes;
  }

  get prefix(): string {
    return this.signed.body.prefix;
  }

  get epoch(): number {
    return this.signed.body.epoch;
  }

  get assignments() {
    return this.chains.map((c) => c.assignment);
  }

  /** The node that holds each kfrag now (after handoffs), in the policy's node order. */
  get holders(): Uint8Array[] {
    return this.chains.map((c) => c.holder);
  }

  toString(): string {
    return `VerifiedPolicyMap:${this.prefix}`;
  }
}

export interface PolicyMapCheck extends TimeOptions {
  /** The reader opening it. */
  reader: Card;
  /**
   * The path hash of (prefix, epoch) as owner and reader compute it (DESIGN.md "Path
   * hashes"); when given, the policy's path hash must equal it.
   */
  pathHash?: (prefix: string, epoch: number) => Uint8Array;
}

/**
 * Checks a map for `check.reader` (the rules at the top). Throws DecodeError, SignatureError,
 * ExpiredError, NotYetValidError or RecordMismatchError.
 */
export function verifyPolicyMap(
  input: Uint8Array | Signed<PolicyMapBody>,
  check: PolicyMapCheck,
): VerifiedPolicyMap {
  if (check === null || typeof check !== 'object')
    throw new InvalidArgumentError('check', 'expected { reader }');
  assertCard('reader', check.reader);
  const now = resolveNow(check);
  const signed = asSigned(policyMapType, input);
  const body = signed.body;
  const policySigned = policyType.decode(body.policy);
  // The map is signed by the owner card inside the policy, and the policy verifies under that
  // same card: one owner for both.
  signed.assertSignedBy(Card.fromBytes(policySigned.body.owner).signingKey);
  assertNotFuture('policy-map.created', body.created, now);
  const policy = verifyPolicy(policySigned, { reader: check.reader, now });
  if (body.epoch !== policy.body.epoch) {
    throw new RecordMismatchError(
      'policy-map.epoch',
      `${body.epoch} is not the policy's ${policy.body.epoch}`,
    );
  }
  if (body.assignments.length !== policy.body.n) {
    throw new RecordMismatchError(
      'policy-map.assignments',
      `expected ${policy.body.n} assignments, got ${body.assignments.length}`,
    );
  }
  const assignments = body.assignments.map((a) => verifyAssignment(a, policy));
  const byNode = new Map(assignments.map((a) => [toHex(a.nodeId), a]));
  if (byNode.size !== assignments.length) {
    throw new RecordMismatchError('policy-map.assignments', 'two assignments to one node');
  }
  if (new Set(assignments.map((a) => toHex(a.kfragId))).size !== assignments.length) {
    throw new RecordMismatchError('policy-map.assignments', 'one kfrag assigned twice');
  }
  // n distinct designated nodes out of n: every node is assigned once. Keep the policy's order.
  const ordered = policy.nodeIds.map((n) => byNode.get(toHex(n))!);
  const chains = resolveHandoffs(policy, ordered, body.handoffs ?? [], { now });
  if (check.pathHash !== undefined) {
    if (typeof check.pathHash !== 'function')
      throw new InvalidArgumentError('pathHash', 'expected a function');
    const expected = check.pathHash(body.prefix, body.epoch);
    if (!(expected instanceof Uint8Array) || !bytesEqual(expected, policy.body.pathHash)) {
      throw new RecordMismatchError('policy.pathHash', `not the path hash of ${JSON.stringify(body.prefix)}`);
    }
  }
  return new VerifiedPolicyMap(CHECKED, signed, policy, chains);
}

/** Seals a signed map to its reader (the reader card in its policy must be `reader`). */
export function sealPolicyMap(map: Signed<PolicyMapBody>, reader: Card, opts: RngOptions = {}): Uint8Array {
  const signed = asSigned(policyMapType, map);
  assertCard('reader', reader);
  const policy = policyType.decode(signed.body.policy);
  if (!bytesEqual(policy.body.reader, reader.bytes)) {
    throw new InvalidArgumentError('reader', 'is not the reader of the policy');
  }
  return sealTo(sealedMapType, reader.encryptingKey, signed.bytes, opts);
}

/** Decrypts a sealed map with the reader's encrypting key; the map is not yet verified. */
export function openSealedMap(sealed: Uint8Array, reader: Identity): Signed<PolicyMapBody> {
  assertIdentity('reader', reader);
  return policyMapType.decode(unsealWith(sealedMapType, sealed, reader.encryptingKey));
}

/** The printable grant of sealed map bytes. */
export function encodeGrant(sealed: Uint8Array): string {
  if (!(sealed instanceof Uint8Array)) throw new InvalidArgumentError('sealed map', 'expected a Uint8Array');
  if (sealed.length > SEALED_MAP_MAX_BYTES)
    throw new TooLargeError('sealed map', SEALED_MAP_MAX_BYTES, sealed.length);
  const out = new Uint8Array(sealed.length + GRANT_CHECKSUM_BYTES);
  out.set(sealed);
  out.set(sha256(sealed).subarray(0, GRANT_CHECKSUM_BYTES), sealed.length);
  return GRANT_PREFIX + base64urlnopad.encode(out);
}

/** The sealed map bytes of a grant string; a wrong prefix, bad characters or checksum is a DecodeError. */
export function decodeGrant(grant: string): Uint8Array {
  if (typeof grant !== 'string') throw new DecodeError('grant', 'expected a string');
  if (grant.length > 2 * GRANT_MAX_CHARS) throw new TooLargeError('grant', GRANT_MAX_CHARS, grant.length);
  const text = grant.replace(/\s+/g, '');
  if (text.length > GRANT_MAX_CHARS) throw new TooLargeError('grant', GRANT_MAX_CHARS, text.length);
  if (!text.startsWith(GRANT_PREFIX)) throw new DecodeError('grant', `a grant starts with "${GRANT_PREFIX}"`);
  let raw: Uint8Array;
  try {
    raw = base64urlnopad.decode(text.slice(GRANT_PREFIX.length));
  } catch (cause) {
    throw new DecodeError('grant', 'bad characters or length: the grant is damaged or cut short', { cause });
  }
  if (raw.length <= GRANT_CHECKSUM_BYTES) throw new DecodeError('grant', 'too short');
  const sealed = raw.subarray(0, raw.length - GRANT_CHECKSUM_BYTES);
  const sum = raw.subarray(raw.length - GRANT_CHECKSUM_BYTES);
  if (!bytesEqual(sha256(sealed).subarray(0, GRANT_CHECKSUM_BYTES), sum)) {
    throw new DecodeError('grant', 'checksum mismatch: the grant is damaged, cut short or mistyped');
  }
  return sealed.slice();
}

/** Seals `map` to `reader` and prints it as a grant string. */
export function makeGrant(map: Signed<PolicyMapBody>, reader: Card, opts: RngOptions = {}): string {
  return encodeGrant(sealPolicyMap(map, reader, opts));
}

export type OpenGrantOptions = TimeOptions;

/**
 * Decodes, decrypts and verifies a grant for `reader`, including that the policy's path hash
 * is the one owner and reader share for the map's (prefix, epoch) (DESIGN.md "Path hashes"),
 * so the map cannot name one level while the policy covers another. Another reader gets a
 * DecryptionError.
 */
export function openGrant(grant: string, reader: Identity, opts: OpenGrantOptions = {}): VerifiedPolicyMap {
  assertIdentity('reader', reader);
  const map = openSealedMap(decodeGrant(grant), reader);
  const owner = Card.fromBytes(policyType.decode(map.body.policy).body.owner);
  const secret = pathHashSecret(reader.encryptingKey, owner.encryptingKey, reader.card.encryptingKey);
  try {
    return verifyPolicyMap(map, {
      reader: reader.card,
      now: opts.now,
      pathHash: (prefix, epoch) => secret.hash(prefix, epoch),
    });
  } finally {
    secret.wipe();
  }
}
