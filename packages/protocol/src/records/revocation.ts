/**
 * The revocation (DESIGN.md "Signed records", "Revoke, expiry, rotation"): the owner's signed
 * order to delete every kfrag of one policy. Any valid revocation is final: there is no
 * un-revoke, and a revocation never expires; nodes keep a tombstone of it until the policy's
 * expiry plus one day (TOMBSTONE_GRACE_SECONDS) and republish it in the DHT until then.
 *
 * Envelope ["revocation", 1, 0, [body bytes, signature (64)]]; the body is a MessagePack map:
 *
 * | key     | type          | meaning                                                        |
 * |---------|---------------|----------------------------------------------------------------|
 * | owner   | bin 67        | owner's card; its signing key signs the revocation             |
 * | policy  | bin 16        | policy id                                                      |
 * | expiry  | uint (Unix s) | the policy's expiry: tombstones are kept until expiry + 1 day  |
 * | created | uint (Unix s) | when the owner signed it                                       |
 *
 * A revocation names the policy by id, not digest: one policy id never has two signed
 * versions, and revoking by id also kills any version a node might have been shown. It applies
 * to a policy only if the owner card is the policy's (anyone can sign a revocation of an id).
 *
 * Verification: signature by the owner card's signing key; created at most 300 s ahead of
 * now; optionally that it revokes a given policy (same owner card, same id).
 */
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { unixSeconds, z } from '../codec/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { Card } from '../identity/card.js';
import type { Identity } from '../identity/identity.js';
import {
  asSigned,
  assertBytes,
  assertCard,
  assertIdentity,
  assertNotFuture,
  bytesEqual,
  cardSchema,
  POLICY_ID_BYTES,
  policyIdSchema,
  RECORD_CHECKED,
  RECORD_TAGS,
  RecordMismatchError,
  resolveNow,
  signRecord,
  type TimeOptions,
  TOMBSTONE_GRACE_SECONDS,
  VerifiedRecord,
} from './common.js';
import type { PolicyBody } from './policy.js';

export const REVOCATION_MAX_BYTES = 512;

export const revocationSchema = z.object({
  owner: cardSchema,
  policy: policyIdSchema,
  expiry: unixSeconds,
  created: unixSeconds,
});

export type RevocationBody = z.infer<typeof revocationSchema>;
export type VerifiedRevocation = VerifiedRecord<RevocationBody>;

export const revocationType = new SignedType<RevocationBody>(
  RECORD_TAGS.revocation,
  revocationSchema,
  0,
  REVOCATION_MAX_BYTES,
);

/** Revokes a policy: pass its body, or `{ id, expiry }` of one the owner made. */
export function makeRevocation(
  owner: Identity,
  policy: Pick<PolicyBody, 'id' | 'expiry'>,
  opts: TimeOptions = {},
): Signed<RevocationBody> {
  assertIdentity('owner', owner);
  if (policy === null || typeof policy !== 'object') {
    throw new InvalidArgumentError('policy', 'expected { id, expiry }');
  }
  assertBytes('policy.id', policy.id, POLICY_ID_BYTES);
  if (
    'owner' in policy &&
    policy.owner instanceof Uint8Array &&
    !bytesEqual(policy.owner, owner.card.bytes)
  ) {
    throw new InvalidArgumentError('owner', 'is not the owner of the policy');
  }
  return signRecord(
    revocationType,
    { owner: owner.card.bytes, policy: policy.id, expiry: policy.expiry, created: resolveNow(opts) },
    owner.signer,
  );
}

/** Decodes a revocation without trusting it (see verifyRevocation). */
export function decodeRevocation(bytes: Uint8Array): Signed<RevocationBody> {
  return revocationType.decode(bytes);
}

export interface RevocationCheck extends TimeOptions {
  /** The policy it must revoke: same owner card and id. */
  policy?: Pick<PolicyBody, 'id' | 'owner'>;
  /** The owner it must be signed by. */
  owner?: Card;
}

/**
 * Checks the owner's signature, the creation time and the caller's expectations. Throws
 * DecodeError, SignatureError, NotYetValidError or RecordMismatchError.
 */
export function verifyRevocation(
  input: Uint8Array | Signed<RevocationBody>,
  check: RevocationCheck = {},
): VerifiedRevocation {
  const now = resolveNow(check);
  const signed = asSigned(revocationType, input);
  const body = signed.body;
  signed.assertSignedBy(Card.fromBytes(body.owner).signingKey);
  assertNotFuture('revocation.created', body.created, now);
  if (check.owner !== undefined) {
    assertCard('owner', check.owner);
    if (!bytesEqual(check.owner.bytes, body.owner)) {
      throw new RecordMismatchError('revocation.owner', 'signed by another owner');
    }
  }
  if (check.policy !== undefined) {
    if (check.policy === null || typeof check.policy !== 'object') {
      throw new InvalidArgumentError('policy', 'expected a policy body');
    }
    assertBytes('policy.id', check.policy.id, POLICY_ID_BYTES);
    assertBytes('policy.owner', check.policy.owner);
    if (!bytesEqual(check.policy.owner, body.owner)) {
      throw new RecordMismatchError('revocation.owner', "not the policy's owner");
    }
    if (!bytesEqual(check.policy.id, body.policy)) {
      throw new RecordMismatchError('revocation.policy', 'revokes another policy');
    }
  }
  return new VerifiedRecord(RECORD_CHECKED, signed);
}

/**
 * Until when a node keeps the tombstone: one day past the later of the revocation's and the
 * policy's expiry (they agree unless the owner erred; a revocation stays final either way).
 */
export function tombstoneUntil(revocation: RevocationBody, policyExpiry?: number): number {
  return Math.max(revocation.expiry, policyExpiry ?? 0) + TOMBSTONE_GRACE_SECONDS;
}
