/**
 * The error reply every protocol shares, its closed list of codes, and the two error classes
 * of the wire layer (DESIGN.md "Nodes": a typed error reply to malformed input; STYLE.md:
 * errors that cross the wire carry the code).
 *
 * Error reply body: { error: { code: WireErrorCode, message: str <= 512 chars } }.
 */
import { z } from '../codec/schema.js';
import { type ErrorCode, ThreshError } from '../errors.js';
import { WIRE_SIZES } from './fields.js';

/** The codes of errors.ts, in the order they are declared there. */
const THRESH_ERROR_CODES = [
  'ERR_INVALID_ARGUMENT',
  'ERR_DECODE',
  'ERR_KFRAG_VERIFICATION',
  'ERR_CFRAG_VERIFICATION',
  'ERR_OPEN_REENCRYPTED',
  'ERR_DECRYPTION',
  'ERR_SIGNATURE',
  'ERR_INVALID_PATH',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_TOO_LARGE',
  'ERR_WRONG_PASSPHRASE',
  'ERR_CORRUPT_KEY_FILE',
  'ERR_BACKEND_UNAVAILABLE',
  'ERR_EXPIRED',
  'ERR_NOT_YET_VALID',
  'ERR_RECORD_MISMATCH',
] as const satisfies readonly ErrorCode[];

// Fails to compile when errors.ts gains a code this list lacks: the wire list is closed, so a
// new code is a deliberate protocol change.
type MissingCodes = Exclude<ErrorCode, (typeof THRESH_ERROR_CODES)[number]>;
const _allCodesListed: [MissingCodes] extends [never] ? true : MissingCodes = true;
void _allCodesListed;

/** Conditions that have no error class: what a node says about its state or the exchange. */
const WIRE_ONLY_CODES = [
  /** No live policy for any of the item's path hashes (or for its policy id). */
  'NOT_FOUND',
  /** The policy was revoked (the node keeps a tombstone). */
  'REVOKED',
  'EXPIRED',
  /** The policy or assignment does not name this node. */
  'NOT_DESIGNATED',
  /** The capsule failed Umbral's self-check. */
  'BAD_CAPSULE',
  /** Over a concurrency limit: retry later or elsewhere. */
  'BUSY',
  'TIMEOUT',
  /** A frame or field over its cap. */
  'TOO_LARGE',
  /** Bytes that do not decode to the expected message. */
  'MALFORMED',
  /** Anything the node will not explain. */
  'INTERNAL',
  /** A not-before (or creation time) more than the allowed skew ahead of the node's clock. */
  'NOT_YET_VALID',
  /** The node cannot take more policies (or not for that long). */
  'CAPACITY',
] as const;

export const WIRE_ERROR_CODES = [...THRESH_ERROR_CODES, ...WIRE_ONLY_CODES] as const;
export type WireErrorCode = (typeof WIRE_ERROR_CODES)[number];

export const wireErrorCodeSchema = z.enum(WIRE_ERROR_CODES);

export const errorReplySchema = z.object({
  error: z.object({
    code: wireErrorCodeSchema,
    message: z.string().max(WIRE_SIZES.maxErrorMessage),
  }),
});
export type ErrorReply = z.infer<typeof errorReplySchema>;

/** Codes that describe the node itself (its key file, its build), never the peer's request. */
const LOCAL_ONLY: ReadonlySet<string> = new Set<ErrorCode>([
  'ERR_WRONG_PASSPHRASE',
  'ERR_CORRUPT_KEY_FILE',
  'ERR_BACKEND_UNAVAILABLE',
]);

/** Typed errors that have a wire code of their own: one code per condition, whoever detects it. */
const RENAMED: { readonly [K in ErrorCode]?: WireErrorCode } = {
  ERR_DECODE: 'MALFORMED',
  ERR_TOO_LARGE: 'TOO_LARGE',
  ERR_EXPIRED: 'EXPIRED',
  ERR_NOT_YET_VALID: 'NOT_YET_VALID',
};

const GENERIC_MESSAGES: { readonly [K in WireErrorCode]?: string } = {
  INTERNAL: 'internal error',
  TIMEOUT: 'request timed out',
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** A message fit to send and to print: no control characters, well-formed, <= 512 chars. */
export function sanitizeMessage(text: string): string {
  let s = String(text).replace(CONTROL, ' ').replace(LONE_SURROGATE, '\uFFFD');
  if (s.length > WIRE_SIZES.maxErrorMessage) {
    s = s.slice(0, WIRE_SIZES.maxErrorMessage);
    if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
  }
  return s;
}

/** An error reply with `code` and a sanitized message (a generic one by default). */
export function errorReply(code: WireErrorCode, message?: string): ErrorReply {
  const parsed = wireErrorCodeSchema.safeParse(code);
  if (!parsed.success) return errorReply('INTERNAL');
  return { error: { code, message: sanitizeMessage(message ?? GENERIC_MESSAGES[code] ?? code) } };
}

/**
 * A condition a handler reports to its peer on purpose (NOT_FOUND, REVOKED, BUSY, ...): its
 * message is sent as it is, so it must not hold secrets or internals. Stand-in until errors.ts
 * has it as a ThreshError (code 'ERR_WIRE').
 */
export class WireError extends Error {
  override readonly name = 'WireError';
  readonly code = 'ERR_WIRE';
  constructor(
    readonly wireCode: WireErrorCode,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? GENERIC_MESSAGES[wireCode] ?? wireCode, options);
  }
}

/**
 * A peer answered with an error reply. Raised on the client side by `unwrapReply`. Stand-in
 * until errors.ts has it as a ThreshError (code 'ERR_REMOTE').
 */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  readonly code = 'ERR_REMOTE';
  /** The peer's message, sanitized; for logs and diagnostics, never for decisions. */
  readonly remoteMessage: string;
  constructor(
    readonly remoteCode: WireErrorCode,
    remoteMessage: string,
    /** Who answered, for messages (a PeerId or node id string), when the caller knows. */
    readonly peer?: string,
  ) {
    const msg = sanitizeMessage(remoteMessage);
    super(`${peer ? `${peer}: ` : ''}${remoteCode}${msg ? `: ${msg}` : ''}`);
    this.remoteMessage = msg;
  }
}

function validityReason(e: ThreshError): 'EXPIRED' | 'NOT_YET_VALID' | undefined {
  // records/common.ts's stand-in ExpiredError (an InvalidArgumentError with a `reason`), until
  // records throw errors.ts's ExpiredError / NotYetValidError (mapped by code): matched by shape.
  const reason = (e as { reason?: unknown }).reason;
  if (reason === 'expired') return 'EXPIRED';
  if (reason === 'not-yet-valid') return 'NOT_YET_VALID';
  return undefined;
}

/**
 * The error reply for an error a handler caught. Typed errors of this package keep their code
 * (DecodeError -> MALFORMED and TooLargeError -> TOO_LARGE, the same codes the framing layer
 * uses; expired / not yet valid records -> EXPIRED / NOT_YET_VALID) and their message, which
 * names the field of the peer's own input. WireError passes its code and message. Everything
 * else -- plain Errors, errors about the node's own keys or build, a RemoteError from a third
 * peer -- is INTERNAL with a generic message: internals never leak. An AbortSignal timeout
 * ('TimeoutError') is TIMEOUT.
 */
export function errorReplyFromError(e: unknown): ErrorReply {
  if (e instanceof WireError) return errorReply(e.wireCode, e.message);
  if (e instanceof ThreshError) {
    const validity = validityReason(e);
    if (validity) return errorReply(validity, e.message);
    if (LOCAL_ONLY.has(e.code)) return errorReply('INTERNAL');
    const code: string = RENAMED[e.code] ?? e.code;
    const known = wireErrorCodeSchema.safeParse(code);
    if (!known.success) return errorReply('INTERNAL');
    return errorReply(known.data, e.message);
  }
  if (e instanceof Error && e.name === 'TimeoutError') return errorReply('TIMEOUT');
  return errorReply('INTERNAL');
}

/** True when `reply` is the error shape. */
export function isErrorReply(reply: object): reply is ErrorReply {
  return (reply as Partial<ErrorReply>).error !== undefined;
}

/** The success part of a reply, or a RemoteError carrying the peer's code. */
export function unwrapReply<T extends object>(reply: T | ErrorReply, peer?: string): Exclude<T, ErrorReply> {
  if (isErrorReply(reply)) throw new RemoteError(reply.error.code, reply.error.message, peer);
  return reply as Exclude<T, ErrorReply>;
}
