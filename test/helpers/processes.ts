import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Libp2p } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { cliEntryIn } from '@thresh/cli/entry';
import { request } from '@thresh/client';

/**
 * Real `thresh` processes for integration and fault tests: every node is `thresh node start`
 * in its own process on 127.0.0.1 with ports chosen at run time (tcp/0, http :0). Call
 * `cleanup()` in afterAll: it kills whatever is still running and removes the directories,
 * even when a test failed.
 */
export const ROOT = resolve(import.meta.dirname, '..', '..');
/** The built `thresh`: its single-file bundle when fresh (much faster to start), else dist/bin.js. */
export const CLI = cliEntryIn(join(ROOT, 'packages', 'cli', 'dist'));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `thresh ...args` to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`thresh ${args.join(' ')} timed out\n${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export interface NodeRuntime {
  pid: number;
  peerId: string;
  multiaddrs: string[];
  http: string | null;
}

export class NodeProcess {
  proc: ChildProcess | undefined;
  runtime: NodeRuntime | undefined;
  stderr = '';
  exitCode: number | null | undefined;

  constructor(
    readonly dataDir: string,
    readonly env: NodeJS.ProcessEnv,
    /**
     * A command prefix the node runs under, e.g. ['ip', 'netns', 'exec', 'ns1'] (it must exec
     * the node in place, so that the process id stays the one the runtime file names).
     * Default none: `node` itself.
     */
    readonly wrap: readonly string[] = [],
  ) {}

  /** Starts `thresh node start` and waits until its runtime file names this process. */
  async start(extra: string[] = []): Promise<NodeRuntime> {
    const runtimeFile = join(this.dataDir, 'node.json');
    await rm(runtimeFile, { force: true });
    this.exitCode = undefined;
    this.stderr = '';
    const [command, ...prefix] = [...this.wrap, process.execPath];
    const proc = spawn(
      command,
      [...prefix, CLI, 'node', 'start', '--data-dir', this.dataDir, '--json', ...extra],
      {
        env: { ...process.env, THRESH_LOG_LEVEL: 'warn', ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.proc = proc;
    proc.stderr?.on('data', (d) => {
      this.stderr += d;
    });
    proc.stdout?.resume();
    proc.on('exit', (code) => {
      this.exitCode = code;
    });
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) throw new Error(`node exited with ${this.exitCode}:\n${this.stderr}`);
      try {
        const rt = JSON.parse(await readFile(runtimeFile, 'utf8')) as NodeRuntime;
        if (rt.pid === proc.pid) {
          this.runtime = rt;
          return rt;
        }
      } catch {
        // not written yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`node did not start in time:\n${this.stderr}`);
  }

  /** SIGTERM (graceful) and wait for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc;
    if (!proc || this.exitCode !== undefined) return this.exitCode ?? null;
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
    proc.kill(signal);
    return exited;
  }

  kill(): Promise<number | null> {
    return this.stop('SIGKILL');
  }

  get bootstrapAddr(): string {
    return this.runtime!.multiaddrs[0];
  }
}

export class ProcessCluster {
  readonly nodes: NodeProcess[] = [];
  #dirs: string[] = [];

  /** Initialises `n` data directories (generated passphrases, low-cost tests keep the default scrypt). */
  async init(n: number): Promise<NodeProcess[]> {
    const base = await mkdtemp(join(tmpdir(), 'thresh-test-'));
    this.#dirs.push(base);
    const created: NodeProcess[] = [];
    for (let i = 0; i < n; i++) {
      const dir = join(base, `node-${this.nodes.length}`);
      const r = await runCli([
        'node',
        'init',
        '--data-dir',
        dir,
        '--generate-passphrase',
        '--http',
        '127.0.0.1:0',
        '--json',
      ]);
      if (r.code !== 0) throw new Error(`init failed: ${r.stderr}`);
      const node = new NodeProcess(dir, {});
      this.nodes.push(node);
      created.push(node);
    }
    return created;
  }

  /** Starts the first node, then the others bootstrapped off it. */
  async startAll(extra: string[] = []): Promise<void> {
    const [first, ...rest] = this.nodes;
    await first.start(extra);
    await Promise.all(rest.map((n) => n.start(['--bootstrap', first.bootstrapAddr, ...extra])));
  }

  /** Waits until every node's HTTP status reports at least `min` peers (the DHT has formed). */
  async waitForPeers(min: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const counts = await Promise.all(
        this.nodes.map(
          async (n) =>
            ((await (await fetch(`${n.runtime!.http}/v1/status`)).json()) as { peers: number }).peers,
        ),
      );
      if (counts.every((c) => c >= min)) return;
      if (Date.now() > deadline) throw new Error(`peers: ${counts.join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.nodes.map((n) => n.kill()));
    await Promise.allSettled(this.#dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** One framed request from a libp2p client to a node process, decoded with `type`. */
export async function callNode<T>(
  client: Libp2p,
  node: NodeProcess,
  protocol: string,
  bytes: Uint8Array,
  type: { decode(b: Uint8Array): T },
): Promise<T> {
  const addrs = node.runtime!.multiaddrs.map((m) => multiaddr(m));
  return type.decode(await request(client, addrs, protocol, bytes, { timeoutMs: 15_000 }));
}
