/**
 * The session protocol: many request/reply exchanges of the other protocols on one long-lived
 * libp2p stream, so that a client pays libp2p's stream set-up (multistream-select, yamux stream
 * open and close: ~3 ms of CPU on each side per request on this project's machines) once per
 * node instead of once per request.
 *
 * Both directions carry length-prefixed (unsigned varint) frames, each an envelope like every
 * other message. The client sends `session.call` frames: a call id it chose, the name of the
 * protocol the call is for, and the body, which is exactly the request frame that protocol
 * takes on its own stream. The node answers each call with one `session.res` frame: the same
 * id and exactly the reply frame of that protocol (an error reply included). Replies come in
 * the order the calls finish, not the order they were sent. Every per-protocol bound (request
 * size, deadline, calls per peer) applies to a call as it does to a stream of that protocol; a
 * call over its protocol's size cap is answered TOO_LARGE. A frame that is not a well-formed
 * call ends the session (the node resets the stream); so does a frame over the session's cap.
 * The per-stream protocols stay: a client falls back to them when a node does not speak this one.
 */
import { MessageType } from '../codec/envelope.js';
import { bytes, u32, z } from '../codec/schema.js';
import { PROTOCOL_LIMITS, type RequestProtocolName } from './protocols.js';

export const SESSION_PROTOCOL_ID = '/thresh/session/1.0.0';

const REQUEST_PROTOCOLS = Object.keys(PROTOCOL_LIMITS) as [RequestProtocolName, ...RequestProtocolName[]];
const largest = (field: 'maxRequestBytes' | 'maxResponseBytes'): number =>
  Math.max(...REQUEST_PROTOCOLS.map((p) => PROTOCOL_LIMITS[p][field]));

/** The envelope, id and protocol name around a body: a generous bound on their bytes. */
const SESSION_OVERHEAD_BYTES = 256;

export const SESSION_LIMITS = {
  /** Largest call body: the largest request frame of any protocol (each protocol then checks its own). */
  maxCallBodyBytes: largest('maxRequestBytes'),
  /** Largest call frame a node reads; a longer one ends the session. */
  maxCallBytes: largest('maxRequestBytes') + SESSION_OVERHEAD_BYTES,
  /** Largest reply frame a client reads; a longer one ends the session. */
  maxReplyBytes: largest('maxResponseBytes') + SESSION_OVERHEAD_BYTES,
  /** A node closes a session that has had no call for this long (and none in flight). */
  idleMs: 60_000,
  /** Session streams one peer may hold open on one connection; more are reset. */
  maxSessionsPerPeer: 4,
} as const;

export const sessionCallSchema = z.object({
  /** Chosen by the client, unique among its calls in flight on this session. */
  id: u32,
  /** Which protocol the body is a request of. */
  protocol: z.enum(REQUEST_PROTOCOLS),
  /** That protocol's request frame, as it would be sent on its own stream. */
  body: bytes({ max: SESSION_LIMITS.maxCallBodyBytes }),
});
export type SessionCall = z.infer<typeof sessionCallSchema>;

export const sessionReplySchema = z.object({
  /** The id of the call this answers. */
  id: u32,
  /** The protocol's reply frame (a result or an error reply). */
  body: bytes({ max: SESSION_LIMITS.maxReplyBytes - SESSION_OVERHEAD_BYTES }),
});
export type SessionReply = z.infer<typeof sessionReplySchema>;

export const SessionCall = new MessageType<SessionCall>(
  'session.call',
  sessionCallSchema,
  0,
  SESSION_LIMITS.maxCallBytes,
);
export const SessionReply = new MessageType<SessionReply>(
  'session.res',
  sessionReplySchema,
  0,
  SESSION_LIMITS.maxReplyBytes,
);
