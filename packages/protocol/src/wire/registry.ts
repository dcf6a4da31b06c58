/**
 * Each request/reply protocol with its id, limits and message types, for generic handler and
 * client plumbing: read at most `limits.maxRequestBytes`, `request.decode`, handle, answer
 * `reply.encode(result or errorReplyFromError(e))`.
 */
import type { MessageType } from '../codec/envelope.js';
import {
  HandoffReply,
  HandoffRequest,
  NodeRecordReply,
  NodeRecordRequest,
  type ReceiptReply,
  RevokeReply,
  RevokeRequest,
  StorePolicyReply,
  StorePolicyRequest,
} from './messages.js';
import { PROTOCOL_IDS, PROTOCOL_LIMITS, type ProtocolLimits, type RequestProtocolName } from './protocols.js';
import { ReencryptReply, ReencryptRequest } from './reencrypt.js';

export interface WireProtocol<Req, Rep> {
  readonly id: string;
  readonly limits: ProtocolLimits;
  readonly request: MessageType<Req>;
  readonly reply: MessageType<Rep>;
}

function entry<Req, Rep>(
  name: RequestProtocolName,
  request: MessageType<Req>,
  reply: MessageType<Rep>,
): WireProtocol<Req, Rep> {
  return { id: PROTOCOL_IDS[name], limits: PROTOCOL_LIMITS[name], request, reply };
}

export const WIRE_PROTOCOLS = {
  storePolicy: entry<StorePolicyRequest, ReceiptReply>('storePolicy', StorePolicyRequest, StorePolicyReply),
  reencrypt: entry<ReencryptRequest, ReencryptReply>('reencrypt', ReencryptRequest, ReencryptReply),
  revoke: entry<RevokeRequest, ReceiptReply>('revoke', RevokeRequest, RevokeReply),
  nodeRecord: entry<NodeRecordRequest, NodeRecordReply>('nodeRecord', NodeRecordRequest, NodeRecordReply),
  handoff: entry<HandoffRequest, ReceiptReply>('handoff', HandoffRequest, HandoffReply),
} as const;
