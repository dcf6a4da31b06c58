/**
 * Errors of the HTTP API and their replies. Every error reply is JSON
 * `{ error: { code, message } }` (the wire's error reply shape, DESIGN.md "Nodes"), with an
 * HTTP status that says the same thing. Codes are the closed wire list plus a few that only
 * HTTP has (authentication, Host check, an unreachable relay target, a route not served).
 * Messages follow `errorReplyFromError`: typed errors name the field of the caller's own
 * input; anything else is INTERNAL with a generic message, so internals never leak.
 */
import { errorReplyFromError, sanitizeMessage, type WireErrorCode } from '@thresh/protocol';

/** Codes only the HTTP API uses. */
export const HTTP_ONLY_CODES = [
  /** Missing or wrong admin bearer token (401). */
  'UNAUTHORIZED',
  /** Host header not allowed: the DNS-rebinding defence (403). */
  'FORBIDDEN',
  /** The gateway could not reach the named node or open the protocol on it (502). */
  'UNREACHABLE',
  /** The route exists but this node does not offer it (501). */
  'NOT_IMPLEMENTED',
  /** Content-Type the route does not read (415). */
  'UNSUPPORTED_MEDIA_TYPE',
  'METHOD_NOT_ALLOWED',
] as const;
export type HttpErrorCode = WireErrorCode | (typeof HTTP_ONLY_CODES)[number];

export interface HttpErrorBody {
  error: { code: HttpErrorCode; message: string };
}

/** The HTTP status of an error reply carrying a wire code. */
const STATUS_OF_CODE: { readonly [K in HttpErrorCode]?: number } = {
  MALFORMED: 400,
  TOO_LARGE: 413,
  BUSY: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
  NOT_FOUND: 404,
  REVOKED: 410,
  EXPIRED: 410,
  CAPACITY: 507,
  NOT_DESIGNATED: 403,
  ERR_RECORD_MISMATCH: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNREACHABLE: 502,
  NOT_IMPLEMENTED: 501,
  UNSUPPORTED_MEDIA_TYPE: 415,
  METHOD_NOT_ALLOWED: 405,
};

/** Every other code is about the caller's input. */
export function statusOfCode(code: HttpErrorCode): number {
  return STATUS_OF_CODE[code] ?? 400;
}

/** An error the API answers on purpose; `message` is sent as it is. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly code = 'ERR_HTTP';
  readonly status: number;
  constructor(
    readonly errorCode: HttpErrorCode,
    message: string,
    options?: { status?: number; cause?: unknown },
  ) {
    super(sanitizeMessage(message), options);
    this.status = options?.status ?? statusOfCode(errorCode);
  }

  body(): HttpErrorBody {
    return { error: { code: this.errorCode, message: this.message } };
  }
}

/** Fastify's own request errors (content-type parser, body limit), by their code. */
const FASTIFY_ERRORS: { readonly [code: string]: readonly [HttpErrorCode, string] } = {
  FST_ERR_CTP_BODY_TOO_LARGE: ['TOO_LARGE', 'request body over the limit of this route'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'unsupported Content-Type for this route'],
  FST_ERR_CTP_INVALID_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'invalid Content-Type'],
  FST_ERR_CTP_EMPTY_TYPE: ['UNSUPPORTED_MEDIA_TYPE', 'empty Content-Type'],
  FST_ERR_CTP_EMPTY_JSON_BODY: ['MALFORMED', 'empty JSON body'],
  FST_ERR_CTP_INVALID_JSON_BODY: ['MALFORMED', 'body is not valid JSON'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['MALFORMED', 'body length does not match Content-Length'],
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: ['INTERNAL', 'internal error'],
};

/** The reply for anything a route or fastify threw. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  const fastifyCode = (e as { code?: unknown } | null)?.code;
  if (typeof fastifyCode === 'string' && fastifyCode.startsWith('FST_')) {
    const known = FASTIFY_ERRORS[fastifyCode];
    if (known) return new HttpError(known[0], known[1], { cause: e });
    const status = (e as { statusCode?: unknown }).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return new HttpError('MALFORMED', 'bad request', { status, cause: e });
    }
    return new HttpError('INTERNAL', 'internal error', { cause: e });
  }
  const reply = errorReplyFromError(e);
  return new HttpError(reply.error.code, reply.error.message, { cause: e });
}

/** True for errors worth an operator's attention: the node failed, not the caller. */
export function isInternal(e: HttpError): boolean {
  return e.errorCode === 'INTERNAL';
}
