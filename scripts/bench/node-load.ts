/**
 * The load generator of bench:node, run as its own process: a client-mode libp2p host sends
 * re-encrypt batches to one node, `concurrency` requests in flight, for a fixed time, and
 * prints cfrags per second and request latency percentiles as JSON on stdout.
 */
import '@thresh/protocol/polyfill';
import { readFile } from 'node:fs/promises';
import { multiaddr } from '@multiformats/multiaddr';
import { createThreshLibp2p, request } from '@thresh/client';
import { PROTOCOL_IDS, ReencryptReply, ReencryptRequest, unwrapReply } from '@thresh/protocol';

interface LoadSpec {
  addrs: string[];
  pathHash: number[];
  capsule: number[];
  batch: number;
  /** Client peers (a node serves at most 4 concurrent streams per peer and protocol). */
  peers: number;
  concurrency: number;
  seconds: number;
}

const spec = JSON.parse(await readFile(process.argv[2], 'utf8')) as LoadSpec;
const hosts = await Promise.all(
  Array.from({ length: spec.peers }, () =>
    createThreshLibp2p({
      privateKey: crypto.getRandomValues(new Uint8Array(32)),
      clientMode: true,
      initialQuerySelfInterval: 0,
    }),
  ),
);
const addrs = spec.addrs.map((a) => multiaddr(a));
const level = { pathHash: Uint8Array.from(spec.pathHash), capsule: Uint8Array.from(spec.capsule) };
const body = ReencryptRequest.encode({
  items: Array.from({ length: spec.batch }, (_, id) => ({ id, levels: [level] })),
});

async function once(host: (typeof hosts)[number]): Promise<number> {
  const t0 = performance.now();
  const reply = unwrapReply(
    ReencryptReply.decode(await request(host, addrs, PROTOCOL_IDS.reencrypt, body, { timeoutMs: 60_000 })),
  );
  const ok = reply.items.filter((i) => 'cfrag' in i && i.cfrag).length;
  if (ok !== spec.batch)
    throw new Error(`${spec.batch - ok} items failed: ${JSON.stringify(reply.items[0])}`);
  return performance.now() - t0;
}

for (const host of hosts) for (let i = 0; i < 3; i++) await once(host); // warm-up: connection, JIT, workers
const latencies: number[] = [];
const end = performance.now() + spec.seconds * 1000;
const start = performance.now();
await Promise.all(
  hosts.flatMap((host) =>
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < end) latencies.push(await once(host));
    }),
  ),
);
const elapsed = (performance.now() - start) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
process.stdout.write(
  `${JSON.stringify({
    requests: latencies.length,
    cfragsPerSecond: (latencies.length * spec.batch) / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    loadCpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  })}\n`,
);
await Promise.all(hosts.map((h) => h.stop()));
process.exit(0);
