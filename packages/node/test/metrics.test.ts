import { PROTOCOL_IDS, type ReencryptReply } from '@thresh/protocol';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, REDACTED_FIELDS } from '../src/logger.js';
import { createMetrics, type NodeMetrics, outcomeOfStatus } from '../src/metrics.js';

async function value(metrics: NodeMetrics, name: string, labels: Record<string, string> = {}) {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value;
}

describe('node metrics', () => {
  it('each node has its own registry: two in one process do not clash', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.observe('reencrypt', 'http', 'ok', 12);
    expect(await value(a, 'thresh_requests_total', { protocol: 'reencrypt', outcome: 'ok' })).toBe(1);
    expect(await value(b, 'thresh_requests_total', { protocol: 'reencrypt', outcome: 'ok' })).toBeUndefined();
    // both carry the default process metrics
    for (const m of [a, b]) {
      const text = await m.metrics();
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).toContain('nodejs_heap_size_used_bytes');
    }
    expect(a.contentType).toMatch(/^text\/plain/);
  });

  it('process metrics can be left out', async () => {
    const text = await createMetrics({ processMetrics: false }).metrics();
    expect(text).not.toContain('process_cpu');
    expect(text).toContain('# TYPE thresh_requests_total counter');
    expect(text).toContain('# TYPE thresh_request_duration_seconds histogram');
    expect(text).toContain('# TYPE thresh_reencrypt_items_total counter');
    expect(text).toContain('# TYPE thresh_sweep_deleted_total counter');
    expect(text).toContain('# TYPE thresh_policies gauge');
    expect(text).toContain('# TYPE thresh_peers gauge');
  });

  it("onOutcome is serve.ts's hook: protocol ids to labels, transport libp2p", async () => {
    const m = createMetrics({ processMetrics: false });
    const hook: (protocol: string, outcome: 'ok' | 'busy', ms: number) => void = m.onOutcome;
    hook(PROTOCOL_IDS.reencrypt, 'ok', 250);
    hook(PROTOCOL_IDS.storePolicy, 'busy', 1);
    hook(PROTOCOL_IDS.nodeRecord, 'ok', 1);
    hook(PROTOCOL_IDS.handoff, 'ok', 1);
    hook(PROTOCOL_IDS.revoke, 'ok', 1);
    hook('/some/other/1.0.0', 'ok', 1);
    const labels = { transport: 'libp2p' };
    expect(await value(m, 'thresh_requests_total', { ...labels, protocol: 'reencrypt', outcome: 'ok' })).toBe(
      1,
    );
    expect(
      await value(m, 'thresh_requests_total', { ...labels, protocol: 'store_policy', outcome: 'busy' }),
    ).toBe(1);
    expect(
      await value(m, 'thresh_requests_total', { ...labels, protocol: 'node_record', outcome: 'ok' }),
    ).toBe(1);
    expect(await value(m, 'thresh_requests_total', { ...labels, protocol: 'handoff', outcome: 'ok' })).toBe(
      1,
    );
    expect(await value(m, 'thresh_requests_total', { ...labels, protocol: 'revoke', outcome: 'ok' })).toBe(1);
    const { values } = await m.requests.get();
    expect(values).toHaveLength(5);
    const text = await m.metrics();
    // 250 ms lands in the 0.25 s bucket
    expect(text).toContain(
      'thresh_request_duration_seconds_bucket{le="0.25",protocol="reencrypt",transport="libp2p"} 1',
    );
    expect(text).toContain(
      'thresh_request_duration_seconds_bucket{le="0.1",protocol="reencrypt",transport="libp2p"} 0',
    );
  });

  it('recordReencrypt counts items by outcome; an error reply counts none', async () => {
    const m = createMetrics({ processMetrics: false });
    const cfrag = new Uint8Array(381);
    const policyId = new Uint8Array(16);
    const reply: ReencryptReply = {
      items: [
        { id: 1, cfrag, policyId, level: 0 },
        { id: 2, cfrag, policyId, level: 1 },
        { id: 3, error: 'NOT_FOUND' },
        { id: 4, error: 'REVOKED' },
        { id: 5, error: 'EXPIRED' },
        { id: 6, error: 'BAD_CAPSULE' },
        { id: 7, error: 'NOT_FOUND' },
      ],
    };
    m.recordReencrypt(reply);
    m.recordReencrypt({ error: { code: 'BUSY', message: 'busy' } });
    expect(await value(m, 'thresh_reencrypt_items_total', { outcome: 'cfrag' })).toBe(2);
    expect(await value(m, 'thresh_reencrypt_items_total', { outcome: 'NOT_FOUND' })).toBe(2);
    expect(await value(m, 'thresh_reencrypt_items_total', { outcome: 'REVOKED' })).toBe(1);
    expect(await value(m, 'thresh_reencrypt_items_total', { outcome: 'EXPIRED' })).toBe(1);
    expect(await value(m, 'thresh_reencrypt_items_total', { outcome: 'BAD_CAPSULE' })).toBe(1);
    expect(await value(m, 'thresh_reencrypt_items_total', { outcome: 'BUSY' })).toBeUndefined();
  });

  it('recordSweep counts deletions by kind', async () => {
    const m = createMetrics({ processMetrics: false });
    m.recordSweep({ policies: 3, tombstones: 0 });
    m.recordSweep({ policies: 2, tombstones: 4 });
    expect(await value(m, 'thresh_sweep_deleted_total', { kind: 'policy' })).toBe(5);
    expect(await value(m, 'thresh_sweep_deleted_total', { kind: 'tombstone' })).toBe(4);
  });

  it('gauges read their callbacks at each scrape; a failing callback keeps the last value', async () => {
    let policies = 7;
    let fail = false;
    const warn = vi.fn();
    const m = createMetrics({
      processMetrics: false,
      policies: async () => {
        if (fail) throw new Error('store closed');
        return policies;
      },
      peers: () => 2,
      log: { debug() {}, info() {}, warn, error() {} },
    });
    expect(await m.metrics()).toContain('thresh_policies 7');
    policies = 9;
    expect(await m.metrics()).toContain('thresh_policies 9');
    fail = true;
    const text = await m.metrics();
    expect(text).toContain('thresh_policies 9');
    expect(text).toContain('thresh_peers 2');
    expect(warn).toHaveBeenCalledOnce();
  });

  it('default labels mark every series', async () => {
    const m = createMetrics({ processMetrics: false, labels: { node: 'n1' } });
    m.observe('revoke', 'gateway', 'error', 5);
    expect(await m.metrics()).toContain(
      'thresh_requests_total{protocol="revoke",transport="gateway",outcome="error",node="n1"} 1',
    );
  });

  it('outcomeOfStatus uses the libp2p vocabulary', () => {
    expect(outcomeOfStatus(200)).toBe('ok');
    expect(outcomeOfStatus(400)).toBe('error');
    expect(outcomeOfStatus(413)).toBe('too-large');
    expect(outcomeOfStatus(503)).toBe('busy');
    expect(outcomeOfStatus(504)).toBe('timeout');
    expect(outcomeOfStatus(500)).toBe('error');
  });
});

describe('node logger', () => {
  function capture(level = 'debug') {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({
      level,
      name: 'test-node',
      destination: { write: (s: string) => lines.push(JSON.parse(s)) },
    });
    return { log, lines };
  }

  it('writes structured JSON with the level and name', () => {
    const { log, lines } = capture('info');
    log.debug({ x: 1 }, 'hidden');
    log.info({ policy: 'abcdef' }, 'stored a policy');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      name: 'test-node',
      policy: 'abcdef',
      msg: 'stored a policy',
    });
    expect(typeof lines[0].time).toBe('string');
  });

  it('redacts secret-looking fields at any of the first levels', () => {
    const { log, lines } = capture();
    const secretish = Object.fromEntries(REDACTED_FIELDS.map((f) => [f, 'SECRET']));
    log.info({ ...secretish, a: { ...secretish, b: { ...secretish, c: { kfrag: 'SECRET' } } } }, 'x');
    log.child({ token: 'SECRET' }).warn({ req: { headers: { authorization: 'Bearer SECRET' } } }, 'y');
    const text = JSON.stringify(lines);
    expect(text).not.toContain('SECRET');
    expect(lines[0].kfrag).toBe('[redacted]');
    expect(lines[0].path).toBe('[redacted]');
  });

  it('refuses an unknown level', () => {
    expect(() => createLogger({ level: 'loud' })).toThrow(/level/);
  });
});
