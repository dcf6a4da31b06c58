import { request } from 'node:http';
import { ReencryptReply, ReencryptRequest, unwrapReply, verifyNodeRecord } from '@thresh/protocol';
import { expect, it } from 'vitest';

/** GET with an explicit Host header (fetch does not let a caller set one). */
function getWithHost(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

import { ProcessCluster } from './helpers/processes.js';

it('bootstraps from an address without a peer id; the HTTP API accepts an allowed Host', async () => {
  const c = new ProcessCluster();
  try {
    const [a, b] = await c.init(2);
    await a.start(['--http-allow-host', 'thresh.example:9999']);
    const plain = a.bootstrapAddr.replace(/\/p2p\/.*$/, '');
    await b.start(['--bootstrap', plain]);
    let peers = 0;
    for (let i = 0; i < 50 && peers < 1; i++) {
      peers = ((await (await fetch(`${b.runtime!.http}/v1/status`)).json()) as { peers: number }).peers;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(peers).toBeGreaterThanOrEqual(1);
    expect(await getWithHost(`${a.runtime!.http}/v1/health`, 'thresh.example:9999')).toBe(200);
    // The status carries the node's signed record; the gateway relays to the node itself.
    const status = (await (await fetch(`${a.runtime!.http}/v1/status`)).json()) as {
      nodeRecord: string;
      peerId: string;
    };
    expect(verifyNodeRecord(Buffer.from(status.nodeRecord, 'base64')).body.peer).toBe(status.peerId);
    const request = ReencryptRequest.encode({
      items: [{ id: 1, levels: [{ pathHash: new Uint8Array(32), capsule: new Uint8Array(105) }] }],
    });
    const res = await fetch(`${a.runtime!.http}/v1/gateway/retrieve`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ nodes: [a.bootstrapAddr], request: Buffer.from(request).toString('base64') }),
    });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: { reply?: string; error?: unknown }[] };
    expect(results[0].error).toBeUndefined();
    const reply = unwrapReply(ReencryptReply.decode(Buffer.from(results[0].reply!, 'base64')));
    expect(reply.items[0]).toMatchObject({ id: 1, error: 'NOT_FOUND' });
    expect(await getWithHost(`${a.runtime!.http}/v1/health`, 'evil.example:9999')).toBe(403);
  } finally {
    await c.cleanup();
  }
});
