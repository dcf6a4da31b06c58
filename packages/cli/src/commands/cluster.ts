import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { cliEntry, FOLLOWER_NICENESS } from '../entry.js';
import { CliError, EXIT } from '../errors.js';
import { threshHome } from '../home.js';
import { info, printResult } from '../output.js';
import { type NodeRuntime, RUNTIME_FILE } from './node.js';

/**
 * A local cluster: N real `thresh node start` processes on 127.0.0.1 with free ports, their
 * data directories under one folder (initialised once, reused later), and a cluster file
 * (THRESH_HOME/cluster.json) that client commands use by default. Same daemon, same commands
 * as any deployment: nothing here is a special mode.
 */
export interface ClusterFile {
  dir: string;
  started: string;
  bootstrap: string[];
  nodes: { dataDir: string; pid: number; peerId: string; multiaddrs: string[]; http: string | null }[];
}

export const clusterFilePath = () => join(threshHome(), 'cluster.json');

const bin = cliEntry();

async function readRuntime(dataDir: string, pid: number, deadline: number): Promise<NodeRuntime> {
  while (Date.now() < deadline) {
    try {
      const rt = JSON.parse(await readFile(join(dataDir, RUNTIME_FILE), 'utf8')) as NodeRuntime;
      if (rt.pid === pid) return rt;
    } catch {
      // not written yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new CliError(`the node in ${dataDir} did not start in time (see ${join(dataDir, 'node.log')})`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function statusOf(http: string | null): Promise<Record<string, unknown> | undefined> {
  if (!http) return undefined;
  try {
    const res = await fetch(new URL('/v1/status', http), { signal: AbortSignal.timeout(3000) });
    return res.ok ? ((await res.json()) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function readClusterFile(): Promise<ClusterFile | undefined> {
  try {
    return JSON.parse(await readFile(clusterFilePath(), 'utf8')) as ClusterFile;
  } catch {
    return undefined;
  }
}

async function stopPids(pids: number[], timeoutMs = 15_000): Promise<void> {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export function registerClusterCommands(program: Command): void {
  const cluster = program.command('cluster').description('run a local cluster of real node processes');

  cluster
    .command('up')
    .description(
      'start N nodes on 127.0.0.1 (data directories made once, reused later) and write the cluster file',
    )
    .option('--nodes <n>', 'number of nodes', '5')
    .option('--dir <dir>', 'where the node data directories live', join(threshHome(), 'cluster'))
    .option('--detach', 'return once the cluster is up, leaving the nodes running')
    .option(
      '--follower-niceness <n>',
      'CPU niceness of every node but node-0, which all of them join through (0: same as node-0)',
      String(FOLLOWER_NICENESS),
    )
    .option('--json', 'print the cluster file as JSON')
    .action(async (o) => {
      const n = Number(o.nodes);
      if (!Number.isInteger(n) || n < 1 || n > 200)
        throw new CliError('--nodes takes a number from 1 to 200', EXIT.usage);
      const existing = await readClusterFile();
      if (existing?.nodes.some((x) => alive(x.pid))) {
        throw new CliError(
          `a cluster is already running (${clusterFilePath()}); stop it with: thresh cluster down`,
        );
      }
      const { initDataDir } = await import('@thresh/node');
      const t0 = Date.now();
      const dirs: string[] = [];
      for (let i = 0; i < n; i++) {
        const dataDir = join(o.dir, `node-${i}`);
        dirs.push(dataDir);
        try {
          await readFile(join(dataDir, 'identity.json'));
        } catch {
          await initDataDir(dataDir, { generatePassphrase: true, config: { http: '127.0.0.1:0' } });
        }
      }
      const niceness = Number(o.followerNiceness);
      if (!Number.isInteger(niceness) || niceness < 0 || niceness > 19)
        throw new CliError('--follower-niceness must be an integer from 0 to 19', EXIT.usage);
      const children: ChildProcess[] = [];
      const start = async (dataDir: string, extra: string[]) => {
        await rm(join(dataDir, RUNTIME_FILE), { force: true });
        const log = await open(join(dataDir, 'node.log'), 'a', 0o600);
        // the nodes share this machine: one re-encryption worker each, not one per core each
        const child = spawn(
          process.execPath,
          [bin, 'node', 'start', '--data-dir', dataDir, '--workers', '1', ...extra],
          {
            detached: Boolean(o.detach),
            stdio: ['ignore', log.fd, log.fd],
            env: { ...process.env, THRESH_PASSPHRASE: '' },
          },
        );
        await log.close();
        children.push(child);
        if (o.detach) child.unref();
        if (extra.length > 0 && niceness !== 0) {
          try {
            setPriority(child.pid!, niceness);
          } catch {
            // not allowed here: the node runs at our priority, only slower to form
          }
        }
        // n nodes start at once on a machine's few cores: each may take its share of n starts
        return readRuntime(dataDir, child.pid!, Date.now() + 60_000 + 4_000 * n);
      };
      const stopAll = () => stopPids(children.map((c) => c.pid!).filter(Boolean));
      let nodes: ClusterFile['nodes'];
      try {
        if (!o.json) info(`starting ${n} nodes in ${o.dir} ...`);
        // node 0 first, then every other node at once, bootstrapped off it (starting them in
        // waves off several running nodes was slower: 50 nodes on 2 cores formed in 143 s
        // against 96 s, both at the same priority)
        const first = await start(dirs[0], []);
        const rest = await Promise.all(
          dirs.slice(1).map((d) => start(d, ['--bootstrap', first.multiaddrs[0]])),
        );
        nodes = [first, ...rest].map((rt, i) => ({ dataDir: dirs[i], ...rt }));
        // Wait until every node answers and knows at least one other (the DHT has formed). Many
        // nodes starting at once keep each other busy with kad-dht's start-up lookups for a while;
        // a node found ready is not asked again (each status answer costs the node CPU).
        const deadline = Date.now() + 60_000 + 2_000 * n;
        let waiting = nodes;
        for (;;) {
          const statuses = await Promise.all(waiting.map((x) => statusOf(x.http)));
          waiting = waiting.filter((_, i) => !(statuses[i] && (n === 1 || Number(statuses[i]!.peers) >= 1)));
          if (waiting.length === 0) break;
          if (Date.now() > deadline)
            throw new CliError(
              `${waiting.length} of ${n} nodes did not come up in time (see node.log in ${waiting.map((x) => x.dataDir).join(', ')})`,
            );
          await new Promise((r) => setTimeout(r, 250));
        }
      } catch (e) {
        await stopAll();
        throw e;
      }
      const file: ClusterFile = {
        dir: o.dir,
        started: new Date().toISOString(),
        bootstrap: nodes.map((x) => x.multiaddrs[0]),
        nodes,
      };
      const { writeFileAtomic } = await import('@thresh/node');
      await mkdir(threshHome(), { recursive: true, mode: 0o700 });
      await writeFileAtomic(clusterFilePath(), `${JSON.stringify(file, null, 2)}\n`, 0o644);
      printResult(o.json, file, () =>
        [
          `${n} nodes up in ${((Date.now() - t0) / 1000).toFixed(1)} s; cluster file: ${clusterFilePath()}`,
          ...nodes.map((x, i) => `  node-${i}  ${x.peerId}  http ${x.http}`),
          '',
          'try:',
          `  npx thresh node status --data-dir ${dirs[0]}`,
          '  npx thresh cluster status',
          o.detach ? '  npx thresh cluster down' : 'Ctrl-C stops every node.',
        ].join('\n'),
      );
      if (o.detach) return;
      await new Promise<void>((resolve) => {
        const onSignal = () => {
          info('stopping the cluster ...');
          void stopAll()
            .then(() => rm(clusterFilePath(), { force: true }))
            .then(() => resolve());
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        // A node that dies on its own is reported, not hidden.
        for (const [i, c] of children.entries()) {
          c.once('exit', (code, signal) => {
            if (code !== 0 && signal !== 'SIGTERM')
              info(`node-${i} exited (${signal ?? code}); see ${join(dirs[i], 'node.log')}`);
          });
        }
      });
    });

  cluster
    .command('status')
    .description(
      'each node of the local cluster: pid, peer id, addresses, HTTP URL, data directory, and whether it answers',
    )
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const file = await readClusterFile();
      if (!file)
        throw new CliError(
          `no local cluster (${clusterFilePath()} not found); start one with: thresh cluster up`,
        );
      const nodes = await Promise.all(
        file.nodes.map(async (x) => {
          const status = alive(x.pid) ? await statusOf(x.http) : undefined;
          return {
            ...x,
            running: alive(x.pid),
            answering: status !== undefined,
            peers: status?.peers,
            policies: status?.policies,
          };
        }),
      );
      printResult(o.json, { ...file, nodes }, () =>
        nodes
          .map(
            (x, i) =>
              `node-${i}  pid ${x.pid} ${x.running ? (x.answering ? 'up' : 'not answering') : 'DOWN'}  peers ${x.peers ?? '-'}  policies ${x.policies ?? '-'}\n        ${x.peerId}\n        http ${x.http}  data ${x.dataDir}`,
          )
          .join('\n'),
      );
      if (nodes.some((x) => !x.answering)) process.exitCode = EXIT.failure;
    });

  cluster
    .command('down')
    .description('stop every node of the local cluster (SIGTERM, then SIGKILL after 15 s)')
    .action(async () => {
      const file = await readClusterFile();
      if (!file) throw new CliError(`no local cluster (${clusterFilePath()} not found)`);
      await stopPids(file.nodes.map((x) => x.pid));
      await rm(clusterFilePath(), { force: true });
      info(`stopped ${file.nodes.length} nodes (data kept in ${file.dir})`);
    });
}
