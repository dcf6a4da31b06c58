/**
 * Requests and replies of store-policy, revoke, node-record/status and handoff (DESIGN.md
 * "Grant", "Revoke", "Nodes"); reencrypt is in reencrypt.ts. Each is a MessageType: one zod
 * schema, envelope [tag, 1, minor, body], and a maxBytes equal to its protocol's frame limit.
 * Signed records travel as their own bytes, bounded here and parsed and verified by the
 * handler with records/* after the message decodes. Every reply is its success shape or the
 * error reply { error: { code, message } }.
 */
import { MessageType } from '../codec/envelope.js';
import { safeUint, unixSeconds, z } from '../codec/schema.js';
import { recordBytes, WIRE_SIZES } from './fields.js';
import { PROTOCOL_LIMITS } from './protocols.js';
import { replyOf } from './reply.js';

/** Bound on the optional DHT value a revoke request carries (a revocation plus ~300 bytes). */
export const REVOKE_PUBLISHED_MAX_BYTES = 2 * 1024;

// ------------------------------------------------------------------------- store-policy

export const storePolicyRequestSchema = z.object({
  /** The owner-signed policy record. */
  policy: recordBytes(WIRE_SIZES.maxPolicy),
  /** The owner-signed assignment of one kfrag of that policy to this node. */
  assignment: recordBytes(WIRE_SIZES.maxAssignment),
  /** The kfrag sealed to this node's encrypting key. */
  sealedKFrag: recordBytes(WIRE_SIZES.maxSealedKFrag),
});
export type StorePolicyRequest = z.infer<typeof storePolicyRequestSchema>;

/** A node's signed receipt of a store, revoke or handoff. */
export const receiptReplySchema = replyOf({ receipt: recordBytes(WIRE_SIZES.maxReceipt) });
export type ReceiptReply = z.infer<typeof receiptReplySchema>;

export const StorePolicyRequest = new MessageType<StorePolicyRequest>(
  'store-policy.req',
  storePolicyRequestSchema,
  0,
  PROTOCOL_LIMITS.storePolicy.maxRequestBytes,
);
export const StorePolicyReply = new MessageType<ReceiptReply>(
  'store-policy.res',
  receiptReplySchema,
  0,
  PROTOCOL_LIMITS.storePolicy.maxResponseBytes,
);

// ------------------------------------------------------------------------------- revoke

export const revokeRequestSchema = z.object({
  /** The owner-signed revocation. */
  revocation: recordBytes(WIRE_SIZES.maxRevocation),
  /**
   * Optional: the owner's signed DHT value carrying this revocation (dht-record.ts), so the
   * node can republish it while it keeps the tombstone (DESIGN.md "Revoke") without a lookup.
   * The node validates it like any DHT value and ignores it if it does not match.
   */
  published: recordBytes(REVOKE_PUBLISHED_MAX_BYTES).optional(),
});
export type RevokeRequest = z.infer<typeof revokeRequestSchema>;

export const RevokeRequest = new MessageType<RevokeRequest>(
  'revoke.req',
  revokeRequestSchema,
  0,
  PROTOCOL_LIMITS.revoke.maxRequestBytes,
);
export const RevokeReply = new MessageType<ReceiptReply>(
  'revoke.res',
  receiptReplySchema,
  0,
  PROTOCOL_LIMITS.revoke.maxResponseBytes,
);

// ------------------------------------------------------------------ node-record / status

/** Empty: the node answers with its record and, if it chooses to, its status. */
export const nodeRecordRequestSchema = z.object({});
export type NodeRecordRequest = z.infer<typeof nodeRecordRequestSchema>;

export const nodeStatusSchema = z.object({
  /** Peers currently connected. */
  peers: safeUint,
  /** Live policies held. */
  policies: safeUint,
  /** Seconds since the daemon started. */
  uptime: safeUint,
  /** The daemon's version string. */
  version: z.string().min(1).max(WIRE_SIZES.maxVersion),
  /** The node's clock (Unix seconds): it judges expiry by it, so clients can spot skew. */
  time: unixSeconds.optional(),
});
export type NodeStatus = z.infer<typeof nodeStatusSchema>;

export const nodeRecordReplySchema = replyOf({
  /** The node's signed node record. */
  nodeRecord: recordBytes(WIRE_SIZES.maxNodeRecord),
  status: nodeStatusSchema.optional(),
});
export type NodeRecordReply = z.infer<typeof nodeRecordReplySchema>;

export const NodeRecordRequest = new MessageType<NodeRecordRequest>(
  'node-record.req',
  nodeRecordRequestSchema,
  0,
  PROTOCOL_LIMITS.nodeRecord.maxRequestBytes,
);
export const NodeRecordReply = new MessageType<NodeRecordReply>(
  'node-record.res',
  nodeRecordReplySchema,
  0,
  PROTOCOL_LIMITS.nodeRecord.maxResponseBytes,
);

// ------------------------------------------------------------------------------ handoff

export const handoffRequestSchema = z.object({
  /** The owner-signed policy. */
  policy: recordBytes(WIRE_SIZES.maxPolicy),
  /** The owner's assignment of the kfrag to the first node of the chain. */
  assignment: recordBytes(WIRE_SIZES.maxAssignment),
  /** Handoff certificates from the assigned node to this one, in chain order. */
  certificates: z.array(recordBytes(WIRE_SIZES.maxHandoffCertificate)).min(1).max(WIRE_SIZES.maxHandoffChain),
  /** The kfrag sealed to the receiving node's encrypting key. */
  sealedKFrag: recordBytes(WIRE_SIZES.maxSealedKFrag),
});
export type HandoffRequest = z.infer<typeof handoffRequestSchema>;

export const HandoffRequest = new MessageType<HandoffRequest>(
  'handoff.req',
  handoffRequestSchema,
  0,
  PROTOCOL_LIMITS.handoff.maxRequestBytes,
);
export const HandoffReply = new MessageType<ReceiptReply>(
  'handoff.res',
  receiptReplySchema,
  0,
  PROTOCOL_LIMITS.handoff.maxResponseBytes,
);
