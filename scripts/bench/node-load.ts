/**
 * The load generator of bench:node, run as its own process: a client-mode libp2p host sends
 * re-encrypt batches to one node, `concurrency` requests in flight, for a fixed time, and
 * prints cfrags per second, request latency percentiles and the CPU both processes used in the
 * timed window as JSON on stdout.
 *
 * Kept light so that it takes as little as possible of the cores the node shares with it: the
 * request frame is encoded once, and in the timed loop each reply is read whole (every byte
 * through Noise and yamux) and checked by its length only; every reply is then decoded and
 * checked item by item after the clock stops (warm-up replies too, before it starts).
 */
import '@thresh/protocol/polyfill';
import { readdir, readFile } from 'node:fs/promises';
import { multiaddr } from '@multiformats/multiaddr';
import { createThreshLibp2p, SessionPool } from '@thresh/client';
import { ReencryptReply, ReencryptRequest, unwrapReply } from '@thresh/protocol';

interface LoadSpec {
  addrs: string[];
  pathHash: number[];
  capsule: number[];
  batch: number;
  /** Client peers (a node serves at most 4 concurrent streams per peer and protocol). */
  peers: number;
  concurrency: number;
  seconds: number;
  /** The node's process id, to read its CPU time over the timed window (Linux /proc). */
  nodePid?: number;
}

/** CPU seconds (user + system) process `pid` has used so far, from /proc (Linux). */
async function cpuSecondsOf(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return undefined;
  }
}

/** CPU seconds of each thread of process `pid` by thread id, with its name (Linux /proc). */
async function threadCpuOf(pid: number | undefined): Promise<Map<string, { name: string; cpu: number }>> {
  const out = new Map<string, { name: string; cpu: number }>();
  if (pid === undefined) return out;
  try {
    for (const tid of await readdir(`/proc/${pid}/task`)) {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
      if (!stat) continue;
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
      out.set(tid, { name, cpu: (Number(fields[11]) + Number(fields[12])) / 100 });
    }
  } catch {
    // not Linux: no per-thread figures
  }
  return out;
}

const ownCpuSeconds = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

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

/** Throws unless every item of the reply is a cfrag. */
function check(replyBytes: Uint8Array): void {
  const reply = unwrapReply(ReencryptReply.decode(replyBytes));
  const ok = reply.items.filter((i) => 'cfrag' in i && i.cfrag !== undefined && i.cfrag.length > 0).length;
  if (ok !== spec.batch || reply.items.length !== spec.batch)
    throw new Error(`${spec.batch - ok} items failed: ${JSON.stringify(reply.items[0])}`);
}

// Each host talks to the node as the client library does: one session stream, every request a
// call on it (SessionPool; PROTOCOL.md 8.1), at most the protocol's per-peer calls in flight.
const nodePeer = addrs[0].getComponents().find((c) => c.name === 'p2p')?.value;
if (nodePeer == null) throw new Error('the node address has no /p2p/ part');
const connections = hosts.map((h) => new SessionPool(h));
const send = (pool: SessionPool) => pool.call(nodePeer, addrs, 'reencrypt', body, { timeoutMs: 60_000 });

// Warm-up (connection, JIT, workers); every reply fully checked. A success reply to this one
// request always has the same length (fixed-size cfrag, policy id and level per item).
let replyLength = -1;
for (const conn of connections) {
  for (let i = 0; i < 3; i++) {
    const reply = await send(conn);
    check(reply);
    if (replyLength >= 0 && reply.length !== replyLength) throw new Error('success replies differ in length');
    replyLength = reply.length;
  }
}

const latencies: number[] = [];
const replies: Uint8Array[] = [];
const nodeCpu0 = await cpuSecondsOf(spec.nodePid);
const threads0 = await threadCpuOf(spec.nodePid);
const ownCpu0 = ownCpuSeconds();
const start = performance.now();
const end = start + spec.seconds * 1000;
await Promise.all(
  connections.flatMap((conn) =>
    Array.from({ length: spec.concurrency }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const reply = await send(conn);
        if (reply.length !== replyLength) check(reply); // throws: not a whole success reply
        latencies.push(performance.now() - t0);
        replies.push(reply);
      }
    }),
  ),
);
const elapsed = (performance.now() - start) / 1000;
const ownCpu = ownCpuSeconds() - ownCpu0;
const nodeCpu1 = await cpuSecondsOf(spec.nodePid);
const threads1 = await threadCpuOf(spec.nodePid);
// The node's busiest threads over the window (the main thread is the one whose id is the pid).
const nodeThreads = [...threads1]
  .map(([tid, t]) => ({
    thread: tid === String(spec.nodePid) ? 'main' : t.name,
    cores: (t.cpu - (threads0.get(tid)?.cpu ?? 0)) / elapsed,
  }))
  .filter((t) => t.cores >= 0.01)
  .sort((a, b) => b.cores - a.cores);
// After the clock: every reply decoded and checked item by item.
for (const reply of replies) check(reply);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
process.stdout.write(
  `${JSON.stringify({
    requests: latencies.length,
    cfragsPerSecond: (latencies.length * spec.batch) / elapsed,
    p50: pct(0.5),
    p99: pct(0.99),
    seconds: elapsed,
    loadCores: ownCpu / elapsed,
    nodeCores: nodeCpu0 === undefined || nodeCpu1 === undefined ? undefined : (nodeCpu1 - nodeCpu0) / elapsed,
    nodeThreads,
  })}\n`,
);
await Promise.all(hosts.map((h) => h.stop()));
process.exit(0);
