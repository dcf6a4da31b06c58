/**
 * The node's HTTP API (DESIGN.md "Nodes": HTTP API; "Roles": gateway): health, status and
 * Prometheus metrics, the node's own re-encryption, the gateway relay routes when enabled, and
 * a small admin surface behind a bearer token. Bound to 127.0.0.1 by default, bitcoind-style:
 * the Host header must name this server (DNS-rebinding defence), every route is bounded in
 * body size, every reply is JSON (but the metrics text and msgpack re-encryption replies), and
 * every error is `{ error: { code, message } }`. Bodies are never logged.
 *
 * @example
 * ```ts
 * const api = createHttpApi({ service, metrics, logger, adminToken, host: '127.0.0.1', port: 0 });
 * const { url } = await api.start(); // e.g. http://127.0.0.1:41234
 * await fetch(`${url}/v1/health`);   // { "ok": true }
 * await api.stop();
 * ```
 */
import { isIP } from 'node:net';
import { InvalidArgumentError } from '@thresh/protocol';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type InjectOptions,
  type LightMyRequestResponse,
} from 'fastify';
import { type MetricsProtocol, type MetricsTransport, outcomeOfStatus } from '../metrics.js';
import { silentLogger } from '../service.js';
import { MIN_ADMIN_TOKEN_CHARS, registerAdmin } from './admin.js';
import { Bounded } from './bounded.js';
import { HttpError, isInternal, toHttpError } from './errors.js';
import { registerGateway } from './gateway.js';
import { HTTP_DEFAULTS, type HttpApiInit } from './options.js';
import { MSGPACK_TYPE, registerReencrypt } from './reencrypt.js';

/** Body limit of routes that do not set their own (admin, and anything JSON and small). */
const DEFAULT_BODY_LIMIT = 16 * 1024;

export interface HttpAddress {
  host: string;
  port: number;
  /** e.g. 'http://127.0.0.1:41234' (IPv6 hosts in brackets). */
  url: string;
}

export interface HttpApi {
  /** Binds host:port; resolves with the bound address (the real port when 0 was asked for). */
  start(): Promise<HttpAddress>;
  /** Stops listening and closes connections; requests in flight are answered 503. */
  stop(): Promise<void>;
  /** Runs one request without a socket (fastify's inject), for tests and the CLI's self-checks. */
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
}

/** The metric labels of the routes that are requests of a thresh protocol. */
const ROUTE_METRICS: ReadonlyMap<string, readonly [MetricsProtocol, MetricsTransport]> = new Map([
  ['/v1/reencrypt', ['reencrypt', 'http']],
  ['/v1/gateway/store-policy', ['store_policy', 'gateway']],
  ['/v1/gateway/revoke', ['revoke', 'gateway']],
  ['/v1/gateway/retrieve', ['reencrypt', 'gateway']],
] as const);

export function createHttpApi(init: HttpApiInit): HttpApi {
  checkInit(init);
  const limits = { ...HTTP_DEFAULTS, ...definedOnly(init.limits ?? {}) };
  const log = init.logger ?? silentLogger;
  const { service, metrics } = init;
  let boundPort = init.port;
  let started = false;

  const app: FastifyInstance = Fastify({
    logger: false,
    bodyLimit: DEFAULT_BODY_LIMIT,
    requestTimeout: limits.requestTimeoutMs,
    return503OnClosing: true,
    forceCloseConnections: true,
  });

  // Only JSON and msgpack bodies: no text/plain, which browsers send cross-origin unasked.
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser(MSGPACK_TYPE, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const allowedHosts = hostChecker(init.host, () => boundPort, init.allowedHosts ?? []);
  app.addHook('onRequest', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    if (!allowedHosts(request.headers.host)) {
      throw new HttpError('FORBIDDEN', 'Host header not allowed (add it to the allowed hosts to serve it)');
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url;
    const labels = route === undefined ? undefined : ROUTE_METRICS.get(route);
    if (labels) metrics.observe(labels[0], labels[1], outcomeOfStatus(reply.statusCode), reply.elapsedTime);
    log.debug(
      {
        method: request.method,
        route: route ?? '(none)',
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'http request',
    );
  });

  app.setErrorHandler(async (e: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const err = toHttpError(e);
    if (isInternal(err)) {
      const cause = err.cause ?? e;
      log.error(
        { route: request.routeOptions.url, err: cause instanceof Error ? cause.name : typeof cause },
        'http request failed',
      );
    }
    if (err.status === 401) reply.header('www-authenticate', 'Bearer');
    return reply.code(err.status).type('application/json; charset=utf-8').send(err.body());
  });

  app.setNotFoundHandler(async (request) => {
    throw new HttpError(
      'NOT_FOUND',
      `no route ${request.method} ${request.url.split('?', 1)[0]}`.slice(0, 200),
    );
  });

  // A request's signal also fires when its client goes away before the reply.
  const clientGone = (reply: FastifyReply): AbortSignal => {
    const ac = new AbortController();
    const gone = (): void => {
      if (!reply.raw.writableFinished) ac.abort(new HttpError('TIMEOUT', 'the client went away'));
    };
    if (reply.raw.destroyed) gone();
    else reply.raw.once('close', gone);
    return ac.signal;
  };

  app.get('/v1/health', async () => ({ ok: true }));

  app.get('/v1/status', async () => {
    const status = await service.status();
    const described = init.describe ? await init.describe() : {};
    return { ...status, ...described };
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.metrics();
    return reply.type(metrics.contentType).send(text);
  });

  registerReencrypt(app, {
    service,
    metrics,
    bounded: new Bounded('reencrypt', limits.reencryptConcurrency, limits.reencryptTimeoutMs),
    clientGone,
  });

  if (init.gateway?.enabled) {
    registerGateway(app, {
      relay: init.gateway.relay,
      bounded: new Bounded('gateway', limits.gatewayConcurrency, limits.reencryptTimeoutMs),
      maxNodes: limits.gatewayMaxNodes,
      log,
      clientGone,
    });
  }

  registerAdmin(app, { adminToken: init.adminToken, service, admin: init.admin });

  return {
    async start() {
      if (started) throw new InvalidArgumentError('start', 'the HTTP API is already started');
      started = true;
      await app.listen({ host: init.host, port: init.port });
      const address = app.server.address();
      if (address !== null && typeof address === 'object') boundPort = address.port;
      const host = init.host;
      const url = `http://${isIP(host) === 6 ? `[${host}]` : host}:${boundPort}`;
      log.info({ url, gateway: init.gateway?.enabled === true }, 'HTTP API listening');
      return { host, port: boundPort, url };
    },
    async stop() {
      await app.close();
    },
    inject: (options) => app.inject(options),
  };
}

/**
 * The Host header check (DESIGN.md "Nodes": "Host header checked"): a page on another site that
 * rebinds its DNS name to 127.0.0.1 reaches this port under its own name, and is refused.
 * Accepted: loopback names with this port, the bound IP literal with this port, and the
 * operator's list, exactly (case-insensitive).
 */
function hostChecker(
  bindHost: string,
  port: () => number,
  extra: readonly string[],
): (header: string | undefined) => boolean {
  const listed = new Set(extra.map((h) => h.toLowerCase()));
  const ipVersion = isIP(bindHost);
  const unspecified = bindHost === '0.0.0.0' || bindHost === '::' || bindHost === '';
  const bound = ipVersion === 0 || unspecified ? undefined : ipVersion === 6 ? `[${bindHost}]` : bindHost;
  return (header) => {
    if (typeof header !== 'string' || header.length === 0 || header.length > 300) return false;
    const h = header.toLowerCase();
    if (listed.has(h)) return true;
    const p = port();
    if (p === 0) return false;
    return (
      h === `127.0.0.1:${p}` ||
      h === `localhost:${p}` ||
      h === `[::1]:${p}` ||
      (bound !== undefined && h === `${bound}:${p}`)
    );
  };
}

function checkInit(init: HttpApiInit): void {
  if (typeof init.adminToken !== 'string' || init.adminToken.length < MIN_ADMIN_TOKEN_CHARS) {
    throw new InvalidArgumentError('adminToken', `expected at least ${MIN_ADMIN_TOKEN_CHARS} characters`);
  }
  if (/\s/.test(init.adminToken)) throw new InvalidArgumentError('adminToken', 'must not contain whitespace');
  if (typeof init.host !== 'string' || init.host.length === 0) {
    throw new InvalidArgumentError('host', 'expected a host name or IP address');
  }
  if (!Number.isSafeInteger(init.port) || init.port < 0 || init.port > 65535) {
    throw new InvalidArgumentError('port', `expected 0..65535, got ${init.port}`);
  }
  for (const [i, h] of (init.allowedHosts ?? []).entries()) {
    if (typeof h !== 'string' || !/^[\w.\-[\]:]{1,300}$/.test(h)) {
      throw new InvalidArgumentError(`allowedHosts.${i}`, 'expected "name" or "name:port"');
    }
  }
  for (const [field, value] of Object.entries(init.limits ?? {})) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) {
      throw new InvalidArgumentError(`limits.${field}`, `expected a positive integer, got ${value}`);
    }
  }
  if (init.gateway?.enabled && typeof init.gateway.relay !== 'function') {
    throw new InvalidArgumentError('gateway.relay', 'expected a function');
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
