import { randomBytes } from 'node:crypto';
import { UnreachableError } from '@thresh/client';
import {
  Identity,
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  ReencryptReply,
  type ReencryptReplyItem,
  ReencryptRequest,
  RevokeRequest,
  StorePolicyRequest,
  unwrapReply,
  WireError,
} from '@thresh/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createHttpApi,
  type GatewayRelay,
  type HttpApiInit,
  type HttpService,
  MSGPACK_TYPE,
} from '../src/http/index.js';
import { createMetrics, type NodeMetrics } from '../src/metrics.js';
import { NodeService } from '../src/service.js';
import { MemoryStore } from '../src/store/index.js';

const PORT = 8080;
const HOST = `localhost:${PORT}`;
const TOKEN = 'test-admin-token-0123456789abcdef';
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
const NODE_A = `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`;
const NODE_B = `/ip4/127.0.0.2/tcp/4001/p2p/${PEER}`;

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

function level() {
  return { pathHash: new Uint8Array(randomBytes(32)), capsule: new Uint8Array(randomBytes(105)) };
}

/** Items 1, 2, ...: odd ids get a cfrag, even ids NOT_FOUND. */
function sampleRequest(n = 2): ReencryptRequest {
  return { items: Array.from({ length: n }, (_, i) => ({ id: i + 1, levels: [level(), level()] })) };
}

const asJson = (req: ReencryptRequest) => ({
  items: req.items.map((item) => ({
    id: item.id,
    levels: item.levels.map((l) => ({ pathHash: b64(l.pathHash), capsule: b64(l.capsule) })),
    ...(item.policyId ? { policyId: b64(item.policyId) } : {}),
  })),
});

const CFRAG = new Uint8Array(381).fill(7);
const POLICY = new Uint8Array(16).fill(9);

/** Canned replies; `gate` (when set) holds every call until opened. */
class FakeService implements HttpService {
  calls: Array<{ req: ReencryptRequest; signal?: AbortSignal }> = [];
  gate?: Promise<void>;
  fail?: unknown;
  async reencrypt(req: ReencryptRequest, signal?: AbortSignal): Promise<ReencryptReply> {
    this.calls.push({ req, signal });
    if (this.gate) await this.gate;
    if (this.fail) throw this.fail;
    return {
      items: req.items.map(
        (item): ReencryptReplyItem =>
          item.id % 2 === 1
            ? { id: item.id, cfrag: CFRAG, policyId: POLICY, level: item.levels.length - 1 }
            : { id: item.id, error: 'NOT_FOUND' },
      ),
    };
  }
  async status() {
    return { peers: 3, policies: 42, uptime: 5, version: '0.1.0-test', time: 1 };
  }
}

const apis: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  while (apis.length) await apis.pop()?.stop();
});

function setup(over: Partial<HttpApiInit> = {}) {
  const service = new FakeService();
  const metrics = createMetrics({ processMetrics: false, policies: () => 42, peers: () => 3 });
  const init: HttpApiInit = { service, metrics, adminToken: TOKEN, host: '127.0.0.1', port: PORT, ...over };
  const api = createHttpApi(init);
  apis.push(api);
  return { api, service: init.service as FakeService, metrics: init.metrics as NodeMetrics };
}

type Api = ReturnType<typeof setup>['api'];

const get = (api: Api, url: string, headers: Record<string, string> = {}) =>
  api.inject({ method: 'GET', url, headers: { host: HOST, ...headers } });

const postJson = (api: Api, url: string, body: unknown, headers: Record<string, string> = {}) =>
  api.inject({
    method: 'POST',
    url,
    headers: { host: HOST, 'content-type': 'application/json', ...headers },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });

const postMsgpack = (api: Api, url: string, bytes: Uint8Array) =>
  api.inject({
    method: 'POST',
    url,
    headers: { host: HOST, 'content-type': MSGPACK_TYPE },
    payload: Buffer.from(bytes),
  });

function expectError(res: { statusCode: number; json(): unknown }, status: number, code: string) {
  expect(res.statusCode).toBe(status);
  const body = res.json() as { error: { code: string; message: string } };
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  return body.error.message;
}

async function counter(metrics: NodeMetrics, name: string, labels: Record<string, string>) {
  const metric = metrics.registry.getSingleMetric(name);
  const { values } = await metric!.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value ?? 0;
}

describe('HTTP API: health, status, metrics', () => {
  it('GET /v1/health is cheap and JSON', async () => {
    const { api } = setup();
    const res = await get(api, '/v1/health');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ ok: true });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('GET /v1/status merges the service status and the node description', async () => {
    const { api } = setup({ describe: async () => ({ peerId: PEER, nodeId: 'ab', addresses: [NODE_A] }) });
    const res = await get(api, '/v1/status');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      policies: 42,
      peers: 3,
      version: '0.1.0-test',
      peerId: PEER,
      addresses: [NODE_A],
    });
  });

  it('GET /metrics is Prometheus text with the node gauges', async () => {
    const { api } = setup();
    const res = await get(api, '/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('thresh_policies 42');
    expect(res.body).toContain('thresh_peers 3');
  });

  it('unknown routes are a JSON 404', async () => {
    const { api } = setup();
    expectError(await get(api, '/v1/nope'), 404, 'NOT_FOUND');
  });
});

describe('HTTP API: Host header check', () => {
  it.each([`127.0.0.1:${PORT}`, `localhost:${PORT}`, `[::1]:${PORT}`, `LOCALHOST:${PORT}`])(
    'accepts %s',
    async (host) => {
      const { api } = setup();
      expect((await get(api, '/v1/health', { host })).statusCode).toBe(200);
    },
  );

  it.each([
    'evil.example',
    `evil.example:${PORT}`,
    'localhost',
    `localhost:${PORT + 1}`,
    `127.0.0.1:${PORT}.evil.example`,
  ])('refuses %s with 403', async (host) => {
    const { api, service } = setup();
    expectError(await get(api, '/v1/health', { host }), 403, 'FORBIDDEN');
    const res = await api.inject({
      method: 'POST',
      url: '/v1/reencrypt',
      headers: { host, 'content-type': 'application/json' },
      payload: JSON.stringify(asJson(sampleRequest())),
    });
    expectError(res, 403, 'FORBIDDEN');
    expect(service.calls).toHaveLength(0);
  });

  it('accepts configured allowed hosts exactly', async () => {
    const { api } = setup({ allowedHosts: ['gateway.example.org', 'node.lan:9000'] });
    expect((await get(api, '/v1/health', { host: 'gateway.example.org' })).statusCode).toBe(200);
    expect((await get(api, '/v1/health', { host: 'Node.LAN:9000' })).statusCode).toBe(200);
    expect((await get(api, '/v1/health', { host: 'node.lan' })).statusCode).toBe(403);
    expect((await get(api, '/v1/health', { host: 'gateway.example.org:80' })).statusCode).toBe(403);
  });

  it('accepts the bound IP literal', async () => {
    const { api } = setup({ host: '10.1.2.3' });
    expect((await get(api, '/v1/health', { host: `10.1.2.3:${PORT}` })).statusCode).toBe(200);
  });
});

describe('HTTP API: POST /v1/reencrypt', () => {
  it('JSON round trip with base64 fields', async () => {
    const { api, service } = setup();
    const req = sampleRequest(3);
    const res = await postJson(api, '/v1/reencrypt', asJson(req));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json()).toEqual({
      items: [
        { id: 1, cfrag: b64(CFRAG), policyId: b64(POLICY), level: 1 },
        { id: 2, error: 'NOT_FOUND' },
        { id: 3, cfrag: b64(CFRAG), policyId: b64(POLICY), level: 1 },
      ],
    });
    // the service got exactly the wire request, as bytes
    expect(service.calls[0].req).toEqual(req);
    expect(service.calls[0].signal).toBeInstanceOf(AbortSignal);
  });

  it('msgpack envelope round trip', async () => {
    const { api, service } = setup();
    const req = sampleRequest(2);
    const res = await postMsgpack(api, '/v1/reencrypt', ReencryptRequest.encode(req));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe(MSGPACK_TYPE);
    const reply = ReencryptReply.decode(new Uint8Array(res.rawPayload));
    expect(reply).toEqual({
      items: [
        { id: 1, cfrag: CFRAG, policyId: POLICY, level: 1 },
        { id: 2, error: 'NOT_FOUND' },
      ],
    });
    expect(service.calls[0].req).toEqual(req);
  });

  it('a policy id is passed through', async () => {
    const { api, service } = setup();
    const req: ReencryptRequest = { items: [{ id: 7, levels: [level()], policyId: POLICY }] };
    expect((await postJson(api, '/v1/reencrypt', asJson(req))).statusCode).toBe(200);
    expect(service.calls[0].req.items[0].policyId).toEqual(POLICY);
  });

  it('against the real NodeService with a MemoryStore', async () => {
    const store = new MemoryStore();
    await store.open();
    const service = new NodeService({
      identity: Identity.generate(),
      store,
      engine: { reencryptBatch: async () => expect.unreachable('no policy, no re-encryption') },
      limits: { maxPolicyLifetime: 86400, capacity: 10 },
      nodeRecord: () => new Uint8Array(1),
      version: '0.1.0',
    });
    const { api } = setup({ service });
    const req = sampleRequest(2);
    const json = await postJson(api, '/v1/reencrypt', asJson(req));
    expect(json.json()).toEqual({
      items: [
        { id: 1, error: 'NOT_FOUND' },
        { id: 2, error: 'NOT_FOUND' },
      ],
    });
    const packed = await postMsgpack(api, '/v1/reencrypt', ReencryptRequest.encode(req));
    expect(ReencryptReply.decode(new Uint8Array(packed.rawPayload))).toEqual({
      items: [
        { id: 1, error: 'NOT_FOUND' },
        { id: 2, error: 'NOT_FOUND' },
      ],
    });
    const status = await get(api, '/v1/status');
    expect(status.json()).toMatchObject({ policies: 0, version: '0.1.0' });
  });

  describe('malformed input is 400 MALFORMED and never reaches the service', () => {
    const good = () => asJson(sampleRequest(1));
    const cases: Array<[string, unknown]> = [
      ['not JSON', '{"items": ['],
      ['no items', {}],
      ['empty items', { items: [] }],
      ['items not an array', { items: 'x' }],
      [
        'bad base64',
        {
          items: [
            { ...good().items[0], levels: [{ ...good().items[0].levels[0], capsule: '!!notbase64!!' }] },
          ],
        },
      ],
      [
        'unpadded base64',
        {
          items: [
            {
              ...good().items[0],
              levels: [
                { ...good().items[0].levels[0], pathHash: b64(new Uint8Array(32)).replace(/=+$/, '') },
              ],
            },
          ],
        },
      ],
      [
        'base64url',
        {
          items: [
            {
              ...good().items[0],
              levels: [
                {
                  ...good().items[0].levels[0],
                  capsule: b64(new Uint8Array(105).fill(0xfb)).replaceAll('+', '-').replaceAll('/', '_'),
                },
              ],
            },
          ],
        },
      ],
      [
        'short capsule',
        {
          items: [
            {
              ...good().items[0],
              levels: [{ ...good().items[0].levels[0], capsule: b64(new Uint8Array(104)) }],
            },
          ],
        },
      ],
      [
        'long path hash',
        {
          items: [
            {
              ...good().items[0],
              levels: [{ ...good().items[0].levels[0], pathHash: b64(new Uint8Array(33)) }],
            },
          ],
        },
      ],
      [
        'short policy id',
        {
          items: [
            { ...good().items[0], levels: [good().items[0].levels[0]], policyId: b64(new Uint8Array(15)) },
          ],
        },
      ],
      ['id not a u32', { items: [{ ...good().items[0], id: -1 }] }],
      ['id missing', { items: [{ levels: good().items[0].levels }] }],
      ['duplicate ids', { items: [good().items[0], good().items[0]] }],
      ['policy id with two levels', { items: [{ ...good().items[0], policyId: b64(POLICY) }] }],
    ];
    it.each(cases)('%s', async (_name, body) => {
      const { api, service } = setup();
      expectError(await postJson(api, '/v1/reencrypt', body), 400, 'MALFORMED');
      expect(service.calls).toHaveLength(0);
    });

    it('names the field in the message', async () => {
      const { api } = setup();
      const body = good();
      body.items[0].levels[0].capsule = b64(new Uint8Array(10));
      const message = expectError(await postJson(api, '/v1/reencrypt', body), 400, 'MALFORMED');
      expect(message).toMatch(/items\.0\.levels\.0\.capsule/);
      expect(message).toMatch(/105 bytes/);
    });

    it.each([
      ['garbage', new Uint8Array([1, 2, 3])],
      ['empty', new Uint8Array(0)],
      [
        'another message type',
        StorePolicyRequest.encode({
          policy: new Uint8Array(9),
          assignment: new Uint8Array(9),
          sealedKFrag: new Uint8Array(9),
        }),
      ],
    ])('msgpack %s', async (_name, bytes) => {
      const { api, service } = setup();
      expectError(await postMsgpack(api, '/v1/reencrypt', bytes), 400, 'MALFORMED');
      expect(service.calls).toHaveLength(0);
    });

    it('text/plain and form bodies are 415', async () => {
      const { api } = setup();
      for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
        const res = await api.inject({
          method: 'POST',
          url: '/v1/reencrypt',
          headers: { host: HOST, 'content-type': type },
          payload: JSON.stringify(good()),
        });
        expectError(res, 415, 'UNSUPPORTED_MEDIA_TYPE');
      }
    });
  });

  it('bodies over the reencrypt limit are 413', async () => {
    const { api, service } = setup();
    const max = PROTOCOL_LIMITS.reencrypt.maxRequestBytes;
    expectError(await postMsgpack(api, '/v1/reencrypt', new Uint8Array(max + 1)), 413, 'TOO_LARGE');
    const json = `{"items":[],"pad":"${'a'.repeat(max)}"}`;
    expectError(await postJson(api, '/v1/reencrypt', json), 413, 'TOO_LARGE');
    expect(service.calls).toHaveLength(0);
  });

  it('the largest valid request fits the limit in both forms', async () => {
    const { api } = setup();
    // 256 items of 16 levels each: 4096 levels, the most a request may carry
    const req: ReencryptRequest = {
      items: Array.from({ length: 256 }, (_, i) => ({ id: i, levels: Array.from({ length: 16 }, level) })),
    };
    expect((await postMsgpack(api, '/v1/reencrypt', ReencryptRequest.encode(req))).statusCode).toBe(200);
    expect((await postJson(api, '/v1/reencrypt', asJson(req))).statusCode).toBe(200);
  });

  it('BUSY (503) beyond the concurrency limit; the slots free again', async () => {
    const { api, service } = setup({ limits: { reencryptConcurrency: 2 } });
    let open: () => void = () => {};
    service.gate = new Promise((resolve) => {
      open = resolve;
    });
    const body = asJson(sampleRequest(1));
    const first = [postJson(api, '/v1/reencrypt', body), postJson(api, '/v1/reencrypt', body)];
    await vi.waitFor(() => expect(service.calls).toHaveLength(2));
    const busy = await postJson(api, '/v1/reencrypt', body);
    expectError(busy, 503, 'BUSY');
    expect(service.calls).toHaveLength(2);
    open();
    for (const res of await Promise.all(first)) expect(res.statusCode).toBe(200);
    expect((await postJson(api, '/v1/reencrypt', body)).statusCode).toBe(200);
  });

  it('TIMEOUT (504) at the deadline, and the service sees its signal abort', async () => {
    const { api, service } = setup({ limits: { reencryptTimeoutMs: 50 } });
    service.gate = new Promise(() => {});
    const res = await postJson(api, '/v1/reencrypt', asJson(sampleRequest(1)));
    expectError(res, 504, 'TIMEOUT');
    expect(service.calls[0].signal?.aborted).toBe(true);
  });

  it('service errors: WireError keeps its code, anything else is a generic 500', async () => {
    const { api, service } = setup();
    service.fail = new WireError('BUSY', 'crypto pool saturated');
    expectError(await postJson(api, '/v1/reencrypt', asJson(sampleRequest(1))), 503, 'BUSY');
    service.fail = new Error('secret internals: /var/lib/thresh/key');
    const message = expectError(
      await postJson(api, '/v1/reencrypt', asJson(sampleRequest(1))),
      500,
      'INTERNAL',
    );
    expect(message).toBe('internal error');
  });

  it('counts requests, durations and items in the metrics', async () => {
    const { api, metrics } = setup({ limits: { reencryptConcurrency: 1 } });
    await postJson(api, '/v1/reencrypt', asJson(sampleRequest(3)));
    await postMsgpack(api, '/v1/reencrypt', ReencryptRequest.encode(sampleRequest(2)));
    await postJson(api, '/v1/reencrypt', { items: [] });
    const ok = { protocol: 'reencrypt', transport: 'http' };
    expect(await counter(metrics, 'thresh_requests_total', { ...ok, outcome: 'ok' })).toBe(2);
    expect(await counter(metrics, 'thresh_requests_total', { ...ok, outcome: 'error' })).toBe(1);
    expect(await counter(metrics, 'thresh_reencrypt_items_total', { outcome: 'cfrag' })).toBe(3);
    expect(await counter(metrics, 'thresh_reencrypt_items_total', { outcome: 'NOT_FOUND' })).toBe(2);
    const text = (await get(api, '/metrics')).body;
    expect(text).toContain('thresh_request_duration_seconds_count{protocol="reencrypt",transport="http"} 3');
  });
});

describe('HTTP API: admin routes', () => {
  it('refuse without a token, with a wrong one and with another scheme', async () => {
    const sweep = vi.fn(async () => ({ policies: 1, tombstones: 2 }));
    const { api } = setup({ admin: { sweep } });
    for (const authorization of [
      undefined,
      `Bearer ${TOKEN}x`,
      'Bearer ',
      `Basic ${TOKEN}`,
      TOKEN,
      `Bearer ${TOKEN.slice(1)}`,
    ]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const res = await get(api, '/v1/admin/policies/count', headers);
      expectError(res, 401, 'UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expectError(await postJson(api, '/v1/admin/sweep', {}, headers), 401, 'UNAUTHORIZED');
    }
    expect(sweep).not.toHaveBeenCalled();
  });

  it('answer with the right token', async () => {
    const sweep = vi.fn(async () => ({ policies: 1, tombstones: 2 }));
    const decommission = vi.fn(async () => ({ handedOff: 5 }));
    const { api } = setup({ admin: { sweep, decommission } });
    const auth = { authorization: `Bearer ${TOKEN}` };
    const count = await get(api, '/v1/admin/policies/count', auth);
    expect(count.statusCode).toBe(200);
    expect(count.json()).toEqual({ policies: 42 });
    const swept = await api.inject({
      method: 'POST',
      url: '/v1/admin/sweep',
      headers: { host: HOST, ...auth },
    });
    expect(swept.json()).toEqual({ ok: true, policies: 1, tombstones: 2 });
    expect(sweep).toHaveBeenCalledOnce();
    const left = await api.inject({
      method: 'POST',
      url: '/v1/admin/decommission',
      headers: { host: HOST, ...auth },
    });
    expect(left.json()).toEqual({ ok: true, handedOff: 5 });
  });

  it('decommission (and sweep) without an action are 501', async () => {
    const { api } = setup();
    const headers = { host: HOST, authorization: `Bearer ${TOKEN}` };
    expectError(
      await api.inject({ method: 'POST', url: '/v1/admin/decommission', headers }),
      501,
      'NOT_IMPLEMENTED',
    );
    expectError(
      await api.inject({ method: 'POST', url: '/v1/admin/sweep', headers }),
      501,
      'NOT_IMPLEMENTED',
    );
  });

  it('refuses a short admin token at construction', () => {
    expect(() => setup({ adminToken: 'short' })).toThrow(/adminToken/);
  });
});

describe('HTTP API: gateway routes', () => {
  const storeReq = StorePolicyRequest.encode({
    policy: new Uint8Array(200).fill(1),
    assignment: new Uint8Array(100).fill(2),
    sealedKFrag: new Uint8Array(300).fill(3),
  });
  const revokeReq = RevokeRequest.encode({ revocation: new Uint8Array(100).fill(4) });
  const reencryptReq = ReencryptRequest.encode(sampleRequest(2));
  const answer = new Uint8Array([0x94, 1, 2, 3]);

  function gateway(relay: GatewayRelay) {
    const spy = vi.fn(relay);
    return { ...setup({ gateway: { enabled: true, relay: spy } }), relay: spy };
  }

  it('store-policy and revoke relay the bytes to the named node and return the reply unopened', async () => {
    const { api, relay, metrics } = gateway(async () => answer);
    const res = await postJson(api, '/v1/gateway/store-policy', { node: NODE_A, request: b64(storeReq) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ node: NODE_A, reply: b64(answer) });
    expect(relay).toHaveBeenCalledOnce();
    const [addrs, protocol, bytes, signal] = relay.mock.calls[0];
    expect(addrs).toEqual([NODE_A]);
    expect(protocol).toBe(PROTOCOL_IDS.storePolicy);
    expect(bytes).toEqual(storeReq);
    expect(signal).toBeInstanceOf(AbortSignal);

    const rev = await postJson(api, '/v1/gateway/revoke', { node: NODE_B, request: b64(revokeReq) });
    expect(rev.json()).toEqual({ node: NODE_B, reply: b64(answer) });
    expect(relay.mock.calls[1][1]).toBe(PROTOCOL_IDS.revoke);
    expect(
      await counter(metrics, 'thresh_requests_total', {
        protocol: 'store_policy',
        transport: 'gateway',
        outcome: 'ok',
      }),
    ).toBe(1);
  });

  it('store-policy: an unreachable node is 502 UNREACHABLE, without library messages', async () => {
    const { api } = gateway(async () => {
      throw new UnreachableError('cannot dial /ip4/127.0.0.1/tcp/4001: ECONNREFUSED internal detail');
    });
    const res = await postJson(api, '/v1/gateway/store-policy', { node: NODE_A, request: b64(storeReq) });
    const message = expectError(res, 502, 'UNREACHABLE');
    expect(message).not.toMatch(/ECONNREFUSED/);
  });

  it('retrieve fans out to every named node in parallel; one failing node is its own error', async () => {
    let inFlight = 0;
    let most = 0;
    const { api, relay } = gateway(async (addrs, protocol) => {
      expect(protocol).toBe(PROTOCOL_IDS.reencrypt);
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      if (addrs[0] === NODE_B) throw new UnreachableError('no route');
      return answer;
    });
    const nodes = [NODE_A, NODE_B, `/ip4/127.0.0.3/tcp/4001/p2p/${PEER}`];
    const res = await postJson(api, '/v1/gateway/retrieve', { nodes, request: b64(reencryptReq) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      results: [
        { node: NODE_A, reply: b64(answer) },
        { node: NODE_B, error: { code: 'UNREACHABLE', message: 'cannot dial the node' } },
        { node: nodes[2], reply: b64(answer) },
      ],
    });
    expect(relay).toHaveBeenCalledTimes(3);
    expect(most).toBe(3);
    for (const call of relay.mock.calls) expect(call[2]).toEqual(reencryptReq);
  });

  it('retrieve: a relay that throws something unknown is INTERNAL for that node', async () => {
    const { api } = gateway(async (addrs) => {
      if (addrs[0] === NODE_A) throw new Error('boom');
      return answer;
    });
    const res = await postJson(api, '/v1/gateway/retrieve', {
      nodes: [NODE_A, NODE_B],
      request: b64(reencryptReq),
    });
    expect(res.json()).toEqual({
      results: [
        { node: NODE_A, error: { code: 'INTERNAL', message: 'internal error' } },
        { node: NODE_B, reply: b64(answer) },
      ],
    });
  });

  it.each([
    ['not a multiaddr', { node: 'http://example.org', request: b64(storeReq) }],
    ['no /p2p/', { node: '/ip4/127.0.0.1/tcp/4001', request: b64(storeReq) }],
    ['bad peer id', { node: '/ip4/127.0.0.1/tcp/4001/p2p/notapeer', request: b64(storeReq) }],
    ['node missing', { request: b64(storeReq) }],
    ['request not base64', { node: NODE_A, request: 'not base64!' }],
    ['request not a store-policy envelope', { node: NODE_A, request: b64(revokeReq) }],
    ['extra field', { node: NODE_A, request: b64(storeReq), nodes: [NODE_B] }],
  ])('store-policy: %s is 400', async (_name, body) => {
    const { api, relay } = gateway(async () => answer);
    expectError(await postJson(api, '/v1/gateway/store-policy', body), 400, 'MALFORMED');
    expect(relay).not.toHaveBeenCalled();
  });

  it.each([
    ['an invalid node', { nodes: [NODE_A, '/ip4/1.2.3.4'], request: b64(reencryptReq) }],
    ['no nodes', { nodes: [], request: b64(reencryptReq) }],
    [
      '33 nodes',
      {
        nodes: Array.from({ length: 33 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1/p2p/${PEER}`),
        request: b64(reencryptReq),
      },
    ],
    ['a duplicate node', { nodes: [NODE_A, NODE_A], request: b64(reencryptReq) }],
    ['not a reencrypt request', { nodes: [NODE_A], request: b64(storeReq) }],
  ])('retrieve: %s is 400', async (_name, body) => {
    const { api, relay } = gateway(async () => answer);
    expectError(await postJson(api, '/v1/gateway/retrieve', body), 400, 'MALFORMED');
    expect(relay).not.toHaveBeenCalled();
  });

  it('retrieve with 32 nodes is fine', async () => {
    const { api, relay } = gateway(async () => answer);
    const nodes = Array.from({ length: 32 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1/p2p/${PEER}`);
    const res = await postJson(api, '/v1/gateway/retrieve', { nodes, request: b64(reencryptReq) });
    expect(res.statusCode).toBe(200);
    expect(relay).toHaveBeenCalledTimes(32);
  });

  it('the routes are 404 when the gateway is disabled', async () => {
    const relay = vi.fn(async () => answer);
    for (const gatewayInit of [undefined, { enabled: false, relay }]) {
      const { api } = setup({ gateway: gatewayInit });
      for (const url of ['/v1/gateway/store-policy', '/v1/gateway/revoke', '/v1/gateway/retrieve']) {
        expectError(await postJson(api, url, { node: NODE_A, request: b64(storeReq) }), 404, 'NOT_FOUND');
      }
    }
    expect(relay).not.toHaveBeenCalled();
  });

  it('BUSY beyond the gateway concurrency limit', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const relay = vi.fn(async () => {
      await gate;
      return answer;
    });
    const { api } = setup({ gateway: { enabled: true, relay }, limits: { gatewayConcurrency: 1 } });
    const first = postJson(api, '/v1/gateway/store-policy', { node: NODE_A, request: b64(storeReq) });
    await vi.waitFor(() => expect(relay).toHaveBeenCalledOnce());
    expectError(
      await postJson(api, '/v1/gateway/revoke', { node: NODE_A, request: b64(revokeReq) }),
      503,
      'BUSY',
    );
    open();
    expect((await first).statusCode).toBe(200);
  });

  it('unopened reply bytes and decoded reencrypt replies are the same thing', async () => {
    // the gateway hands back what the node said; a reader decodes it as if it had asked itself
    const reply = ReencryptReply.encode({
      items: [
        { id: 1, error: 'REVOKED' },
        { id: 2, error: 'NOT_FOUND' },
      ],
    });
    const { api } = gateway(async () => reply);
    const res = await postJson(api, '/v1/gateway/retrieve', { nodes: [NODE_A], request: b64(reencryptReq) });
    const { results } = res.json() as { results: Array<{ reply: string }> };
    expect(ReencryptReply.decode(unb64(results[0].reply))).toEqual({
      items: [
        { id: 1, error: 'REVOKED' },
        { id: 2, error: 'NOT_FOUND' },
      ],
    });
  });
});

describe('HTTP API on a real socket', () => {
  it("a client that goes away aborts the service's signal and frees its slot", async () => {
    const { api, service } = setup({ port: 0, limits: { reencryptConcurrency: 1 } });
    const { url } = await api.start();
    service.gate = new Promise(() => {});
    const ac = new AbortController();
    const body = JSON.stringify(asJson(sampleRequest(1)));
    const post = (signal?: AbortSignal) =>
      fetch(`${url}/v1/reencrypt`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal,
      });
    const pending = post(ac.signal).catch((e: unknown) => e);
    await vi.waitFor(() => expect(service.calls).toHaveLength(1));
    ac.abort();
    await pending;
    await vi.waitFor(() => expect(service.calls[0].signal?.aborted).toBe(true));
    // the hung service still holds its slot (the limit bounds real work), so BUSY
    expect((await post()).status).toBe(503);
  });

  it('binds 127.0.0.1 on a free port and answers fetch', async () => {
    const { api } = setup({ port: 0 });
    const { host, port, url } = await api.start();
    expect(host).toBe('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const health = await fetch(`${url}/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });
    const reencrypt = await fetch(`${url}/v1/reencrypt`, {
      method: 'POST',
      headers: { 'content-type': MSGPACK_TYPE },
      body: Buffer.from(ReencryptRequest.encode(sampleRequest(1))),
    });
    expect(reencrypt.status).toBe(200);
    const reply = unwrapReply(ReencryptReply.decode(new Uint8Array(await reencrypt.arrayBuffer())));
    expect(reply.items).toHaveLength(1);
    // the same server under a rebound DNS name: refused
    const rebound = await api.inject({
      method: 'GET',
      url: '/v1/health',
      headers: { host: `attacker.example:${port}` },
    });
    expect(rebound.statusCode).toBe(403);
    await api.stop();
    await expect(fetch(`${url}/v1/health`)).rejects.toThrow();
  });
});
