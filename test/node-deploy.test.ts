import { request } from 'node:http';
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
    expect(await getWithHost(`${a.runtime!.http}/v1/health`, 'evil.example:9999')).toBe(403);
  } finally {
    await c.cleanup();
  }
});
