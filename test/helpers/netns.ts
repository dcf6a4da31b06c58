/**
 * Network namespaces for partition tests (issue #6): each node process runs in its own Linux
 * network namespace with its own 10.x address, joined to the root namespace by a veth pair on
 * one bridge (which has the subnet's .1, so the test process, in the root namespace, reaches
 * every node over it). `cut(i)` sets namespace i's root-side veth down: its packets are dropped
 * (no RST, no ICMP), a real partition; `heal(i)` sets it up again.
 *
 * Needs root, iproute2 and a kernel that lets us create namespaces, veths and bridges:
 * `netnsSupport()` says whether it can run here, and why not. Everything created is named
 * after this process (`thr-<pid>-<k>-<i>`, `thrb<pid>-<k>`, `thrv<pid>-<k><i>`) and removed by
 * `cleanup()` (synchronous: it also runs from the process 'exit' handler), including processes
 * still running in the namespaces. Leftovers of dead test processes are swept at `create()`.
 */
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';

function ip(args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

function ipQuiet(args: string[]): boolean {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

export type NetnsSupport = { ok: true } | { ok: false; reason: string };

/** Whether network namespaces can be used here: Linux, root, `ip`, and a throwaway namespace, veth and bridge. */
export function netnsSupport(): NetnsSupport {
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root' };
  const v = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return { ok: false, reason: 'no `ip` command (iproute2)' };
  const ns = `thr-probe-${process.pid}`;
  const veth = `thrp${process.pid}a`;
  const br = `thrp${process.pid}b`;
  try {
    ip(['netns', 'add', ns]);
    ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    ip(['link', 'add', br, 'type', 'bridge']);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `cannot create network namespaces here: ${(e as Error).message}` };
  } finally {
    ipQuiet(['link', 'del', br]);
    ipQuiet(['link', 'del', veth]);
    ipQuiet(['netns', 'del', ns]);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces, bridges and veths left by test processes that are gone (killed mid-run). */
export function sweepStale(): void {
  const stale = (name: string, re: RegExp) => {
    const m = re.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0];
    if (name && stale(name, /^thr-(\d+)-\d+-\d+$/)) {
      killIn(name);
      ipQuiet(['netns', 'del', name]);
    }
  }
  for (const line of ip(['-o', 'link', 'show']).split('\n')) {
    const name = /^\d+: ([^:@]+)[:@]/.exec(line)?.[1];
    if (name && stale(name, /^thr[bv](\d+)-\d+$/)) ipQuiet(['link', 'del', name]);
  }
}

/** SIGKILLs every process in namespace `name`. */
function killIn(name: string): void {
  const r = spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' });
  for (const pid of (r.stdout ?? '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

export interface Netns {
  /** The namespace's name (`ip netns exec <name> ...`). */
  name: string;
  /** Its veth end in the root namespace, a port of the bridge (what `cut` sets down). */
  veth: string;
  /** Its IPv4 address (on its `eth0`, a /24 shared with the bridge). */
  addr: string;
}

let instances = 0;

export class NetnsLab {
  readonly spaces: Netns[] = [];
  #cleaned = false;
  #deferred: (() => void)[] = [];
  readonly #onExit = () => this.cleanup();
  readonly #onSignal = (signal: NodeJS.Signals) => {
    this.cleanup();
    process.kill(process.pid, signal);
  };

  private constructor(
    /** The bridge in the root namespace. */
    readonly bridge: string,
    /** The bridge's address: where the namespaces see the root namespace. */
    readonly gateway: string,
    readonly prefix: string,
  ) {}

  /**
   * `n` (at most 10) namespaces on a fresh bridge, in a random 10.x.y.0/24 not routed here
   * yet. Cleans up after itself if any step fails; registers exit and signal cleanup.
   */
  static create(n: number): NetnsLab {
    if (n < 1 || n > 10) throw new Error('1 to 10 namespaces');
    sweepStale();
    const k = instances++ % 10;
    const routes = ip(['-4', 'route', 'show', 'table', 'all']) + ip(['-4', 'addr', 'show']);
    let prefix = '';
    for (let tries = 0; tries < 50 && !prefix; tries++) {
      const p = `10.${randomInt(200, 250)}.${randomInt(0, 256)}`;
      if (!routes.includes(`${p}.`)) prefix = p;
    }
    if (!prefix) throw new Error('no free 10.x.y.0/24 subnet found');
    const lab = new NetnsLab(`thrb${process.pid}-${k}`, `${prefix}.1`, prefix);
    process.once('exit', lab.#onExit);
    process.once('SIGINT', lab.#onSignal);
    process.once('SIGTERM', lab.#onSignal);
    try {
      ip(['link', 'add', lab.bridge, 'type', 'bridge']);
      ip(['addr', 'add', `${lab.gateway}/24`, 'dev', lab.bridge]);
      ip(['link', 'set', lab.bridge, 'up']);
      for (let i = 0; i < n; i++) {
        const space = {
          name: `thr-${process.pid}-${k}-${i}`,
          veth: `thrv${process.pid}-${k}${i}`,
          addr: `${prefix}.${i + 2}`,
        };
        lab.spaces.push(space);
        ip(['netns', 'add', space.name]);
        ip(['-n', space.name, 'link', 'set', 'lo', 'up']);
        ip(['link', 'add', space.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', space.name]);
        ip(['link', 'set', space.veth, 'master', lab.bridge]);
        ip(['link', 'set', space.veth, 'up']);
        ip(['-n', space.name, 'addr', 'add', `${space.addr}/24`, 'dev', 'eth0']);
        ip(['-n', space.name, 'link', 'set', 'eth0', 'up']);
      }
    } catch (e) {
      lab.cleanup();
      throw e;
    }
    return lab;
  }

  /** The command prefix that runs a program in namespace `i`. */
  exec(i: number): string[] {
    return ['ip', 'netns', 'exec', this.spaces[i].name];
  }

  /** Partitions namespace `i` off: its link to the bridge goes down (packets dropped both ways). */
  cut(i: number): void {
    ip(['link', 'set', this.spaces[i].veth, 'down']);
  }

  /** Reconnects namespace `i`. */
  heal(i: number): void {
    ip(['link', 'set', this.spaces[i].veth, 'up']);
  }

  /** Whether namespace `i`'s link is up (not cut). */
  isUp(i: number): boolean {
    return /<[^>]*\bUP\b/.test(ip(['link', 'show', this.spaces[i].veth]).split('\n')[0]);
  }

  /** Runs `f` (synchronous) at cleanup, before the namespaces go: e.g. removing a temp directory. */
  defer(f: () => void): void {
    this.#deferred.push(f);
  }

  /**
   * Kills whatever still runs in the namespaces, deletes them (their veths go with them), the
   * root-side veths and the bridge. Idempotent, synchronous, never throws.
   */
  cleanup(): void {
    if (this.#cleaned) return;
    this.#cleaned = true;
    process.off('exit', this.#onExit);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    for (const s of this.spaces) killIn(s.name);
    for (const f of this.#deferred) {
      try {
        f();
      } catch {
        // best effort
      }
    }
    for (const s of this.spaces) {
      ipQuiet(['link', 'del', s.veth]);
      ipQuiet(['netns', 'del', s.name]);
    }
    ipQuiet(['link', 'del', this.bridge]);
  }

  /** What is left of this lab (namespaces and links still present): empty after cleanup. */
  leftovers(): string[] {
    const names = ip(['netns', 'list'])
      .split('\n')
      .map((l) => l.split(' ')[0]);
    const links = ip(['-o', 'link', 'show'])
      .split('\n')
      .map((l) => /^\d+: ([^:@]+)[:@]/.exec(l)?.[1] ?? '');
    const mine = new Set([this.bridge, ...this.spaces.flatMap((s) => [s.name, s.veth])]);
    return [...names, ...links].filter((x) => mine.has(x));
  }
}
