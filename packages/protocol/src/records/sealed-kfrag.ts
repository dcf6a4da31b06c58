/**
 * The sealed kfrag (DESIGN.md "Signed records", "Grant" step 3): a kfrag encrypted to one
 * node's encrypting key, bound to that node and to one policy, so that it cannot be moved to
 * another node or policy.
 *
 * Envelope ["sealed-kfrag", 1, 0, body]; body is a MessagePack map:
 *
 * | key     | type              | meaning                                                    |
 * |---------|-------------------|------------------------------------------------------------|
 * | capsule | bin 105           | Umbral capsule of `encrypt(node encrypting key, plaintext)`|
 * | ct      | bin 40..~460      | DEM ciphertext: 24-byte nonce, XChaCha20-Poly1305 output   |
 *
 * The plaintext is a MessagePack map (not an envelope; the outer one versions it):
 *
 * | key    | type    | meaning                                          |
 * |--------|---------|--------------------------------------------------|
 * | kfrag  | bin 310 | KeyFrag.toBytes() (Umbral's own bytes)           |
 * | policy | bin 32  | policy digest                                    |
 * | node   | bin 33  | node id of the recipient (its signing key)       |
 *
 * Opening checks that the policy digest and node id inside are the ones the node expects.
 * Kfrags are made with sign_delegating_key = false and sign_receiving_key = true (DESIGN.md):
 * the node verifies one with `verify(owner signing key, null, reader encrypting key)`. Such a
 * kfrag is not bound to the owner's level key, so its binding to the policy comes from this
 * plaintext and from the owner-signed assignment (kfrag id, node, policy digest).
 */
import { pack, unpack } from '../codec/msgpack.js';
import { parseWith, z } from '../codec/schema.js';
import { InvalidArgumentError, KeyFragVerificationError } from '../errors.js';
import { KeyFrag, VerifiedKeyFrag } from '../umbral/key-frag.js';
import { assertPublicKey, type PublicKey, type SecretKey } from '../umbral/keys.js';
import type { RngOptions } from '../umbral/rng.js';
import { VerifiedAssignment } from './assignment.js';
import {
  assertBytes,
  assertNodeId,
  bin,
  bytesEqual,
  DIGEST_BYTES,
  digestSchema,
  KFRAG_BYTES,
  kfragId,
  kfragPrecursor,
  kfragSignFlags,
  nodeIdSchema,
  RECORD_TAGS,
  RecordMismatchError,
} from './common.js';
import type { VerifiedPolicy } from './policy.js';
import { sealedType, sealTo, unsealWith } from './seal.js';

const PLAINTEXT_MAX = 512;

export const sealedKFragPlaintextSchema = z.object({
  kfrag: bin(KFRAG_BYTES),
  policy: digestSchema,
  node: nodeIdSchema,
});

export const sealedKFragType = sealedType(RECORD_TAGS.sealedKFrag, PLAINTEXT_MAX);

/** Seals a kfrag to the node `nodeId`, whose encrypting key (from its card) is `nodeEncryptingPk`. */
export function sealKFrag(
  kfrag: VerifiedKeyFrag,
  policyDigest: Uint8Array,
  nodeId: Uint8Array,
  nodeEncryptingPk: PublicKey,
  opts: RngOptions = {},
): Uint8Array {
  if (!(kfrag instanceof VerifiedKeyFrag))
    throw new InvalidArgumentError('kfrag', 'expected a VerifiedKeyFrag');
  assertBytes('policyDigest', policyDigest, DIGEST_BYTES);
  assertNodeId('nodeId', nodeId);
  assertPublicKey(nodeEncryptingPk, 'node encrypting key');
  const kfragBytes = kfrag.toBytes();
  const plaintext = pack({ kfrag: kfragBytes, policy: policyDigest, node: nodeId });
  try {
    return sealTo(sealedKFragType, nodeEncryptingPk, plaintext, opts);
  } finally {
    kfragBytes.fill(0);
    plaintext.fill(0);
  }
}

export interface SealedKFragExpectations {
  /** The digest of the policy the node was sent. */
  expectedPolicyDigest: Uint8Array;
  /** The opening node's own id. */
  expectedNodeId: Uint8Array;
}

/**
 * Decrypts with the node's encrypting secret key and checks the binding. Returns the kfrag
 * unverified: see openAndVerifyKFrag. Another node's key or altered bytes give a
 * DecryptionError; a kfrag for another policy or node a RecordMismatchError.
 */
export function openSealedKFrag(
  bytes: Uint8Array,
  nodeEncryptingSk: SecretKey,
  expect: SealedKFragExpectations,
): KeyFrag {
  if (expect === null || typeof expect !== 'object') {
    throw new InvalidArgumentError('expectations', 'expected { expectedPolicyDigest, expectedNodeId }');
  }
  assertBytes('expectedPolicyDigest', expect.expectedPolicyDigest, DIGEST_BYTES);
  assertNodeId('expectedNodeId', expect.expectedNodeId);
  const plaintext = unsealWith(sealedKFragType, bytes, nodeEncryptingSk);
  try {
    const inner = parseWith(
      sealedKFragPlaintextSchema,
      unpack(plaintext, `${RECORD_TAGS.sealedKFrag}.plaintext`, PLAINTEXT_MAX),
      `${RECORD_TAGS.sealedKFrag}.plaintext`,
    );
    try {
      if (!bytesEqual(inner.policy, expect.expectedPolicyDigest)) {
        throw new RecordMismatchError('sealed-kfrag.policy', 'sealed for another policy');
      }
      if (!bytesEqual(inner.node, expect.expectedNodeId)) {
        throw new RecordMismatchError('sealed-kfrag.node', 'sealed for another node');
      }
      return KeyFrag.fromBytes(inner.kfrag);
    } finally {
      inner.kfrag.fill(0);
    }
  } finally {
    plaintext.fill(0);
  }
}

export interface KFragVerification extends SealedKFragExpectations {
  /** The policy owner's signing key (from the owner card in the policy). */
  ownerVerifyingKey: PublicKey;
  /** The reader's encrypting key (from the reader card in the policy). */
  readerEncryptingKey: PublicKey;
}

/**
 * openSealedKFrag, then `KeyFrag.verify(owner, null, reader)`. A kfrag that does not sign the
 * reader's key (sign_receiving_key = false) is refused: it would re-encrypt for anyone.
 */
export function openAndVerifyKFrag(
  bytes: Uint8Array,
  nodeEncryptingSk: SecretKey,
  v: KFragVerification,
): VerifiedKeyFrag {
  if (v === null || typeof v !== 'object')
    throw new InvalidArgumentError('verification', 'expected an object');
  assertPublicKey(v.ownerVerifyingKey, 'ownerVerifyingKey');
  assertPublicKey(v.readerEncryptingKey, 'readerEncryptingKey');
  const kfrag = openSealedKFrag(bytes, nodeEncryptingSk, v);
  const flags = kfragSignFlags(kfrag);
  if (!flags.receivingKey) {
    throw new KeyFragVerificationError(
      'receiving-key-missing',
      "the kfrag does not sign the reader's key (sign_receiving_key must be true)",
    );
  }
  if (flags.delegatingKey) {
    throw new KeyFragVerificationError(
      'delegating-key-unexpected',
      'the kfrag signs the delegating key (sign_delegating_key must be false)',
    );
  }
  return kfrag.verify(v.ownerVerifyingKey, null, v.readerEncryptingKey);
}

/**
 * Everything a node checks of a kfrag it is sent, given the verified policy and its verified
 * assignment: opens for the assigned node and this policy, verifies with the policy's owner
 * and reader, and checks the kfrag's id (the assignment's) and precursor (the policy's).
 */
export function openAssignedKFrag(
  bytes: Uint8Array,
  nodeEncryptingSk: SecretKey,
  assignment: VerifiedAssignment,
): VerifiedKeyFrag {
  if (!(assignment instanceof VerifiedAssignment)) {
    throw new InvalidArgumentError(
      'assignment',
      'expected a VerifiedAssignment (call verifyAssignment first)',
    );
  }
  const policy: VerifiedPolicy = assignment.policy;
  const kfrag = openAndVerifyKFrag(bytes, nodeEncryptingSk, {
    expectedPolicyDigest: policy.digest,
    expectedNodeId: assignment.nodeId,
    ownerVerifyingKey: policy.owner.signingKey,
    readerEncryptingKey: policy.reader.encryptingKey,
  });
  if (!bytesEqual(kfragId(kfrag), assignment.kfragId)) {
    throw new RecordMismatchError('sealed-kfrag.kfrag', 'not the kfrag the assignment names');
  }
  if (!bytesEqual(kfragPrecursor(kfrag), policy.body.precursor)) {
    throw new RecordMismatchError('sealed-kfrag.kfrag', "the kfrag's precursor is not the policy's");
  }
  return kfrag;
}
