/**
 * Real node processes for bench:cluster: `thresh node init` / `thresh node start` of the built
 * CLI (its bundle, packages/cli/dist/thresh.mjs, when fresh; else dist/bin.js), on 127.0.0.1 with ports chosen at run time (tcp/0, http :0),
 * data directories in a temp dir. Every spawned process is kept in one registry so that
 * `killAll()` (called from finally blocks and from the SIGINT/SIGTERM handler) stops them all.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliEntryIn, FOLLOWER_NICENESS } from '@thresh/cli/entry';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..', '..');
export const CLI = cliEntryIn(join(ROOT, 'packages', 'cli', 'dist'));

const live = new Set<ChildProcess>();

/** The environment of every child: the passphrase comes from the data directory, logs at warn. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, THRESH_LOG_LEVEL: 'warn' };
  delete env.THRESH_PASSPHRASE;
  return env;
}

/** `thresh ...args` to completion; rejects on a non-zero exit. */
export function runCli(args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      live.delete(child);
      if (code === 0) ok(out);
      else fail(new Error(`thresh ${args.join(' ')} exited ${code}\n${err}`));
    });
  });
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function pool<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/** Initialises `n` data directories under `base` (generated passphrases, default scrypt cost). */
export async function initNodes(base: string, n: number, concurrency = 2): Promise<string[]> {
  const dirs = Array.from({ length: n }, (_, i) => join(base, `node-${i}`));
  await pool(dirs, concurrency, (dir) =>
    runCli(['node', 'init', '--data-dir', dir, '--generate-passphrase', '--http', '127.0.0.1:0', '--json']),
  );
  return dirs;
}

export interface NodeRuntime {
  pid: number;
  peerId: string;
  multiaddrs: string[];
  http: string | null;
}

export interface RunningNode {
  dataDir: string;
  proc: ChildProcess;
  runtime: NodeRuntime;
}

/**
 * Extra Node.js options for every node process, from BENCH_NODE_ARGS (space-separated), e.g.
 * `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` to profile the nodes of a run
 * (Node refuses --cpu-prof in NODE_OPTIONS).
 */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);

/** Starts `thresh node start` (output to data-dir/node.log) and waits for its runtime file. */
export async function startNode(
  dataDir: string,
  extra: string[] = [],
  timeoutMs = 120_000,
): Promise<RunningNode> {
  const runtimeFile = join(dataDir, 'node.json');
  await rm(runtimeFile, { force: true });
  const log = await open(join(dataDir, 'node.log'), 'a', 0o600);
  // as `thresh cluster up` runs them: nodes sharing one machine get one crypto worker each
  const proc = spawn(
    process.execPath,
    [...NODE_ARGS, CLI, 'node', 'start', '--data-dir', dataDir, '--workers', '1', ...extra],
    {
      env: childEnv(),
      stdio: ['ignore', log.fd, log.fd],
    },
  );
  await log.close();
  live.add(proc);
  // as `thresh cluster up` runs them: every node but the first (the one all bootstrap off) niced
  if (extra.includes('--bootstrap')) setPriority(proc.pid!, FOLLOWER_NICENESS);
  let exited: number | null | undefined;
  proc.on('exit', (code) => {
    exited = code;
    live.delete(proc);
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const tail = await readFile(join(dataDir, 'node.log'), 'utf8').catch(() => '');
      throw new Error(`the node in ${dataDir} exited with ${exited}:\n${tail.slice(-2000)}`);
    }
    try {
      const runtime = JSON.parse(await readFile(runtimeFile, 'utf8')) as NodeRuntime;
      if (runtime.pid === proc.pid) return { dataDir, proc, runtime };
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the node in ${dataDir} did not start within ${timeoutMs} ms`);
}

/** The first node, then the others bootstrapped off it, all at once (as `thresh cluster up`). */
export async function startCluster(dirs: string[], timeoutMs = 300_000): Promise<RunningNode[]> {
  const first = await startNode(dirs[0], [], timeoutMs);
  const rest = await Promise.all(
    dirs.slice(1).map((d) => startNode(d, ['--bootstrap', first.runtime.multiaddrs[0]], timeoutMs)),
  );
  return [first, ...rest];
}

/** A node's /v1/status, or undefined when it does not answer within 3 s. */
export async function status(node: RunningNode): Promise<{ peers: number } | undefined> {
  if (!node.runtime.http) return undefined;
  try {
    const res = await fetch(new URL('/v1/status', node.runtime.http), { signal: AbortSignal.timeout(3000) });
    return res.ok ? ((await res.json()) as { peers: number }) : undefined;
  } catch {
    return undefined;
  }
}

/** When `watchPeers` saw its milestones, in seconds of the caller's clock. */
export interface PeerMilestones {
  /** Every node had been seen with a peer. */
  allOne: number;
  /** Every node had `minPeers`; undefined if not by the time limit. */
  allMin: number | undefined;
  /** When each node was first seen with a peer, in the order seen. */
  firstPeer: number[];
}

/**
 * Polls every node's HTTP status until each has been seen with a peer and each has `minPeers`
 * connections: one poller for both milestones (each status answer costs a busy node CPU, and
 * this process more: ~0.8 and ~1.4 ms here), a node that has `minPeers` not asked again. Throws
 * when some node has no peer by `limits.oneS`; once every node has had one, returns without
 * `allMin` past `limits.minS`. Times are read from `elapsed` (seconds).
 */
export async function watchPeers(
  nodes: RunningNode[],
  minPeers: number,
  elapsed: () => number,
  limits: { oneS: number; minS: number },
): Promise<PeerMilestones> {
  const counts = nodes.map(() => -1);
  const reachedOne = nodes.map(() => false);
  const firstPeer: number[] = [];
  let allOne: number | undefined;
  for (;;) {
    const waiting = counts.flatMap((c, i) => (c >= minPeers ? [] : [i]));
    const answers = await Promise.all(waiting.map((i) => status(nodes[i])));
    const now = elapsed();
    waiting.forEach((i, k) => {
      counts[i] = answers[k] ? Number(answers[k].peers) : -1;
      if (counts[i] >= 1 && !reachedOne[i]) {
        reachedOne[i] = true;
        firstPeer.push(now);
      }
    });
    if (allOne === undefined && reachedOne.every(Boolean)) allOne = now;
    if (allOne !== undefined && counts.every((c) => c >= minPeers)) return { allOne, allMin: now, firstPeer };
    if (allOne === undefined && now > limits.oneS) {
      throw new Error(`not every node has a peer after ${limits.oneS} s: ${counts.join(', ')}`);
    }
    if (allOne !== undefined && now > limits.minS) return { allOne, allMin: undefined, firstPeer };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process in MiB, from /proc (Linux). */
export async function memoryOf(pid: number): Promise<{ peakMiB: number; rssMiB: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100/s)
  } catch {
    return 0;
  }
}

/** SIGTERM every node (graceful), SIGKILL what is left after `graceMs`. */
export async function stopNodes(nodes: RunningNode[], graceMs = 10_000): Promise<void> {
  const running = nodes.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null);
  const exited = running.map((n) => new Promise((r) => n.proc.once('exit', r)));
  for (const n of running) n.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    for (const n of running) if (n.proc.exitCode === null) n.proc.kill('SIGKILL');
  }, graceMs);
  await Promise.all(exited);
  clearTimeout(timer);
}

/** SIGKILL every child still running (the failure and signal path). */
export function killAll(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}
