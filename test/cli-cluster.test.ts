/** `thresh cluster up/status/down` with real node processes (issue #6's local cluster). */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FOLLOWER_NICENESS } from '@thresh/cli/entry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers/processes.js';

let home: string;
const pids = new Set<number>();
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'thresh-home-'));
});
afterAll(async () => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(home, { recursive: true, force: true });
});

async function clusterFile() {
  return JSON.parse(await readFile(join(home, 'cluster.json'), 'utf8')) as {
    nodes: { pid: number; peerId: string }[];
  };
}

describe('thresh cluster', () => {
  it('up --detach starts N answering nodes, status lists them, down stops them; a second up reuses the directories', async () => {
    const env = { THRESH_HOME: home };
    const up = await runCli(['cluster', 'up', '--nodes', '3', '--detach', '--json'], env, 120_000);
    expect(up.code, up.stderr).toBe(0);
    const first = await clusterFile();
    for (const n of first.nodes) pids.add(n.pid);
    expect(first.nodes).toHaveLength(3);
    const status = await runCli(['cluster', 'status', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout) as {
      nodes: { running: boolean; answering: boolean; peers: number }[];
    };
    expect(s.nodes.every((n) => n.running && n.answering && n.peers >= 1)).toBe(true);
    // node-0, which the others join through, at our priority; the others niced
    expect(first.nodes.map((n) => getPriority(n.pid))).toEqual([
      getPriority(),
      FOLLOWER_NICENESS,
      FOLLOWER_NICENESS,
    ]);
    const twice = await runCli(['cluster', 'up', '--nodes', '3', '--detach'], env);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already running/);
    expect((await runCli(['cluster', 'down'], env)).code).toBe(0);
    expect(first.nodes.some((n) => alive(n.pid))).toBe(false);
    const bad = await runCli(['cluster', 'up', '--nodes', '3', '--follower-niceness', '20'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--follower-niceness must be an integer from 0 to 19/);
    const again = await runCli(
      ['cluster', 'up', '--nodes', '3', '--detach', '--json', '--follower-niceness', '0'],
      env,
      120_000,
    );
    expect(again.code, again.stderr).toBe(0);
    const second = await clusterFile();
    for (const n of second.nodes) pids.add(n.pid);
    expect(second.nodes.map((n) => getPriority(n.pid))).toEqual(Array(3).fill(getPriority()));
    expect(second.nodes.map((n) => n.peerId)).toEqual(first.nodes.map((n) => n.peerId)); // same identities
    expect((await runCli(['cluster', 'down'], env)).code).toBe(0);
  });

  it('in the foreground, Ctrl-C stops every node and exits 0', async () => {
    const child = spawn(process.execPath, [CLI, 'cluster', 'up', '--nodes', '2'], {
      env: { ...process.env, THRESH_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const deadline = Date.now() + 90_000;
    while (!out.includes('Ctrl-C') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const file = await clusterFile();
    for (const n of file.nodes) pids.add(n.pid);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(file.nodes.some((n) => alive(n.pid))).toBe(false);
    await expect(readFile(join(home, 'cluster.json'))).rejects.toThrow();
  });
});
