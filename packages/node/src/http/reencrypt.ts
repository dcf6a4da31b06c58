/**
 * POST /v1/reencrypt: the node's own re-encryption over HTTP (DESIGN.md "Nodes": HTTP API), the
 * same request and reply as the libp2p protocol. The body is either the msgpack envelope
 * (Content-Type application/x-thresh-msgpack) or its JSON form (application/json, binary
 * fields in base64); both are checked by the wire schema, and the reply comes in the form the
 * request came in. Errors are always JSON.
 */
import {
  isErrorReply,
  PROTOCOL_LIMITS,
  ReencryptReply,
  ReencryptRequest,
  type ReencryptRequest as ReencryptRequestT,
} from '@thresh/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Bounded } from './bounded.js';
import { HttpError } from './errors.js';
import { reencryptReplyToJson, reencryptRequestFromJson } from './json.js';
import type { HttpMetrics, HttpService } from './options.js';

export const MSGPACK_TYPE = 'application/x-thresh-msgpack';

export interface ReencryptRouteContext {
  service: HttpService;
  metrics: HttpMetrics;
  bounded: Bounded;
  /** Aborts when the client goes away before its reply. */
  clientGone: (reply: FastifyReply) => AbortSignal;
}

export function registerReencrypt(app: FastifyInstance, ctx: ReencryptRouteContext): void {
  app.post(
    '/v1/reencrypt',
    { bodyLimit: PROTOCOL_LIMITS.reencrypt.maxRequestBytes },
    async (request: FastifyRequest, reply: FastifyReply) => {
      const msgpack = mediaType(request) === MSGPACK_TYPE;
      // Checked before a slot is taken: malformed input costs no re-encryption slot.
      const req: ReencryptRequestT = msgpack
        ? ReencryptRequest.decode(bodyBytes(request))
        : reencryptRequestFromJson(request.body);
      const result = await ctx.bounded.run((signal) => ctx.service.reencrypt(req, signal), {
        cancel: ctx.clientGone(reply),
      });
      if (isErrorReply(result)) {
        throw new HttpError(result.error.code, result.error.message);
      }
      ctx.metrics.recordReencrypt(result);
      if (!msgpack) return reencryptReplyToJson(result);
      let bytes: Uint8Array;
      try {
        bytes = ReencryptReply.encode(result);
      } catch (e) {
        // Our own reply failed its schema: the node's fault, not the caller's MALFORMED.
        throw new HttpError('INTERNAL', 'internal error', { cause: e });
      }
      return reply.type(MSGPACK_TYPE).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );
}

/** The media type of the request body, lower case, without parameters. */
export function mediaType(request: FastifyRequest): string | undefined {
  return request.headers['content-type']?.split(';', 1)[0].trim().toLowerCase();
}

function bodyBytes(request: FastifyRequest): Uint8Array {
  if (!(request.body instanceof Uint8Array)) throw new HttpError('MALFORMED', 'expected a msgpack body');
  return request.body;
}
