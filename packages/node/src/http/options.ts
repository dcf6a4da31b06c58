/**
 * Everything the HTTP API takes, in one place (STYLE.md "Options in one place"): its
 * collaborators (service, metrics, logger, the gateway's relay, admin actions) and its limits,
 * each optional limit with its default here.
 */
import {
  PROTOCOL_LIMITS,
  type ProtocolId,
  type ReencryptReply,
  type ReencryptRequest,
} from '@thresh/protocol';
import type { NodeMetrics } from '../metrics.js';
import type { Logger } from '../service.js';

/** What the API calls on the node's service (NodeService has these). */
export interface HttpService {
  reencrypt(req: ReencryptRequest, signal?: AbortSignal): Promise<ReencryptReply>;
  /** The node's status; `policies` is the admin count. */
  status(): Promise<{ policies: number }>;
}

/** What the API needs of the node's metrics (NodeMetrics has these). */
export type HttpMetrics = Pick<NodeMetrics, 'observe' | 'recordReencrypt' | 'metrics' | 'contentType'>;

/**
 * Sends one request frame (an envelope, as the caller gave it) to the node at `nodeAddrs` (its
 * multiaddrs, each with /p2p/) on `protocol` and returns the reply frame unopened. The node
 * wires it to the client's `request` (client/src/transport/libp2p/rpc.ts); it must stop when
 * `signal` fires. Transport errors (TransportError codes) become per-node error replies.
 */
export type GatewayRelay = (
  nodeAddrs: string[],
  protocol: ProtocolId,
  request: Uint8Array,
  signal: AbortSignal,
) => Promise<Uint8Array>;

export interface GatewayInit {
  enabled: boolean;
  relay: GatewayRelay;
}

/** Operator actions behind the admin token. */
export interface AdminActions {
  /** One expiry sweep now (the node's own sweep, which counts into thresh_sweep_deleted_total). */
  sweep(): Promise<object>;
  /** Start leaving the network for good (handoff of every kfrag). Absent: 501. */
  decommission?: () => Promise<object | undefined>;
}

export interface HttpLimitsInit {
  /** Re-encryptions in flight over HTTP; one more gets 503 BUSY. @default 4 */
  reencryptConcurrency?: number;
  /** Deadline of one HTTP re-encryption. @default PROTOCOL_LIMITS.reencrypt.timeoutMs (30 s) */
  reencryptTimeoutMs?: number;
  /** Gateway requests in flight (a retrieve counts once, whatever its fan-out). @default 8 */
  gatewayConcurrency?: number;
  /** Nodes one retrieve may name. @default 32 */
  gatewayMaxNodes?: number;
  /** Node's HTTP server: whole-request deadline (slow clients). @default 60 s */
  requestTimeoutMs?: number;
}

export const HTTP_DEFAULTS: Required<HttpLimitsInit> = {
  reencryptConcurrency: 4,
  reencryptTimeoutMs: PROTOCOL_LIMITS.reencrypt.timeoutMs,
  gatewayConcurrency: 8,
  gatewayMaxNodes: 32,
  requestTimeoutMs: 60_000,
};

export interface HttpApiInit {
  service: HttpService;
  metrics: HttpMetrics;
  /** @default silent */
  logger?: Logger;
  /** Bearer token of the admin routes (read by the node from its 0600 file); >= 16 characters. */
  adminToken: string;
  /** Address to bind, e.g. '127.0.0.1' (DESIGN.md "Nodes": localhost by default). */
  host: string;
  /** Port to bind; 0 picks a free one (see `start()`'s result). */
  port: number;
  /**
   * Host header values accepted besides 127.0.0.1:<port>, localhost:<port>, [::1]:<port> and
   * the bound IP literal: exact, case-insensitive "name" or "name:port" (a gateway behind a
   * reverse proxy lists its public name here).
   */
  allowedHosts?: string[];
  /** Identity facts merged into GET /v1/status: peerId, nodeId, card, addresses, ... */
  describe?: () => Promise<object>;
  admin?: AdminActions;
  gateway?: GatewayInit;
  limits?: HttpLimitsInit;
}
