/**
 * `npm run bench:cluster` (issue #6 "Speed"): a local cluster of real node processes (the built
 * CLI, 127.0.0.1, ports chosen at run time, data in a temp dir) driven by @thresh/client from
 * this process over libp2p:
 *
 * - grant latency: an owner grants a directory (/bench) 3-of-5, to a new reader each time,
 *   through the real node selection (DHT closest peers, node records, stores, map published);
 * - decrypt latency of a 1 KiB file under /bench: with the grant string, and the whole path
 *   from the DHT (findGrant: the reader's map looked up by owner card and path, then decrypt:
 *   requests, cfrag verification, combination), warm and with a new client object;
 * - decrypt throughput with 16 and 64 concurrent readers (each its own client; 4 readers per
 *   libp2p host, the node's per-peer limit of concurrent re-encrypt streams);
 * - a 50-node cluster: time from spawning the first process until every node answers its HTTP
 *   status with >= --min-peers connections and a grant + decrypt through a new client succeeds;
 *   the peak RSS (VmHWM) of every node process.
 *
 * Flags: --quick (fewer samples, a 20-node formation), --nodes N (10), --big-nodes N (50),
 * --skip-50, --formation-only (only the big cluster forming), --grants N, --decrypts N, --seconds S (per throughput level), --concurrency 16,64,
 * --min-peers K (3). Targets (issue #6): decrypt p50 < 15 ms and p99 < 50 ms; grant p50 < 150 ms;
 * 50 nodes formed in < 60 s. Wall-clock targets live here, never in tests.
 *
 * `npm run bench:cluster` runs it with `node --import @thresh/client/fast-keys`, as an app
 * should (docs/LIBRARY.md): this process's libp2p keys then go through libsecp256k1, as the
 * node processes' (bundled CLI) do. The header says which it ran with.
 */
import '@thresh/protocol/polyfill';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createClient, dhtRoutingTableSize, Libp2pTransport } from '@thresh/client';
import { fastKeysInUse } from '@thresh/client/fast-keys';
import { bytesEqual, collect, curveBackendName, encryptFile, Identity } from '@thresh/protocol';
import {
  cpuSeconds,
  initNodes,
  killAll,
  memoryOf,
  type RunningNode,
  startCluster,
  status,
  stopNodes,
  watchPeers,
} from './cluster-procs.js';
import { Trace, traced } from './cluster-trace.js';
import { fmtMs, table } from './harness.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    nodes: { type: 'string' },
    'big-nodes': { type: 'string' },
    'skip-50': { type: 'boolean', default: false },
    'formation-only': { type: 'boolean', default: false },
    grants: { type: 'string' },
    decrypts: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    'min-peers': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});
const quick = flags.quick ?? false;
const verbose = flags.verbose ?? false;
const num = (v: string | undefined, full: number, fast: number) =>
  v !== undefined ? Number(v) : quick ? fast : full;
const N = num(flags.nodes, 10, 10);
const BIG = num(flags['big-nodes'], 50, 20);
const GRANTS = num(flags.grants, 40, 12);
const DECRYPTS = num(flags.decrypts, 100, 40);
const SECONDS = num(flags.seconds, 6, 3);
const MIN_PEERS = num(flags['min-peers'], 3, 3);
const LEVELS = (flags.concurrency ?? (quick ? '16' : '16,64')).split(',').map(Number);
const M = 3;
const SHARES = 5;
const DIR = '/bench';
const FILE_PATH = '/bench/reports/small.bin';
const TARGETS = { decryptP50: 15, decryptP99: 50, grantP50: 150, formationS: 60 };

// ---------------------------------------------------------------------------------- helpers

interface Stats {
  n: number;
  p50: number;
  p99: number;
  mean: number;
  max: number;
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))];
  return {
    n: s.length,
    p50: at(0.5),
    p99: at(0.99),
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    max: s[s.length - 1],
  };
}

const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))];
const median = (xs: number[]) => quantile(xs, 0.5);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) =>
  process.stderr.write(`[bench:cluster ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const loadavg = () => {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
};

const transports = new Set<Libp2pTransport>();
/** The trace the traced clients (owner, sequential reader) record into; one per measured phase. */
let trace: Trace | undefined;
const phases: { name: string; trace: Trace; ops: number; wallMs: number }[] = [];
/**
 * Runs `count` operations of `fn` one after the other under a fresh trace; their latencies.
 * `between`, if given, runs before each operation, untimed and untraced.
 */
async function phase(
  name: string,
  count: number,
  fn: (i: number) => Promise<void>,
  between?: () => Promise<void>,
): Promise<number[]> {
  const t = new Trace();
  const lat: number[] = [];
  let wallMs = 0;
  for (let i = 0; i < count; i++) {
    if (between) await between();
    trace = t;
    const s = performance.now();
    await fn(i);
    const ms = performance.now() - s;
    trace = undefined;
    lat.push(ms);
    wallMs += ms;
  }
  phases.push({ name, trace: t, ops: count, wallMs });
  trace = undefined;
  return lat;
}

/** A client-mode libp2p host bootstrapped off `bootstrap`, once its DHT finds `want` nodes. */
async function connectedTransport(
  bootstrap: string[],
  want: number,
  timeoutMs = 60_000,
): Promise<Libp2pTransport> {
  const t = await Libp2pTransport.create({ bootstrap });
  transports.add(t);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const asked = performance.now();
    const peers = await t.closestNodes(crypto.getRandomValues(new Uint8Array(16)), 20).catch((e: unknown) => {
      if (verbose) log(`a new client's lookup failed: ${e instanceof Error ? e.message : String(e)}`);
      return [];
    });
    if (verbose) {
      log(
        `a new client's lookup: ${peers.length} peers in ${(performance.now() - asked).toFixed(0)} ms, routing table ${dhtRoutingTableSize(t.host)}, connections ${t.host.getConnections().length}`,
      );
    }
    if (peers.length >= want) return t;
    if (Date.now() > deadline) throw new Error(`a client found ${peers.length} DHT peers (wanted ${want})`);
    await sleep(200);
  }
}

async function closeTransports(): Promise<void> {
  await Promise.allSettled([...transports].map((t) => t.close()));
  transports.clear();
}

const pick = <T>(xs: T[], k: number) => [...xs].sort(() => Math.random() - 0.5).slice(0, k);
const bootstrapOf = (nodes: RunningNode[], k = 3) => pick(nodes, k).map((n) => n.runtime.multiaddrs[0]);

async function memoryTable(nodes: RunningNode[]) {
  const mem = (await Promise.all(nodes.map((n) => memoryOf(n.runtime.pid)))).filter((m) => m !== undefined);
  const peaks = mem.map((m) => m.peakMiB);
  const rss = mem.map((m) => m.rssMiB);
  return {
    peakMax: Math.max(...peaks),
    peakMedian: median(peaks),
    rssMax: Math.max(...rss),
    rssMedian: median(rss),
    rssSum: rss.reduce((a, b) => a + b, 0),
  };
}

// ------------------------------------------------------------------------------------- run

const loadAtStart = loadavg();
const base = await mkdtemp(join(tmpdir(), 'thresh-bench-cluster-'));
let current: RunningNode[] = [];
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  log(`${signal}: stopping every node and removing ${base}`);
  killAll();
  void rm(base, { recursive: true, force: true }).finally(() => process.exit(130));
};
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

const fastKeys = await fastKeysInUse();
const ownerId = Identity.generate();
const plaintext = crypto.getRandomValues(new Uint8Array(1024));
const lines: string[] = [];
let headerPrinted = false;
/** Prints what is measured so far (the header first), so a later failure keeps it. */
function flush(last = false): void {
  if (!headerPrinted) {
    headerPrinted = true;
    console.log(
      `cluster benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, curve backend ${curveBackendName()}`,
    );
    console.log(
      `real node processes (thresh node start, one crypto worker each, as thresh cluster up runs them, log level warn) on 127.0.0.1; the client library in this process over libp2p`,
    );
    console.log(
      `this process's libp2p secp256k1 keys: ${fastKeys ? 'libsecp256k1 (@thresh/client/fast-keys)' : 'noble only (run it with node --import @thresh/client/fast-keys, as npm run bench:cluster does)'}`,
    );
    console.log(
      `load average (1, 5, 15 min) at the start ${loadAtStart} (other processes on this machine share its ${cpus().length} cores)\n`,
    );
  }
  console.log(lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n'));
  console.log(`\n${targetLines.join('\n')}`);
  if (last) console.log(`load average at the end ${loadavg()}`);
  lines.length = 0;
  targetLines.length = 0;
}
const targetLines: string[] = [];
const check = (out: Uint8Array) => {
  if (!bytesEqual(out, plaintext)) throw new Error('decrypt returned other bytes');
};
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');
let exitCode = 0;

try {
  const okTargets: boolean[] = [];
  let t0 = performance.now();
  // ---------------------------------------------------------------- the N-node cluster
  if (!flags['formation-only']) {
    log(`initialising ${N} nodes in ${base}`);
    t0 = performance.now();
    const dirs = await initNodes(join(base, 'small'), N);
    const initS = (performance.now() - t0) / 1000;
    log(`starting ${N} nodes`);
    t0 = performance.now();
    current = await startCluster(dirs);
    const upS = (performance.now() - t0) / 1000;
    const smallStart = t0;
    const { allOne: formedS } = await watchPeers(current, 1, () => (performance.now() - smallStart) / 1000, {
      oneS: 120,
      minS: 120,
    });
    const nodes = current;

    log(`processes up in ${upS.toFixed(1)} s, every node answers with >= 1 peer at ${formedS.toFixed(1)} s`);
    const ownerT = await connectedTransport(bootstrapOf(nodes), Math.min(N, SHARES));
    const owner = createClient({
      identity: ownerId,
      transport: traced(ownerT, () => trace),
      stateDir: join(base, 'owner'),
    });
    const readers = Array.from({ length: GRANTS }, () => Identity.generate());

    // Grant latency: a 3-of-5 grant of /bench to a new reader each time (2 warm-up grants first).
    log(`${GRANTS} grants of ${DIR} ${M}-of-${SHARES}`);
    let abandoned = 0;
    const grantTo = async (reader = Identity.generate(), awaitPublication = false) => {
      const g = await owner.grant({
        path: DIR,
        reader: reader.card,
        threshold: M,
        shares: SHARES,
        ttl: 3600,
        awaitPublication,
      });
      abandoned += g.abandoned.length;
      return g;
    };
    for (let i = 0; i < 2; i++) await grantTo();
    abandoned = 0;
    const grants: string[] = [];
    const grantMs = await phase('grant', GRANTS, async (i) => {
      grants.push((await grantTo(readers[i])).grantString);
    });
    // The maps of the grants above are still being put in the DHT: done before anything else.
    await owner.flush();
    // One grant at a time, as an owner grants: the previous grant's map publication (which runs
    // on after grant() resolves) finished first, untimed. Back to back (above), each grant
    // shares this process's CPU with the previous one's publication.
    const isolatedMs = await phase(
      'grant, one at a time',
      GRANTS,
      async () => {
        await grantTo();
      },
      () => owner.flush(),
    );
    await owner.flush();
    // The same grant, resolving only once the policy map is in the DHT as well (what the CLI's
    // `thresh grant` waits for before it exits).
    const publishedMs = await phase(
      'grant, awaiting the map publication',
      Math.max(4, Math.ceil(GRANTS / 3)),
      async () => {
        await grantTo(undefined, true);
      },
    );

    const file = await collect(encryptFile(ownerId, { path: FILE_PATH }, [plaintext]).stream);

    // Decrypt latency, one reader on its own libp2p host, one request at a time.
    const readerT = await connectedTransport(bootstrapOf(nodes), Math.min(N, SHARES));
    const readerTransport = traced(readerT, () => trace);
    const reader = createClient({ identity: readers[0], transport: readerTransport });
    log(`${DECRYPTS} decrypts of a 1 KiB file with the grant string`);
    for (let i = 0; i < 5; i++) check(await reader.decrypt(file, { grant: grants[0] }));
    const withGrantMs = await phase('decrypt, grant string', DECRYPTS, async () => {
      check(await reader.decrypt(file, { grant: grants[0] }));
    });
    // The whole path as an app runs it: reader.decrypt(file) with no grant string in hand. The
    // client reads the header, finds its map (in the DHT on first use, every level at once; then
    // remembered while the policy lives), asks the nodes, verifies, combines.
    log(`${DECRYPTS} decrypts without a grant string (whole path)`);
    check(await reader.decrypt(file)); // the first one looks the map up (counted in the cold row)
    const wholeMs = await phase('decrypt, whole path (map found by the client)', DECRYPTS, async () => {
      check(await reader.decrypt(file));
    });
    const few = Math.ceil(DECRYPTS / 4);
    log(`${few} map lookups of the file path and of the directory, ${few} decrypts by new client objects`);
    const lookupFileMs = await phase('findGrant(owner, file path)', few, async () => {
      if (!(await reader.findGrant(ownerId.card, FILE_PATH)))
        throw new Error('findGrant found no map for the reader');
    });
    const lookupDirMs = await phase('findGrant(owner, directory)', few, async () => {
      if (!(await reader.findGrant(ownerId.card, DIR)))
        throw new Error('findGrant found no map for the reader');
    });
    // A new client object each time: the map from the DHT, no cached node addresses or latencies.
    const coldMs = await phase('decrypt, whole path, new client object', few, async () => {
      const fresh = createClient({ identity: readers[0], transport: readerTransport });
      check(await fresh.decrypt(file));
    });

    // Throughput: C concurrent readers (reader i holds grant i mod GRANTS), 4 per libp2p host.
    const hostsNeeded = Math.ceil(Math.max(...LEVELS) / 4);
    log(`${hostsNeeded} reader hosts for the throughput runs`);
    const hosts = await Promise.all(
      Array.from({ length: hostsNeeded }, () => connectedTransport(bootstrapOf(nodes), Math.min(N, SHARES))),
    );
    const throughput: {
      c: number;
      ok: number;
      failed: number;
      rate: number;
      lat: Stats;
      nodeCores: number;
      benchCores: number;
      reasons: string;
    }[] = [];
    for (const c of LEVELS) {
      const warmTrace = new Trace();
      const tpTrace = new Trace();
      let tpActive = warmTrace;
      const clients = Array.from({ length: c }, (_, i) => ({
        client: createClient({
          identity: readers[i % GRANTS],
          transport: traced(hosts[Math.floor(i / 4)], () => tpActive),
        }),
        grant: grants[i % GRANTS],
      }));
      log(`throughput: ${c} concurrent readers for ${SECONDS} s`);
      const lat: number[] = [];
      const reasons = new Map<string, number>();
      let failed = 0;
      const note = (e: unknown) => {
        const name = e instanceof Error ? e.name : String(e);
        reasons.set(name, (reasons.get(name) ?? 0) + 1);
        if (verbose) {
          const detail = (e as { failures?: { reason: string; message?: string }[] }).failures ?? [];
          log(`decrypt failed: ${e instanceof Error ? e.message : String(e)}`);
          for (const f of detail) log(`  ${f.reason}: ${f.message ?? ''}`);
        }
      };
      // Warm-up, not counted: each reader's first decrypt looks its nodes up in the DHT. One reader
      // at a time: readers sharing a host would otherwise race for its per-peer node-record streams.
      let warmFailed = 0;
      const warmStart = performance.now();
      for (const r of clients) {
        for (let attempt = 0; attempt < 3; attempt++) {
          try {
            check(await r.client.decrypt(file, { grant: r.grant }));
            break;
          } catch (e) {
            warmFailed++;
            note(e);
          }
        }
      }
      phases.push({
        name: `${c} concurrent readers, warm-up (each reader's first decrypt, one at a time; ${warmFailed} failed and retried)`,
        trace: warmTrace,
        ops: c,
        wallMs: performance.now() - warmStart,
      });
      tpActive = tpTrace;
      const nodeCpu0 = await Promise.all(nodes.map((n) => cpuSeconds(n.runtime.pid)));
      const benchCpu0 = process.cpuUsage();
      const start = performance.now();
      const end = start + SECONDS * 1000;
      await Promise.all(
        clients.map(async (r) => {
          while (performance.now() < end) {
            const s = performance.now();
            try {
              check(await r.client.decrypt(file, { grant: r.grant }));
              lat.push(performance.now() - s);
            } catch (e) {
              failed++;
              note(e);
            }
          }
        }),
      );
      const wall = (performance.now() - start) / 1000;
      const nodeCpu1 = await Promise.all(nodes.map((n) => cpuSeconds(n.runtime.pid)));
      const benchCpu = process.cpuUsage(benchCpu0);
      phases.push({
        name: `${c} concurrent readers, measured`,
        trace: tpTrace,
        ops: lat.length,
        wallMs: wall * 1000,
      });
      throughput.push({
        c,
        ok: lat.length,
        failed,
        rate: lat.length / wall,
        lat: stats(lat),
        nodeCores: (nodeCpu1.reduce((a, b) => a + b, 0) - nodeCpu0.reduce((a, b) => a + b, 0)) / wall,
        benchCores: (benchCpu.user + benchCpu.system) / 1e6 / wall,
        reasons: [...reasons].map(([k, v]) => `${k} x${v}`).join(', '),
      });
    }
    const smallMem = await memoryTable(nodes);
    await closeTransports();
    log(`stopping the ${N} nodes`);
    await stopNodes(nodes);
    current = [];

    const g = stats(grantMs);
    const gi = stats(isolatedMs);
    const gp = stats(publishedMs);
    const dg = stats(withGrantMs);
    const lf = stats(lookupFileMs);
    const wh = stats(wholeMs);
    const ld = stats(lookupDirMs);
    const cold = stats(coldMs);
    const row = (what: string, s: Stats, target = '') => [
      what,
      String(s.n),
      fmtMs(s.p50),
      fmtMs(s.p99),
      fmtMs(s.mean),
      target,
    ];
    lines.push(
      `${N}-node cluster: initialised in ${initS.toFixed(1)} s (not counted below); processes up ${upS.toFixed(1)} s after spawn, every node answers with >= 1 peer at ${formedS.toFixed(1)} s`,
      `${M}-of-${SHARES} grants of the directory ${DIR}, one reader per grant; decrypts of a 1 KiB file ${FILE_PATH}\n`,
      table(
        ['what', 'n', 'p50 ms', 'p99 ms', 'mean ms', 'target'],
        [
          row(
            `grant ${DIR} ${M}-of-${SHARES} (select, store x${SHARES}; resolves with the grant string, the map's DHT put goes on)`,
            gi,
            `p50 < ${TARGETS.grantP50}`,
          ),
          row("  same, back to back (each shares the CPU with the previous grant's map publication)", g),
          row('  same, awaiting the DHT publication of the map (awaitPublication, as `thresh grant`)', gp),
          row('decrypt, grant string (requests, verify, combine)', dg),
          row(
            'decrypt, whole path: decrypt(file), no grant string (header, map, requests, verify, combine)',
            wh,
            `p50 < ${TARGETS.decryptP50}, p99 < ${TARGETS.decryptP99}`,
          ),
          row('  same, new client object (map and node addresses from the DHT)', cold),
          row('  map lookup alone: findGrant(owner, file path), every level at once', lf),
          row('  map lookup alone: findGrant(owner, directory)', ld),
        ],
      ),
      abandoned > 0 ? `(${abandoned} grant attempt(s) abandoned and retried inside the measured grants)` : '',
      '',
      table(
        [
          'concurrent readers',
          'libp2p hosts',
          'decrypts/s',
          'p50 ms',
          'p99 ms',
          'ok',
          'failed',
          'node CPU (cores)',
          'bench CPU (cores)',
        ],
        throughput.map((t) => [
          String(t.c),
          String(Math.ceil(t.c / 4)),
          t.rate.toFixed(0),
          fmtMs(t.lat.p50),
          fmtMs(t.lat.p99),
          String(t.ok),
          String(t.failed),
          t.nodeCores.toFixed(2),
          t.benchCores.toFixed(2),
        ]),
      ),
      ...throughput
        .filter((t) => t.reasons !== '')
        .map((t) => `failures at ${t.c} readers (warm-up and measured): ${t.reasons}`),
      `\n${N} node processes after the runs: peak RSS (VmHWM) max ${smallMem.peakMax.toFixed(0)} MiB, median ${smallMem.peakMedian.toFixed(0)} MiB; RSS now max ${smallMem.rssMax.toFixed(0)} MiB, median ${smallMem.rssMedian.toFixed(0)} MiB`,
      '\nwhere the time goes: every network operation of the client, per measured phase (calls run in parallel, so shares can add up to more than 100%; "failed (AbortedError)" are requests the reader cancelled once it had m cfrags)',
      ...phases.flatMap((p) => [
        `\n${p.name}: ${p.ops} operations, ${fmtMs(p.wallMs / p.ops)} ms each on average`,
        p.trace.table(p.ops, p.wallMs),
      ]),
    );
    targetLines.push(
      `grant p50 ${fmtMs(gi.p50)} ms, one grant at a time (target < ${TARGETS.grantP50}): ${met(gi.p50 < TARGETS.grantP50)}; back to back ${fmtMs(g.p50)} ms: ${met(g.p50 < TARGETS.grantP50)}`,
      `decrypt whole path p50 ${fmtMs(wh.p50)} ms (target < ${TARGETS.decryptP50}): ${met(wh.p50 < TARGETS.decryptP50)}; with the grant string ${fmtMs(dg.p50)} ms: ${met(dg.p50 < TARGETS.decryptP50)}`,
      `decrypt whole path p99 ${fmtMs(wh.p99)} ms (target < ${TARGETS.decryptP99}): ${met(wh.p99 < TARGETS.decryptP99)}; with the grant string ${fmtMs(dg.p99)} ms: ${met(dg.p99 < TARGETS.decryptP99)}`,
    );
    okTargets.push(gi.p50 < TARGETS.grantP50, wh.p50 < TARGETS.decryptP50, wh.p99 < TARGETS.decryptP99);
    targetLines.push(`load average now ${loadavg()}`);
    flush();
  }

  // ---------------------------------------------------------------- the big cluster forming
  if (!flags['skip-50']) {
    log(`initialising ${BIG} nodes (not timed)`);
    t0 = performance.now();
    const bigDirs = await initNodes(join(base, 'big'), BIG, 3);
    const bigInitS = (performance.now() - t0) / 1000;
    log(`spawning ${BIG} nodes`);
    t0 = performance.now();
    const cpuAtSpawn = process.cpuUsage();
    current = await startCluster(bigDirs);
    const big = current;
    const procsS = (performance.now() - t0) / 1000;
    const nodeCpuUp = await Promise.all(big.map((n) => cpuSeconds(n.runtime.pid)));
    const minPeers = Math.min(BIG - 1, MIN_PEERS);
    // All at once: every node answers with >= 1 connection (as `thresh cluster up` waits for), a
    // grant + decrypt by new clients succeeds (the DHT is usable: formed = both); and, reported
    // beside, when every node has >= minPeers connections (a node may keep few connections for
    // long without harm: others reach it through the DHT when they need it).
    const elapsed = () => (performance.now() - t0) / 1000;
    const watched = watchPeers(big, minPeers, elapsed, { oneS: 300, minS: 120 });
    // the check's network operations, from its first grant attempt to its decrypt
    const formTrace = new Trace();
    const usableP = (async () => {
      const formOwner = Identity.generate();
      const formReader = Identity.generate();
      // The owner and the reader: two parties starting side by side, not one after the other,
      // each given 3 of the nodes to bootstrap from (a cluster file lists every node; with one,
      // a client whose bootstrap node was too busy to finish a handshake within the dial
      // timeout sat with no connection until its next retry).
      const [ot, rt] = await Promise.all([
        connectedTransport(bootstrapOf(big, 3), SHARES, 300_000),
        connectedTransport(bootstrapOf(big, 3), SHARES, 300_000),
      ]);
      const steps: [string, number][] = [['both clients see >= 5 DHT peers', elapsed()]];
      const o = createClient({ identity: formOwner, transport: traced(ot, () => formTrace) });
      const r = createClient({ identity: formReader, transport: traced(rt, () => formTrace) });
      const f = await collect(encryptFile(formOwner, { path: '/formation/a.bin' }, [plaintext]).stream);
      let attempts = 0;
      let lastError = '';
      const deadline = Date.now() + 300_000;
      for (;;) {
        attempts++;
        const at = [elapsed()];
        try {
          await o.grant({
            path: '/formation',
            reader: formReader.card,
            threshold: M,
            shares: SHARES,
            ttl: 3600,
            awaitPublication: true, // the reader looks the map up in the DHT next
          });
          at.push(elapsed());
          const grant = await r.findGrant(formOwner.card, '/formation/a.bin');
          if (!grant) throw new Error('the reader found no map in the DHT');
          at.push(elapsed());
          check(await r.decrypt(f, { grant }));
          at.push(elapsed());
          steps.push(
            [`attempt ${attempts} began`, at[0]],
            ['grant resolved (map published)', at[1]],
            ['findGrant resolved', at[2]],
            ['decrypt resolved', at[3]],
          );
          return { s: (performance.now() - t0) / 1000, attempts, lastError, steps };
        } catch (e) {
          lastError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
          if (Date.now() > deadline) throw new Error(`no grant + decrypt succeeded: ${lastError}`);
          await sleep(500);
        }
      }
    })();
    const [{ allOne: peersS, allMin: minPeersS, firstPeer: firstPeerS }, usable] = await Promise.all([
      watched,
      usableP,
    ]);
    const formationS = Math.max(peersS, usable.s);
    const benchCpu = process.cpuUsage(cpuAtSpawn);
    const benchCpuS = (benchCpu.user + benchCpu.system) / 1e6;
    const nodeCpuFormed = await Promise.all(big.map((n) => cpuSeconds(n.runtime.pid)));
    const counts = (await Promise.all(big.map(status))).map((s) => Number(s?.peers ?? 0));
    const mem = await memoryTable(big);
    await closeTransports();
    log(`stopping the ${BIG} nodes`);
    await stopNodes(big);
    current = [];
    lines.push(
      `\n${BIG}-node cluster forming (data directories initialised beforehand in ${bigInitS.toFixed(1)} s, not counted)\n`,
      table(
        ['milestone (from spawning the first process)', 'seconds'],
        [
          [
            `every process up (runtime file written; the first node, then ${BIG - 1} at once)`,
            procsS.toFixed(1),
          ],
          ['every node answers HTTP status with >= 1 peer', peersS.toFixed(1)],
          [
            `every node has >= ${minPeers} peers (not part of "formed")`,
            minPeersS === undefined ? 'not within 120 s' : minPeersS.toFixed(1),
          ],
          [
            `a grant ${M}-of-${SHARES} + findGrant + decrypt through new clients succeeds (attempt ${usable.attempts})`,
            usable.s.toFixed(1),
          ],
          ['formed (both)', formationS.toFixed(1)],
        ],
      ),
      usable.attempts > 1 ? `last failed attempt: ${usable.lastError}` : '',
      `the grant + decrypt check, step by step (s from spawning): ${usable.steps.map(([k, v]) => `${k} ${v.toFixed(1)}`).join('; ')}`,
      `its network operations (all attempts; calls run in parallel):\n${formTrace.table(usable.attempts, (usable.s - usable.steps[0][1]) * 1000)}`,
      `nodes first seen with a peer (s from spawning): 10% ${quantile(firstPeerS, 0.1).toFixed(1)}, 50% ${quantile(firstPeerS, 0.5).toFixed(1)}, 90% ${quantile(firstPeerS, 0.9).toFixed(1)}, last ${Math.max(...firstPeerS).toFixed(1)}`,
      `peers per node once formed: min ${Math.min(...counts)}, median ${median(counts)}, max ${Math.max(...counts)}`,
      `the ${BIG} node processes used ${sum(nodeCpuUp).toFixed(1)} CPU-s until every process was up (median per node ${median(nodeCpuUp).toFixed(2)}), ${sum(nodeCpuFormed).toFixed(1)} until formed (median ${median(nodeCpuFormed).toFixed(2)}, max ${Math.max(...nodeCpuFormed).toFixed(2)})`,
      `this process (the two new clients, polling) used ${benchCpuS.toFixed(1)} CPU-s until formed`,
      `peak RSS per node (VmHWM): max ${mem.peakMax.toFixed(0)} MiB, median ${mem.peakMedian.toFixed(0)} MiB; RSS once formed: max ${mem.rssMax.toFixed(0)} MiB, median ${mem.rssMedian.toFixed(0)} MiB, all ${BIG} ${(mem.rssSum / 1024).toFixed(1)} GiB`,
    );
    const formationTarget = TARGETS.formationS;
    targetLines.push(
      `${BIG} nodes formed in ${formationS.toFixed(1)} s (target: 50 nodes < ${formationTarget} s): ${met(formationS < formationTarget)}${BIG === 50 ? '' : ` (measured with ${BIG} nodes, not 50)`}`,
    );
    okTargets.push(formationS < formationTarget);
  }

  flush(true);
  const missed = okTargets.filter((x) => !x).length;
  console.log(missed === 0 ? 'all targets met' : `${missed} target(s) missed`);
} catch (e) {
  exitCode = 1;
  console.error(e);
} finally {
  await closeTransports().catch(() => {});
  if (current.length > 0) await stopNodes(current, 5000).catch(() => {});
  killAll();
  await rm(base, { recursive: true, force: true });
}
process.exit(interrupted ? 130 : exitCode);
