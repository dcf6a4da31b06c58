/**
 * The handoff certificate (DESIGN.md "Signed records", "Nodes" / Handoff): a node leaving for
 * good passes a live kfrag to a replacement node and signs this certificate; the chain
 * owner's assignment -> A's certificate to B -> B's to C ... says who holds the kfrag now.
 *
 * Envelope ["handoff", 1, 0, [body bytes, signature (64)]]; the body is a MessagePack map:
 *
 * | key    | type          | meaning                                             |
 * |--------|---------------|-----------------------------------------------------|
 * | policy | bin 32        | policy digest                                       |
 * | kfrag  | bin 32        | kfrag id                                            |
 * | from   | bin 33        | old node id; its key signs the certificate          |
 * | to     | bin 33        | new node id, != from                                |
 * | time   | uint (Unix s) | when                                                |
 *
 * Chain rules (verifyHandoffChain): at most MAX_HANDOFF_CHAIN certificates; each signed by
 * the holder the previous link named (the assignment's node first); all about the policy's
 * digest and the assignment's kfrag id; times not decreasing, at most 300 s ahead of now and
 * before the policy's expiry; a new holder is never one of the policy's designated nodes nor
 * an earlier holder (a node holding two shares of one policy weakens the threshold); the last
 * names the expected final node. A node must also refuse a handoff of a second kfrag of a
 * policy it already holds one of, which one chain cannot show.
 */
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { unixSeconds, z } from '../codec/schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import { type AssignmentBody, VerifiedAssignment, verifyAssignment } from './assignment.js';
import {
  asSigned,
  assertBytes,
  assertIdentity,
  assertNodeId,
  assertNotFuture,
  bytesEqual,
  DIGEST_BYTES,
  digestSchema,
  issue,
  KFRAG_ID_BYTES,
  kfragIdSchema,
  nodeIdOf,
  nodeIdSchema,
  nodeKey,
  RECORD_CHECKED,
  RECORD_TAGS,
  RecordMismatchError,
  resolveNow,
  shortHex,
  signRecord,
  type TimeOptions,
  toHex,
  VerifiedRecord,
} from './common.js';
import { VerifiedPolicy } from './policy.js';

export const MAX_HANDOFF_CHAIN = 8;
export const HANDOFF_MAX_BYTES = 512;

export const handoffSchema = z
  .object({
    policy: digestSchema,
    kfrag: kfragIdSchema,
    from: nodeIdSchema,
    to: nodeIdSchema,
    time: unixSeconds,
  })
  .superRefine((h, ctx) => {
    if (bytesEqual(h.from, h.to)) issue(ctx, ['to'], 'a node cannot hand off to itself');
  });

export type HandoffBody = z.infer<typeof handoffSchema>;
export type VerifiedHandoff = VerifiedRecord<HandoffBody>;

export const handoffType = new SignedType<HandoffBody>(
  RECORD_TAGS.handoff,
  handoffSchema,
  0,
  HANDOFF_MAX_BYTES,
);

export interface HandoffInit {
  policyDigest: Uint8Array;
  kfragId: Uint8Array;
  /** The new node's id. */
  to: Uint8Array;
}

/** Signs a handoff certificate as the old node, dated now. */
export function makeHandoffCertificate(
  oldNode: Identity,
  init: HandoffInit,
  opts: TimeOptions = {},
): Signed<HandoffBody> {
  assertIdentity('oldNode', oldNode);
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError('handoff', 'expected an object');
  assertBytes('policyDigest', init.policyDigest, DIGEST_BYTES);
  assertBytes('kfragId', init.kfragId, KFRAG_ID_BYTES);
  assertNodeId('to', init.to);
  return signRecord(
    handoffType,
    {
      policy: init.policyDigest,
      kfrag: init.kfragId,
      from: nodeIdOf(oldNode.card),
      to: init.to,
      time: resolveNow(opts),
    },
    oldNode.signer,
  );
}

/** Decodes a handoff certificate without trusting it (see verifyHandoffCertificate). */
export function decodeHandoffCertificate(bytes: Uint8Array): Signed<HandoffBody> {
  return handoffType.decode(bytes);
}

/** Checks one certificate on its own: signed by `from`, dated at most 300 s ahead of now. */
export function verifyHandoffCertificate(
  input: Uint8Array | Signed<HandoffBody>,
  opts: TimeOptions = {},
): VerifiedHandoff {
  const now = resolveNow(opts);
  const signed = asSigned(handoffType, input);
  signed.assertSignedBy(nodeKey(signed.body.from));
  assertNotFuture('handoff.time', signed.body.time, now);
  return new VerifiedRecord(RECORD_CHECKED, signed);
}

export interface HandoffChainInput extends TimeOptions {
  policy: VerifiedPolicy;
  /** The owner's assignment of the kfrag to its first node. */
  assignment: VerifiedAssignment | Signed<AssignmentBody> | Uint8Array;
  /** In order: the assigned node's certificate first. */
  certificates: readonly (Uint8Array | Signed<HandoffBody>)[];
  /** The node the chain must end at (e.g. the node accepting the handoff). */
  finalNodeId: Uint8Array;
}

/** A checked chain: who held the kfrag, in order, ending at its current holder. */
export interface HandoffChain {
  readonly policy: VerifiedPolicy;
  readonly assignment: VerifiedAssignment;
  readonly certificates: readonly VerifiedHandoff[];
  /** The assigned node, then each new holder. */
  readonly holders: readonly Uint8Array[];
  readonly holder: Uint8Array;
}

/**
 * Checks a chain owner -> A -> B -> ... -> finalNodeId (see the rules at the top). Throws
 * DecodeError, SignatureError, NotYetValidError, RecordMismatchError or InvalidArgumentError.
 */
export function verifyHandoffChain(input: HandoffChainInput): HandoffChain {
  if (input === null || typeof input !== 'object')
    throw new InvalidArgumentError('chain', 'expected an object');
  const { policy, certificates, finalNodeId } = input;
  if (!(policy instanceof VerifiedPolicy)) {
    throw new InvalidArgumentError('policy', 'expected a VerifiedPolicy (call verifyPolicy first)');
  }
  const now = resolveNow(input);
  const assignment =
    input.assignment instanceof VerifiedAssignment
      ? input.assignment
      : verifyAssignment(input.assignment, policy);
  if (assignment.policy !== policy && !bytesEqual(assignment.policy.digest, policy.digest)) {
    throw new RecordMismatchError('assignment.policy', 'about another policy');
  }
  assertNodeId('finalNodeId', finalNodeId);
  if (!Array.isArray(certificates)) throw new InvalidArgumentError('certificates', 'expected an array');
  if (certificates.length > MAX_HANDOFF_CHAIN) {
    throw new RecordMismatchError(
      'handoff chain',
      `${certificates.length} links, over the limit of ${MAX_HANDOFF_CHAIN}`,
    );
  }
  const holders = [assignment.nodeId];
  const seen = new Set(policy.nodeIds.map(toHex));
  const checked: VerifiedHandoff[] = [];
  let lastTime = 0;
  certificates.forEach((c, i) => {
    const field = `handoff[${i}]`;
    const signed = asSigned(handoffType, c);
    const body = signed.body;
    const holder = holders[holders.length - 1];
    if (!bytesEqual(body.from, holder)) {
      throw new RecordMismatchError(`${field}.from`, `not the holder ${shortHex(holder)}`);
    }
    const cert = verifyHandoffCertificate(signed, { now });
    if (!bytesEqual(body.policy, policy.digest)) {
      throw new RecordMismatchError(`${field}.policy`, 'about another policy');
    }
    if (!bytesEqual(body.kfrag, assignment.kfragId)) {
      throw new RecordMismatchError(`${field}.kfrag`, 'about another kfrag');
    }
    if (body.time < lastTime)
      throw new RecordMismatchError(`${field}.time`, 'earlier than the previous link');
    if (body.time >= policy.body.expiry)
      throw new RecordMismatchError(`${field}.time`, 'after the policy expired');
    const to = toHex(body.to);
    if (seen.has(to)) {
      throw new RecordMismatchError(`${field}.to`, 'a designated node or an earlier holder of this kfrag');
    }
    seen.add(to);
    lastTime = body.time;
    holders.push(body.to);
    checked.push(cert);
  });
  const holder = holders[holders.length - 1];
  if (!bytesEqual(holder, finalNodeId)) {
    throw new RecordMismatchError(
      'handoff chain',
      `ends at ${shortHex(holder)}, not at ${shortHex(finalNodeId)}`,
    );
  }
  return { policy, assignment, certificates: checked, holders, holder };
}

/**
 * Orders an unordered set of certificates (e.g. from a policy map) into one chain per
 * assignment and checks each; returns the current holder of each assignment's kfrag, in the
 * assignments' order. A certificate about no assignment, a fork (two certificates from one
 * holder) or a certificate off the chain is a RecordMismatchError.
 */
export function resolveHandoffs(
  policy: VerifiedPolicy,
  assignments: readonly VerifiedAssignment[],
  certificates: readonly (Uint8Array | Signed<HandoffBody>)[],
  opts: TimeOptions = {},
): HandoffChain[] {
  const byKFrag = new Map<string, Signed<HandoffBody>[]>();
  for (const a of assignments) byKFrag.set(toHex(a.kfragId), []);
  certificates.forEach((c, i) => {
    const signed = asSigned(handoffType, c);
    const group = byKFrag.get(toHex(signed.body.kfrag));
    if (group === undefined) throw new RecordMismatchError(`handoffs[${i}].kfrag`, 'about no assigned kfrag');
    group.push(signed);
  });
  return assignments.map((a) => {
    const group = byKFrag.get(toHex(a.kfragId))!;
    if (group.length > MAX_HANDOFF_CHAIN) {
      throw new RecordMismatchError(
        'handoffs',
        `${group.length} handoffs of one kfrag, over ${MAX_HANDOFF_CHAIN}`,
      );
    }
    const chain: Signed<HandoffBody>[] = [];
    let holder = a.nodeId;
    while (chain.length < group.length) {
      const next = group.filter((s) => bytesEqual(s.body.from, holder));
      if (next.length === 0) break;
      if (next.length > 1) {
        throw new RecordMismatchError('handoffs', `two handoffs of kfrag ${shortHex(a.kfragId)} by one node`);
      }
      chain.push(next[0]);
      holder = next[0].body.to;
    }
    if (chain.length !== group.length) {
      throw new RecordMismatchError('handoffs', `a handoff of kfrag ${shortHex(a.kfragId)} is off its chain`);
    }
    return verifyHandoffChain({
      policy,
      assignment: a,
      certificates: chain,
      finalNodeId: holder,
      now: opts.now,
    });
  });
}
