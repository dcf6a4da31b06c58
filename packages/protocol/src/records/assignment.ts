/**
 * The assignment record (DESIGN.md "Signed records"): the owner's statement that kfrag `kfrag`
 * of policy `policy` goes to node `node`. With the sealed kfrag (which carries the same policy
 * digest and node id inside its ciphertext) it ties a kfrag to one node and one policy: the
 * kfrags themselves are not bound to the owner's level key (sign_delegating_key = false).
 *
 * Envelope ["assignment", 1, 0, [body bytes, signature (64)]]; the body is a MessagePack map:
 *
 * | key    | type   | meaning                                                       |
 * |--------|--------|---------------------------------------------------------------|
 * | policy | bin 32 | policy digest: SHA-256 of the whole signed policy record      |
 * | node   | bin 33 | node id (compressed signing key of the node), designated      |
 * | kfrag  | bin 32 | the Umbral kfrag's id (`kfragId(kfrag)`)                       |
 *
 * Verification: signature by the policy owner's signing key; the digest is the policy's; the
 * node is one of the policy's designated nodes (and the expected one, if given).
 */
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { z } from '../codec/schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { KeyFrag, VerifiedKeyFrag } from '../umbral/key-frag.js';
import {
  asSigned,
  assertIdentity,
  assertNodeId,
  bytesEqual,
  digestSchema,
  kfragId,
  kfragIdSchema,
  kfragPrecursor,
  nodeIdSchema,
  RECORD_TAGS,
  RecordMismatchError,
  shortHex,
  signRecord,
} from './common.js';
import { type PolicyBody, policyType, VerifiedPolicy } from './policy.js';

export const ASSIGNMENT_MAX_BYTES = 512;

export const assignmentSchema = z.object({
  policy: digestSchema,
  node: nodeIdSchema,
  kfrag: kfragIdSchema,
});

export type AssignmentBody = z.infer<typeof assignmentSchema>;

export const assignmentType = new SignedType<AssignmentBody>(
  RECORD_TAGS.assignment,
  assignmentSchema,
  0,
  ASSIGNMENT_MAX_BYTES,
);

function policyOf(policy: Signed<PolicyBody> | VerifiedPolicy): Signed<PolicyBody> {
  if (policy instanceof VerifiedPolicy) return policy.signed;
  return asSigned(policyType, policy);
}

/**
 * Assigns `kfrag` of `policy` to the designated node `nodeId`. The owner must be the policy's
 * owner and the kfrag must carry the policy's precursor.
 */
export function makeAssignment(
  owner: Identity,
  policy: Signed<PolicyBody> | VerifiedPolicy,
  nodeId: Uint8Array,
  kfrag: VerifiedKeyFrag | KeyFrag,
): Signed<AssignmentBody> {
  assertIdentity('owner', owner);
  const p = policyOf(policy);
  assertNodeId('nodeId', nodeId);
  if (!(kfrag instanceof KeyFrag) && !(kfrag instanceof VerifiedKeyFrag)) {
    throw new InvalidArgumentError('kfrag', 'expected a KeyFrag or VerifiedKeyFrag');
  }
  if (!bytesEqual(owner.card.bytes, p.body.owner)) {
    throw new InvalidArgumentError('owner', 'is not the owner of the policy');
  }
  if (!p.body.nodes.some((n) => bytesEqual(n, nodeId))) {
    throw new InvalidArgumentError('nodeId', `node ${shortHex(nodeId)} is not designated by the policy`);
  }
  if (!bytesEqual(kfragPrecursor(kfrag), p.body.precursor)) {
    throw new InvalidArgumentError('kfrag', "the kfrag's precursor is not the policy's");
  }
  return signRecord(
    assignmentType,
    { policy: p.digest(), node: nodeId, kfrag: kfragId(kfrag) },
    owner.signer,
  );
}

/** One assignment per designated node: kfrags[i] to the policy's nodes[i]. */
export function makeAssignments(
  owner: Identity,
  policy: Signed<PolicyBody> | VerifiedPolicy,
  kfrags: readonly (VerifiedKeyFrag | KeyFrag)[],
): Signed<AssignmentBody>[] {
  const p = policyOf(policy);
  if (!Array.isArray(kfrags) || kfrags.length !== p.body.n) {
    throw new InvalidArgumentError('kfrags', `expected an array of ${p.body.n} kfrags`);
  }
  return kfrags.map((k, i) => makeAssignment(owner, p, p.body.nodes[i], k));
}

/** Decodes an assignment without trusting it (see verifyAssignment). */
export function decodeAssignment(bytes: Uint8Array): Signed<AssignmentBody> {
  return assignmentType.decode(bytes);
}

const CHECKED = Symbol('VerifiedAssignment');

/** An assignment checked against its verified policy. Only verifyAssignment makes one. */
export class VerifiedAssignment {
  /** @internal */
  constructor(
    token: typeof CHECKED,
    readonly signed: Signed<AssignmentBody>,
    readonly policy: VerifiedPolicy,
  ) {
    if (token !== CHECKED) throw new InvalidArgumentError('assignment', 'use verifyAssignment()');
  }

  get body(): AssignmentBody {
    return this.signed.body;
  }

  get bytes(): Uint8Array {
    return this.signed.bytes;
  }

  get nodeId(): Uint8Array {
    return this.signed.body.node;
  }

  get kfragId(): Uint8Array {
    return this.signed.body.kfrag;
  }

  toString(): string {
    return `VerifiedAssignment:${shortHex(this.kfragId)}->${shortHex(this.nodeId)}`;
  }
}

export interface AssignmentCheck {
  /** The node that must be assigned (a node checking its own assignment). */
  nodeId?: Uint8Array;
}

/**
 * Checks the owner's signature (the policy's owner), that the assignment is about this policy
 * and names a designated node (the expected one, if given). Throws DecodeError,
 * SignatureError or RecordMismatchError.
 */
export function verifyAssignment(
  input: Uint8Array | Signed<AssignmentBody>,
  policy: VerifiedPolicy,
  check: AssignmentCheck = {},
): VerifiedAssignment {
  if (!(policy instanceof VerifiedPolicy)) {
    throw new InvalidArgumentError('policy', 'expected a VerifiedPolicy (call verifyPolicy first)');
  }
  const signed = asSigned(assignmentType, input);
  signed.assertSignedBy(policy.owner.signingKey);
  const body = signed.body;
  if (!bytesEqual(body.policy, policy.digest)) {
    throw new RecordMismatchError('assignment.policy', 'about another policy');
  }
  if (!policy.designates(body.node)) {
    throw new RecordMismatchError('assignment.node', `node ${shortHex(body.node)} is not designated`);
  }
  if (check.nodeId !== undefined) {
    assertNodeId('nodeId', check.nodeId);
    if (!bytesEqual(check.nodeId, body.node)) {
      throw new RecordMismatchError('assignment.node', 'assigned to another node');
    }
  }
  return new VerifiedAssignment(CHECKED, signed, policy);
}
