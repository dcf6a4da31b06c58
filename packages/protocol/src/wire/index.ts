/**
 * The wire layer of @thresh/protocol (DESIGN.md "Nodes", "Decrypt", "DHT records"): libp2p
 * protocol ids and limits, the request and reply of each protocol, the common error reply, and
 * DHT keys and values. Pure: framing (length prefixes) and streams belong to client and node.
 *
 * @example
 * ```ts
 * import { ReencryptRequest, ReencryptReply, unwrapReply, checkReencryptReply } from '@thresh/protocol';
 * const req = { items: [{ id: 1, levels: [{ pathHash, capsule: capsule.toBytes() }], policyId }] };
 * const frame = ReencryptRequest.encode(req); // send length-prefixed on PROTOCOL_IDS.reencrypt
 * const reply = unwrapReply(ReencryptReply.decode(answer)); // RemoteError on an error reply
 * checkReencryptReply(req, reply); // then CapsuleFrag.fromBytes(...).verify(...) each cfrag
 * ```
 */
export {
  DHT_KEY_MAX_BYTES,
  DHT_KEY_PREFIX,
  DHT_NAMESPACE_RULES,
  DHT_NAMESPACES,
  type DhtNamespace,
  type DhtNamespaceRule,
  dhtKeyHash,
  handoffDhtId,
  isDhtNamespace,
  makeDhtKey,
  nodeRecordDhtId,
  parseDhtKey,
  policyMapDhtId,
  revocationDhtId,
} from './dht-keys.js';
export {
  DHT_RECORD_TAG,
  DHT_VALUE_MAX_BYTES,
  type DhtInnerVerifier,
  type DhtRecordBody,
  type DhtValueInit,
  decodeDhtValue,
  dhtRecordSchema,
  dhtRecordType,
  dhtSelector,
  dhtValidator,
  dhtValueKey,
  encodeDhtValue,
  selectNewest,
  type ValidDhtRecord,
  validateDhtRecord,
} from './dht-record.js';
export {
  type ErrorReply,
  errorReply,
  errorReplyFromError,
  errorReplySchema,
  isErrorReply,
  RemoteError,
  sanitizeMessage,
  unwrapReply,
  WIRE_ERROR_CODES,
  WireError,
  type WireErrorCode,
  wireErrorCodeSchema,
} from './errors.js';
export { WIRE_SIZES } from './fields.js';
export {
  HandoffReply,
  HandoffRequest,
  handoffRequestSchema,
  NodeRecordReply,
  NodeRecordRequest,
  type NodeStatus,
  nodeRecordReplySchema,
  nodeRecordRequestSchema,
  nodeStatusSchema,
  REVOKE_PUBLISHED_MAX_BYTES,
  type ReceiptReply,
  RevokeReply,
  RevokeRequest,
  receiptReplySchema,
  revokeRequestSchema,
  StorePolicyReply,
  StorePolicyRequest,
  storePolicyRequestSchema,
} from './messages.js';
export {
  ERROR_REPLY_MAX_BYTES,
  KAD_OPTIONS,
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  type ProtocolId,
  type ProtocolLimits,
  type ProtocolName,
  REENCRYPT_MAX_ITEMS,
  REENCRYPT_MAX_TOTAL_LEVELS,
  type RequestProtocolName,
} from './protocols.js';
export {
  checkReencryptReply,
  isReencryptResult,
  type ReencryptFailure,
  type ReencryptItem,
  type ReencryptLevel,
  ReencryptReply,
  type ReencryptReplyItem,
  ReencryptRequest,
  type ReencryptResult,
  reencryptItemSchema,
  reencryptLevelSchema,
  reencryptReplyItemSchema,
  reencryptReplySchema,
  reencryptRequestSchema,
} from './reencrypt.js';
export { WIRE_PROTOCOLS, type WireProtocol } from './registry.js';
export {
  SESSION_LIMITS,
  SESSION_PROTOCOL_ID,
  SessionCall,
  SessionReply,
  sessionCallSchema,
  sessionReplySchema,
} from './session.js';
