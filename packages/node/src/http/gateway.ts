/**
 * The gateway routes (DESIGN.md "Roles": gateway; "Nodes": HTTP API): for light clients that
 * cannot speak libp2p, this node relays request envelopes the client built and signed to the
 * nodes the client named, and hands back their reply envelopes unopened. It never chooses
 * nodes, never sees a secret and never opens a cfrag: the client verifies every reply.
 *
 * The request is decoded only to refuse what is not the named message (so the gateway is no
 * open relay for arbitrary bytes); the bytes relayed are the caller's own.
 */

import { peerIdFromString } from '@libp2p/peer-id';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import type { TransportErrorCode } from '@thresh/client';
import {
  type MessageType,
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  parseWith,
  ReencryptRequest,
  RevokeRequest,
  StorePolicyRequest,
  z,
} from '@thresh/protocol';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { raceSignal } from '../abort.js';
import type { Logger } from '../service.js';
import type { Bounded } from './bounded.js';
import { HttpError, type HttpErrorBody } from './errors.js';
import { base64Field, toBase64 } from './json.js';
import type { GatewayRelay } from './options.js';

/** Longest multiaddr string accepted (a /dns4/.../tcp/.../p2p/<id> is ~100 characters). */
const MAX_MULTIADDR_CHARS = 1024;
/** A retrieve's slot outlives its per-node deadline by this much (see the route). */
const RETRIEVE_GRACE_MS = 1_000;

/** One node's answer in a retrieve: its reply envelope, or why there is none. */
export type GatewayResult = { node: string; reply: string } | ({ node: string } & HttpErrorBody);

export interface GatewayContext {
  relay: GatewayRelay;
  bounded: Bounded;
  maxNodes: number;
  log: Logger;
  clientGone: (reply: FastifyReply) => AbortSignal;
}

/**
 * A multiaddr string that names a peer (/p2p/<peer id>, a valid one), normalized; MALFORMED
 * otherwise. (multiaddr() parses the /p2p/ value as a string, so the peer id is checked here.)
 */
const nodeAddr = z
  .string()
  .max(MAX_MULTIADDR_CHARS)
  .transform((s, ctx) => {
    let ma: Multiaddr;
    try {
      ma = multiaddr(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a multiaddr' });
      return z.NEVER;
    }
    const peers = ma.getComponents().filter((c) => c.name === 'p2p');
    if (peers.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'the multiaddr has no /p2p/<peer id>' });
      return z.NEVER;
    }
    for (const c of peers) {
      try {
        peerIdFromString(c.value ?? '');
      } catch {
        ctx.addIssue({ code: 'custom', message: 'the multiaddr has an invalid peer id' });
        return z.NEVER;
      }
    }
    return ma.toString();
  });

export function registerGateway(app: FastifyInstance, ctx: GatewayContext): void {
  const single = (url: string, name: 'storePolicy' | 'revoke', message: MessageType<unknown>): void => {
    const protocol = PROTOCOL_IDS[name];
    const limits = PROTOCOL_LIMITS[name];
    const schema = z.object({ node: z.string(), request: base64Field(limits.maxRequestBytes) }).strict();
    app.post(url, { bodyLimit: jsonLimit(limits.maxRequestBytes, 1) }, async (request, reply) => {
      const body = parseWith(schema, request.body, 'body');
      const node = parseWith(nodeAddr, body.node, 'body.node');
      message.decode(body.request);
      try {
        const answer = await ctx.bounded.run((signal) => ctx.relay([node], protocol, body.request, signal), {
          cancel: ctx.clientGone(reply),
          timeoutMs: limits.timeoutMs,
        });
        return { node: body.node, reply: toBase64(answer) };
      } catch (e) {
        throw relayError(e, url, ctx.log);
      }
    });
  };
  single('/v1/gateway/store-policy', 'storePolicy', StorePolicyRequest as MessageType<unknown>);
  single('/v1/gateway/revoke', 'revoke', RevokeRequest as MessageType<unknown>);

  const limits = PROTOCOL_LIMITS.reencrypt;
  const retrieveBody = z
    .object({
      nodes: z.array(z.string()).min(1).max(ctx.maxNodes),
      request: base64Field(limits.maxRequestBytes),
    })
    .strict();
  app.post(
    '/v1/gateway/retrieve',
    { bodyLimit: jsonLimit(limits.maxRequestBytes, ctx.maxNodes) },
    async (request, reply) => {
      const body = parseWith(retrieveBody, request.body, 'body');
      const addrs = body.nodes.map((s, i) => parseWith(nodeAddr, s, `body.nodes.${i}`));
      if (new Set(addrs).size !== addrs.length)
        throw new HttpError('MALFORMED', 'body.nodes: duplicate node');
      ReencryptRequest.decode(body.request);
      // Every node gets the same deadline; a node that misses it is that node's TIMEOUT, and the
      // others' replies still go back. The slot's own deadline is a little later, for the case
      // where a relay ignores its signal.
      const results = await ctx.bounded.run(
        (signal) => {
          const deadline = AbortSignal.any([signal, AbortSignal.timeout(limits.timeoutMs)]);
          return Promise.all(
            addrs.map(async (addr, i): Promise<GatewayResult> => {
              const node = body.nodes[i];
              try {
                const answer = await raceSignal(
                  ctx.relay([addr], PROTOCOL_IDS.reencrypt, body.request, deadline),
                  deadline,
                );
                return { node, reply: toBase64(answer) };
              } catch (e) {
                return { node, ...relayError(e, 'retrieve', ctx.log).body() };
              }
            }),
          );
        },
        { cancel: ctx.clientGone(reply), timeoutMs: limits.timeoutMs + RETRIEVE_GRACE_MS },
      );
      return { results };
    },
  );
}

/** Body limit of a JSON relay route: the envelope in base64 plus room for node addresses. */
function jsonLimit(maxRequestBytes: number, nodes: number): number {
  return Math.ceil(maxRequestBytes / 3) * 4 + nodes * (MAX_MULTIADDR_CHARS + 8) + 1024;
}

const TRANSPORT_ERRORS: { readonly [K in TransportErrorCode]: [HttpError['errorCode'], string] } = {
  ERR_UNREACHABLE: ['UNREACHABLE', 'cannot dial the node'],
  ERR_UNSUPPORTED_PROTOCOL: ['UNREACHABLE', 'the node does not speak this protocol'],
  ERR_STREAM: ['UNREACHABLE', 'the stream to the node failed'],
  ERR_DHT: ['UNREACHABLE', 'the node could not be found'],
  ERR_TIMEOUT: ['TIMEOUT', 'no reply from the node in time'],
  ERR_ABORTED: ['TIMEOUT', 'no reply from the node in time'],
  ERR_RESPONSE_TOO_LARGE: ['TOO_LARGE', "the node's reply is over the limit"],
};

/**
 * What a failed relay tells the caller: the transport's condition in a fixed message (library
 * messages stay in the node), TIMEOUT at our deadline, or INTERNAL. Upstream failures are 502
 * (504 for a timeout): the caller's request was fine.
 */
function relayError(e: unknown, what: string, log: Logger): HttpError {
  if (e instanceof HttpError) return e;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in TRANSPORT_ERRORS) {
    const [errorCode, message] = TRANSPORT_ERRORS[code as TransportErrorCode];
    return new HttpError(errorCode, message, { status: errorCode === 'TIMEOUT' ? 504 : 502, cause: e });
  }
  // Our deadline (or the client's going away) fired first: a DOMException, not always an Error.
  const name = (e as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new HttpError('TIMEOUT', 'no reply from the node in time', { status: 504, cause: e });
  }
  log.warn({ route: what, err: typeof name === 'string' ? name : typeof e }, 'gateway relay failed');
  return new HttpError('INTERNAL', 'internal error', { cause: e });
}
