/**
 * The signed records of thresh (DESIGN.md "Signed records"), except the directory-key record:
 * policy, assignment, sealed kfrag, receipt, revocation, node record, handoff certificate,
 * policy map and grant string. Each has a schema, a builder, a decoder (parses, trusts
 * nothing) and a verifier (signature and rules; returns a Verified* object or throws a typed
 * error).
 *
 * @example
 * ```ts
 * const owner = Identity.generate(), reader = Identity.generate();
 * const nodes = [1, 2, 3, 4, 5].map(() => Identity.generate());
 * const levelKey = SecretKey.random();
 * const kfrags = generateKFrags(levelKey, reader.card.encryptingKey, owner.signer, 3, 5, false, true);
 * const policy = makePolicy(owner, {
 *   reader: reader.card, pathHash, threshold: 3, shares: 5, expiry: nowSeconds() + 86400,
 *   precursor: kfragPrecursor(kfrags[0]), nodeIds: nodes.map((n) => nodeIdOf(n.card)),
 * });
 * const assignments = makeAssignments(owner, policy, kfrags);
 * const sealed = sealKFrag(kfrags[0], policy.digest(), nodeIdOf(nodes[0].card), nodes[0].card.encryptingKey);
 * const map = makePolicyMap(owner, { policy, assignments, levelKey: levelKey.publicKey(), prefix: '/projects/x' });
 * const grant = makeGrant(map, reader.card);
 * openGrant(grant, reader).holders; // the nodes to ask
 * ```
 */
export {
  ASSIGNMENT_MAX_BYTES,
  type AssignmentBody,
  type AssignmentCheck,
  assignmentSchema,
  assignmentType,
  decodeAssignment,
  makeAssignment,
  makeAssignments,
  VerifiedAssignment,
  verifyAssignment,
} from './assignment.js';
export {
  bytesEqual,
  CAPSULE_BYTES,
  cardSchema,
  DIGEST_BYTES,
  digestSchema,
  KFRAG_BYTES,
  KFRAG_ID_BYTES,
  kfragId,
  kfragIdSchema,
  kfragPrecursor,
  kfragSignFlags,
  MAX_CLOCK_SKEW_SECONDS,
  NODE_ID_BYTES,
  nodeIdOf,
  nodeIdSchema,
  nodeKey,
  nowSeconds,
  POLICY_ID_BYTES,
  pointSchema,
  policyIdSchema,
  RECORD_TAGS,
  RecordMismatchError,
  type TimeOptions,
  TOMBSTONE_GRACE_SECONDS,
  VerifiedRecord,
} from './common.js';
export {
  decodeHandoffCertificate,
  HANDOFF_MAX_BYTES,
  type HandoffBody,
  type HandoffChain,
  type HandoffChainInput,
  type HandoffInit,
  handoffSchema,
  handoffType,
  MAX_HANDOFF_CHAIN,
  makeHandoffCertificate,
  resolveHandoffs,
  type VerifiedHandoff,
  verifyHandoffCertificate,
  verifyHandoffChain,
} from './handoff.js';
export {
  decodeNodeRecord,
  isNewerNodeRecord,
  MAX_ADDR_CHARS,
  MAX_NODE_ADDRS,
  MAX_PEER_ID_CHARS,
  MAX_VERSION_CHARS,
  makeNodeRecord,
  NODE_RECORD_MAX_BYTES,
  type NodeRecordBody,
  type NodeRecordCheck,
  type NodeRecordInit,
  nodeCanHold,
  nodeRecordSchema,
  nodeRecordType,
  VerifiedNodeRecord,
  verifyNodeRecord,
} from './node-record.js';
export {
  decodePolicy,
  MAX_SHARES,
  makePolicy,
  POLICY_MAX_BYTES,
  type PolicyAlgorithms,
  type PolicyBody,
  type PolicyCheck,
  type PolicyInit,
  PRE_ALGORITHM,
  policyAlgorithmsSchema,
  policySchema,
  policyType,
  VerifiedPolicy,
  verifyPolicy,
} from './policy.js';
export {
  decodeGrant,
  decodePolicyMap,
  encodeGrant,
  GRANT_PREFIX,
  MAX_MAP_HANDOFFS,
  makeGrant,
  makePolicyMap,
  type OpenGrantOptions,
  openGrant,
  openSealedMap,
  POLICY_MAP_MAX_BYTES,
  type PolicyMapBody,
  type PolicyMapCheck,
  type PolicyMapInit,
  policyMapSchema,
  policyMapType,
  sealedMapType,
  sealPolicyMap,
  VerifiedPolicyMap,
  verifyPolicyMap,
} from './policy-map.js';
export {
  decodeReceipt,
  makeReceipt,
  RECEIPT_MAX_BYTES,
  RECEIPT_OPS,
  type ReceiptBody,
  type ReceiptCheck,
  type ReceiptInit,
  type ReceiptOp,
  receiptSchema,
  receiptType,
  type VerifiedReceipt,
  verifyReceipt,
} from './receipt.js';
export {
  decodeRevocation,
  makeRevocation,
  REVOCATION_MAX_BYTES,
  type RevocationBody,
  type RevocationCheck,
  revocationSchema,
  revocationType,
  tombstoneUntil,
  type VerifiedRevocation,
  verifyRevocation,
} from './revocation.js';
export { DEM_OVERHEAD, type SealedBody } from './seal.js';
export {
  type KFragVerification,
  openAndVerifyKFrag,
  openAssignedKFrag,
  openSealedKFrag,
  type SealedKFragExpectations,
  sealedKFragPlaintextSchema,
  sealedKFragType,
  sealKFrag,
} from './sealed-kfrag.js';
export { recordSizes } from './sizes.js';
