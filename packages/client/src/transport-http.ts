/**
 * The client's Transport over one node's HTTP gateway (DESIGN.md "Roles": gateway; "Grant"
 * step 2: "Over the HTTP gateway an owner grants only to nodes it names; the gateway relays,
 * it never selects"), for apps that cannot run libp2p (browsers, serverless functions).
 *
 * What goes over the gateway:
 * - store-policy, revoke: POST /v1/gateway/store-policy | /v1/gateway/revoke
 *   `{ node: <multiaddr with /p2p/>, request: <base64 envelope> }` -> `{ node, reply }`.
 * - reencrypt: POST /v1/gateway/retrieve `{ nodes: [<that node>], request }` -> its one result.
 * Request and reply envelopes are the client's own bytes; the gateway neither opens nor
 * builds them, and the client verifies every reply exactly as over libp2p.
 *
 * What does not:
 * - node records. No gateway route relays a node-record request, and a node's /v1/status does
 *   not carry its signed record. The client needs signed records for node selection (also of
 *   pinned nodes: the record names the node id and what it can hold) and to find a policy's
 *   nodes when it decrypts. So the app gives the transport the signed node records of the nodes
 *   it names (`nodeRecords`, or `addNodeRecord()`, or `loadGatewayRecord()` once a node's
 *   /v1/status carries `nodeRecord`), obtained out of band. Each is verified (signature,
 *   expiry) when added; a node-record call for one of them is answered from it (the record
 *   inside is the node's, signed, and the client verifies it again); for any other peer it
 *   throws UnsupportedProtocolError (reason 'unreachable').
 * - the DHT. `closestNodes` returns the nodes of the records given (the only nodes the app
 *   named: the client then picks among them at random, and finds a policy's holders among
 *   them); with none it throws DhtError. `putRecord` and `getRecord` always throw DhtError:
 *   the client treats that as "no DHT" (a grant still returns its grant string, a revoke
 *   reports `published: false`, a reader falls back to the records it was given).
 *
 * Errors: the same TransportError classes as the libp2p transport, so the reader's
 * NotEnoughFragmentsError reasons keep their meaning: the gateway's UNREACHABLE (502) and
 * BUSY (503), a failed fetch, and a gateway without these routes (404, FORBIDDEN) are
 * 'unreachable'; TIMEOUT (504) is 'timeout'; the caller's signal is AbortedError (or
 * TimeoutError when it is a timeout signal); anything else the gateway refuses is a RemoteError
 * with its code (e.g. MALFORMED -> 'malformed').
 *
 * @example
 * ```ts
 * const transport = new HttpGatewayTransport({ url: 'http://127.0.0.1:8080', nodeRecords });
 * const owner = createClient({ identity, transport });
 * await owner.grant({ path: '/team', reader, threshold: 3, shares: 5, ttl: 86400, nodes });
 * ```
 */
import {
  InvalidArgumentError,
  NodeRecordReply,
  PROTOCOL_LIMITS,
  RemoteError,
  type RequestProtocolName,
  type VerifiedNodeRecord,
  verifyNodeRecord,
  WIRE_ERROR_CODES,
  type WireErrorCode,
} from '@thresh/protocol';
import {
  AbortedError,
  DhtError,
  ResponseTooLargeError,
  StreamError,
  TimeoutError,
  TransportError,
  UnreachableError,
  UnsupportedProtocolError,
} from './transport/errors.js';
import type { PeerInfo, Transport } from './transport.js';

export interface HttpGatewayTransportInit {
  /** The gateway node's HTTP API, e.g. 'http://127.0.0.1:8080' (no trailing path). */
  url: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Signed node records (the record bytes nodes sign and serve) of the nodes the app names. */
  nodeRecords?: Iterable<Uint8Array>;
  /** Unix seconds, to check the records' expiry. @default the system clock */
  now?: () => number;
}

const GATEWAY_ROUTES: Partial<Record<RequestProtocolName, string>> = {
  storePolicy: '/v1/gateway/store-policy',
  revoke: '/v1/gateway/revoke',
  reencrypt: '/v1/gateway/retrieve',
};

/** Room for the JSON around a base64 reply. */
const JSON_OVERHEAD = 4096;

export class HttpGatewayTransport implements Transport {
  readonly url: string;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  /** PeerId -> the node's verified record. */
  readonly #records = new Map<string, VerifiedNodeRecord>();

  constructor(init: HttpGatewayTransportInit) {
    if (init === null || typeof init !== 'object')
      throw new InvalidArgumentError('init', 'expected an object');
    let u: URL;
    try {
      u = new URL(init.url);
    } catch {
      throw new InvalidArgumentError('url', 'expected an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new InvalidArgumentError('url', 'expected an http(s) URL');
    this.url = init.url.replace(/\/+$/, '');
    const f = init.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new InvalidArgumentError('fetch', 'no fetch in this environment');
    this.#fetch = f;
    this.#now = init.now ?? (() => Math.floor(Date.now() / 1000));
    for (const r of init.nodeRecords ?? []) this.addNodeRecord(r);
  }

  /**
   * Adds (or replaces, when its sequence is higher) a node's signed record; verified now.
   * Returns the node's peer info. Throws the protocol's typed errors for a bad record.
   */
  addNodeRecord(bytes: Uint8Array): PeerInfo {
    const record = verifyNodeRecord(bytes, { now: this.#now() });
    const peer = record.body.peer;
    const known = this.#records.get(peer);
    if (!known || known.body.seq < record.body.seq) this.#records.set(peer, record);
    return { id: peer, addrs: [...record.body.addrs] };
  }

  /** The peers of the records given, in the order they were added. */
  knownNodes(): PeerInfo[] {
    return [...this.#records.values()].map((r) => ({ id: r.body.peer, addrs: [...r.body.addrs] }));
  }

  /**
   * The gateway node's own record, when its GET /v1/status carries it as `nodeRecord`
   * (base64): added and returned; undefined when the status has none.
   */
  async loadGatewayRecord(signal?: AbortSignal): Promise<PeerInfo | undefined> {
    const body = await this.#request('GET', '/v1/status', undefined, 64 * 1024, signal);
    const b64 = (body as { nodeRecord?: unknown } | null)?.nodeRecord;
    if (typeof b64 !== 'string') return undefined;
    return this.addNodeRecord(fromBase64(b64));
  }

  async closestNodes(_key: Uint8Array, count: number, _signal?: AbortSignal): Promise<PeerInfo[]> {
    const known = this.knownNodes();
    if (known.length === 0) throw noDht();
    return known.slice(0, Math.max(0, count));
  }

  async call(
    peer: PeerInfo,
    protocol: RequestProtocolName,
    requestBytes: Uint8Array,
    signal?: AbortSignal,
  ): Promise<Uint8Array> {
    if (protocol === 'nodeRecord') {
      if (signal?.aborted) throw aborted(signal);
      const record = this.#records.get(peer.id);
      if (!record) {
        throw new UnsupportedProtocolError(
          protocol,
          `the node record of ${peer.id} is not served over the HTTP gateway (give it to the transport)`,
        );
      }
      return NodeRecordReply.encode({ nodeRecord: record.bytes });
    }
    const route = GATEWAY_ROUTES[protocol];
    if (!route)
      throw new UnsupportedProtocolError(protocol, `${protocol} is not relayed by the HTTP gateway`);
    const node = nodeAddr(peer);
    const limit = Math.ceil(PROTOCOL_LIMITS[protocol].maxResponseBytes / 3) * 4 + JSON_OVERHEAD;
    const request = toBase64(requestBytes);
    if (protocol === 'reencrypt') {
      const body = await this.#request('POST', route, { nodes: [node], request }, limit, signal);
      const results = (body as { results?: unknown } | null)?.results;
      if (!Array.isArray(results) || results.length !== 1) {
        throw new StreamError('the gateway answered a retrieve without its one result');
      }
      return replyOf(results[0], peer.id);
    }
    const body = await this.#request('POST', route, { node, request }, limit, signal);
    return replyOf(body, peer.id);
  }

  async putRecord(
    _key: Uint8Array,
    _value: Uint8Array,
    _signal?: AbortSignal,
  ): Promise<{ accepted: number }> {
    throw noDht();
  }

  async getRecord(_key: Uint8Array, _signal?: AbortSignal): Promise<Uint8Array | undefined> {
    throw noDht();
  }

  async close(): Promise<void> {}

  /** One JSON exchange with the gateway; its JSON body, or the TransportError it means. */
  async #request(
    method: 'GET' | 'POST',
    path: string,
    json: unknown,
    maxChars: number,
    signal: AbortSignal | undefined,
  ): Promise<unknown> {
    if (signal?.aborted) throw aborted(signal);
    let res: Response;
    try {
      res = await this.#fetch(`${this.url}${path}`, {
        method,
        headers: json === undefined ? { accept: 'application/json' } : { 'content-type': 'application/json' },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal,
      });
    } catch (e) {
      if (signal?.aborted) throw aborted(signal);
      throw new UnreachableError(`cannot reach the gateway ${this.url}`, { cause: e });
    }
    let text: string;
    try {
      const declared = Number(res.headers.get('content-length') ?? Number.NaN);
      if (declared > maxChars) {
        await res.body?.cancel().catch(() => {});
        throw new ResponseTooLargeError(maxChars, `the gateway's reply is over ${maxChars} bytes`);
      }
      text = await res.text();
    } catch (e) {
      if (e instanceof TransportError) throw e;
      if (signal?.aborted) throw aborted(signal);
      throw new StreamError('the reply from the gateway broke off', { cause: e });
    }
    if (text.length > maxChars) {
      throw new ResponseTooLargeError(maxChars, `the gateway's reply is over ${maxChars} bytes`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      throw new StreamError(`the gateway answered ${res.status} with a body that is not JSON`, { cause: e });
    }
    if (!res.ok) throw gatewayError(body, res.status, this.url);
    return body;
  }
}

/** The node's reply envelope in `{ node, reply }`, or the error in `{ node, error }`. */
function replyOf(result: unknown, peer: string): Uint8Array {
  const r = result as { reply?: unknown; error?: unknown } | null;
  if (typeof r?.reply === 'string') {
    try {
      return fromBase64(r.reply);
    } catch (e) {
      throw new StreamError('the gateway relayed a reply that is not base64', { cause: e });
    }
  }
  if (r?.error !== undefined) throw gatewayError(r, undefined, peer);
  throw new StreamError('the gateway answered without a reply');
}

/** The error of a gateway error body `{ error: { code, message } }`, as the libp2p transport would raise it. */
function gatewayError(body: unknown, status: number | undefined, who: string): Error {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof err?.code === 'string' ? err.code : undefined;
  const message = typeof err?.message === 'string' ? err.message : '';
  const what = `${who}: ${code ?? status ?? 'error'}${message ? `: ${message}` : ''}`;
  switch (code) {
    case 'UNREACHABLE':
    case 'BUSY':
      return new UnreachableError(what);
    case 'TIMEOUT':
      return new TimeoutError(0, what);
    case 'TOO_LARGE':
      return new ResponseTooLargeError(0, what);
    case 'NOT_FOUND':
    case 'FORBIDDEN':
    case 'NOT_IMPLEMENTED':
    case 'METHOD_NOT_ALLOWED':
      // the gateway does not serve the route (gateway off, another version, Host refused)
      return new UnsupportedProtocolError('http-gateway', what);
  }
  if (code !== undefined && (WIRE_ERROR_CODES as readonly string[]).includes(code)) {
    return new RemoteError(code as WireErrorCode, message, who);
  }
  if (status === 504) return new TimeoutError(0, what);
  if (status === 502 || status === 503) return new UnreachableError(what);
  return new StreamError(what);
}

function noDht(): DhtError {
  return new DhtError('no DHT over the HTTP gateway');
}

function aborted(signal: AbortSignal): TransportError {
  const reason: unknown = signal.reason;
  if ((reason as { name?: unknown } | null)?.name === 'TimeoutError') {
    return new TimeoutError(0, 'the request timed out', { cause: reason });
  }
  return new AbortedError('the request was aborted', { cause: reason });
}

/** One of the peer's multiaddrs, ending in its /p2p/ id (the gateway dials it). */
function nodeAddr(peer: PeerInfo): string {
  const addr = peer.addrs.find((a) => typeof a === 'string' && a.startsWith('/'));
  if (!addr) throw new UnreachableError(`no address known for ${peer.id}`);
  return addr.includes('/p2p/') ? addr : `${addr}/p2p/${peer.id}`;
}

function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
