/**
 * libp2p protocol ids and their limits (DESIGN.md "Nodes": "Every handler bounds size, time and
 * concurrency"). Each protocol is one request frame and one reply frame per stream:
 * length-prefixed (unsigned varint) MessagePack, each an envelope [tag, major, minor, body].
 *
 * The version in a protocol id is the envelope's major version (PROTOCOL_MAJOR): a new major
 * gets new ids, so old and new nodes negotiate with multistream-select instead of failing on
 * a frame. Minor versions append optional fields and keep the ids.
 */
import { WIRE_SIZES } from './fields.js';

export const PROTOCOL_IDS = {
  /** Owner -> node: store a policy, its assignment and the node's sealed kfrag; reply a receipt. */
  storePolicy: '/thresh/store-policy/1.0.0',
  /** Reader (or gateway) -> node: re-encrypt a batch of capsules; reply cfrags. */
  reencrypt: '/thresh/reencrypt/1.0.0',
  /** Owner -> node: a signed revocation; reply a receipt. */
  revoke: '/thresh/revoke/1.0.0',
  /** Anyone -> node: the node's signed node record, and optionally its status. */
  nodeRecord: '/thresh/node-record/1.0.0',
  /** Leaving node -> replacement node: a kfrag with its handoff chain; reply a receipt. */
  handoff: '/thresh/handoff/1.0.0',
  /**
   * The private kad-dht protocol (the `protocol` option of @libp2p/kad-dht), so thresh nodes
   * form their own DHT and never answer or query the public IPFS one.
   */
  kad: '/thresh/kad/1.0.0',
} as const;

export type ProtocolName = keyof typeof PROTOCOL_IDS;
/** The request/reply protocols (all but kad, whose framing belongs to @libp2p/kad-dht). */
export type RequestProtocolName = Exclude<ProtocolName, 'kad'>;
export type ProtocolId = (typeof PROTOCOL_IDS)[ProtocolName];

export interface ProtocolLimits {
  /**
   * Largest request frame a handler reads (the length-prefixed decoder's maxDataLength, and
   * the request MessageType's maxBytes). A larger prefix is refused before the body is read.
   */
  readonly maxRequestBytes: number;
  /** Largest reply frame a client reads (same, on the client side). Room for an error reply. */
  readonly maxResponseBytes: number;
  /** Items in one request: capsules for reencrypt, 1 for the others. */
  readonly maxBatchItems: number;
  /**
   * Default deadline of one exchange, from opening the stream to the last reply byte, on
   * both sides (an AbortSignal.timeout); a handler that overruns answers TIMEOUT if it can.
   */
  readonly timeoutMs: number;
  /**
   * Streams of this protocol one peer may have open at once on a node (libp2p's per-connection
   * maxInboundStreams; a node also limits per owner once it has decoded the request). More
   * are reset; clients keep their own outbound count at or below it.
   */
  readonly maxStreamsPerPeer: number;
}

/** Largest error reply: 512 characters of at most 3 UTF-8 bytes each, plus the envelope. */
export const ERROR_REPLY_MAX_BYTES = 2 * 1024;
const REPLY_WITH_RECEIPT_MAX_BYTES = 4 * 1024;

/**
 * Reencrypt: 256 items and 4096 levels in all come to ~0.65 MB at most (a level is ~160 bytes:
 * a 32-byte path hash and a 105-byte capsule); a reply of 256 cfrags ~111 KB.
 */
export const REENCRYPT_MAX_ITEMS = 256;
/** Levels summed over all items of one reencrypt request: bounds the store lookups it costs. */
export const REENCRYPT_MAX_TOTAL_LEVELS = 4096;

export const PROTOCOL_LIMITS: { readonly [K in RequestProtocolName]: ProtocolLimits } = {
  storePolicy: {
    // policy (<= 16 KiB) + assignment (<= 512) + sealed kfrag (<= 2 KiB) + field names
    maxRequestBytes: 24 * 1024,
    maxResponseBytes: REPLY_WITH_RECEIPT_MAX_BYTES,
    maxBatchItems: 1,
    timeoutMs: 10_000,
    maxStreamsPerPeer: 4,
  },
  reencrypt: {
    maxRequestBytes: 1024 * 1024,
    maxResponseBytes: 256 * 1024,
    maxBatchItems: REENCRYPT_MAX_ITEMS,
    // 256 re-encryptions at a few ms each, plus store lookups, on a loaded node
    timeoutMs: 30_000,
    maxStreamsPerPeer: 4,
  },
  revoke: {
    // revocation (<= 512) + the owner's DHT value of it (<= ~1 KiB), see RevokeRequest
    maxRequestBytes: 4 * 1024,
    maxResponseBytes: REPLY_WITH_RECEIPT_MAX_BYTES,
    maxBatchItems: 1,
    timeoutMs: 10_000,
    maxStreamsPerPeer: 4,
  },
  nodeRecord: {
    maxRequestBytes: 1024,
    // node record (<= 16 KiB) + status
    maxResponseBytes: WIRE_SIZES.maxNodeRecord + 4 * 1024,
    maxBatchItems: 1,
    // node selection fetches records in parallel with a short timeout (DESIGN.md "Grant")
    timeoutMs: 5_000,
    maxStreamsPerPeer: 2,
  },
  handoff: {
    // policy + assignment + up to 8 certificates (<= 512 each) + sealed kfrag
    maxRequestBytes: 32 * 1024,
    maxResponseBytes: REPLY_WITH_RECEIPT_MAX_BYTES,
    maxBatchItems: 1,
    // the receiver checks the chain and looks revocations up in the DHT before it accepts
    timeoutMs: 30_000,
    maxStreamsPerPeer: 4,
  },
};

/**
 * Options for @libp2p/kad-dht: `protocol`, and its per-connection stream limits. DHT values are
 * bounded by DHT_VALUE_MAX_BYTES (dht-record.ts), well under kad-dht's own 4 MiB frame limit.
 */
export const KAD_OPTIONS = {
  protocol: PROTOCOL_IDS.kad,
  maxInboundStreams: 32,
  maxOutboundStreams: 64,
} as const;
