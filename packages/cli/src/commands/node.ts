import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeInit } from '@thresh/node';
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { defaultNodeDir } from '../home.js';
import { info, printResult } from '../output.js';
import { getPassphrase } from '../passphrase.js';

/** The runtime file a running node writes into its data directory (removed when it stops). */
export const RUNTIME_FILE = 'node.json';

export interface NodeRuntime {
  pid: number;
  peerId: string;
  multiaddrs: string[];
  http: string | null;
  started: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function networkFlags(o: {
  listen?: string[];
  bootstrap?: string[];
  http?: string;
  httpAllowHost?: string[];
  logLevel?: string;
  workers?: string;
}): NodeInit {
  let workers: number | undefined;
  if (o.workers !== undefined) {
    workers = Number(o.workers);
    if (!/^\d+$/.test(o.workers) || workers > 64) {
      throw new CliError('--workers: expected a whole number from 0 to 64', EXIT.usage);
    }
  }
  return {
    workers,
    httpAllowedHosts: o.httpAllowHost,
    listen: o.listen,
    bootstrap: o.bootstrap,
    http: o.http === undefined ? undefined : o.http === 'off' ? null : o.http,
    logLevel: o.logLevel ?? process.env.THRESH_LOG_LEVEL,
  };
}

export function registerNodeCommands(program: Command): void {
  const node = program.command('node').description('run and manage a thresh node');

  node
    .command('init')
    .description('create a node data directory: identity (sealed with a passphrase), admin token, config')
    .option('--data-dir <dir>', 'data directory', defaultNodeDir())
    .option(
      '--passphrase-file <file>',
      'read the passphrase from a file (else THRESH_PASSPHRASE, else a prompt)',
    )
    .option(
      '--generate-passphrase',
      'generate a passphrase and keep it in the data directory (local clusters)',
    )
    .option('--key-file <file>', 'import an existing thresh key file instead of generating an identity')
    .option('--listen <multiaddr>', 'listen address (repeatable)', collect)
    .option('--bootstrap <multiaddr>', 'bootstrap peer (repeatable)', collect)
    .option('--http <host:port>', "HTTP API address, or 'off'")
    .option('--http-allow-host <host:port>', 'another Host header the HTTP API accepts (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const passphrase = o.generatePassphrase
        ? undefined
        : await getPassphrase({
            passphraseFile: o.passphraseFile,
            prompt: 'New node passphrase: ',
            confirm: true,
          });
      const keyFile = o.keyFile ? await readFile(o.keyFile, 'utf8') : undefined;
      const { initDataDir } = await import('@thresh/node');
      const r = await initDataDir(o.dataDir, {
        passphrase,
        generatePassphrase: Boolean(o.generatePassphrase),
        keyFile,
        config: networkFlags(o),
      });
      printResult(
        o.json,
        { dataDir: r.dir, card: r.card.toString(), fingerprint: r.card.fingerprint() },
        () =>
          [
            `initialised ${r.dir}`,
            `node card:   ${r.card.toString()}`,
            `fingerprint: ${r.card.fingerprint()}`,
            `next: thresh node start --data-dir ${r.dir}`,
          ].join('\n'),
      );
    });

  node
    .command('start')
    .description('run the node in the foreground (SIGINT/SIGTERM stop it gracefully)')
    .option('--data-dir <dir>', 'data directory', defaultNodeDir())
    .option(
      '--passphrase-file <file>',
      'read the passphrase from a file (else THRESH_PASSPHRASE, else data-dir/passphrase, else a prompt)',
    )
    .option('--listen <multiaddr>', 'listen address (repeatable; overrides config.json)', collect)
    .option('--bootstrap <multiaddr>', 'bootstrap peer (repeatable; overrides config.json)', collect)
    .option('--http <host:port>', "HTTP API address, or 'off' (overrides config.json)")
    .option('--http-allow-host <host:port>', 'another Host header the HTTP API accepts (repeatable)', collect)
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option(
      '--workers <n>',
      're-encryption worker threads (default: the number of cores; overrides config.json)',
    )
    .option('--json', 'print the started node as JSON on stdout')
    .action(async (o) => {
      const passphrase = await getPassphrase({ passphraseFile: o.passphraseFile, optional: true });
      const { ThreshNode, writeFileAtomic } = await import('@thresh/node');
      const n = await ThreshNode.start({ dataDir: o.dataDir, passphrase, overrides: networkFlags(o) });
      const runtime: NodeRuntime = {
        pid: process.pid,
        peerId: n.peerId,
        multiaddrs: n.multiaddrs(),
        http: n.httpUrl ?? null,
        started: new Date().toISOString(),
      };
      await writeFileAtomic(join(o.dataDir, RUNTIME_FILE), `${JSON.stringify(runtime, null, 2)}\n`, 0o644);
      printResult(o.json, { ...runtime, card: n.card.toString() }, () =>
        [
          `node ${n.card.fingerprint()} running (pid ${process.pid})`,
          `peer id: ${n.peerId}`,
          ...runtime.multiaddrs.map((m) => `listen:  ${m}`),
          `http:    ${runtime.http ?? 'off'}`,
        ].join('\n'),
      );
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        info(`${signal}: stopping (finishing in-flight requests)`);
        try {
          await n.stop();
          await rm(join(o.dataDir, RUNTIME_FILE), { force: true });
          process.exit(EXIT.ok);
        } catch (e) {
          info(`stop failed: ${(e as Error).message}`);
          process.exit(EXIT.failure);
        }
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
    });

  node
    .command('decommission')
    .description(
      'leave the network for good: the running node hands every live kfrag over to a replacement node, then stops',
    )
    .option('--data-dir <dir>', 'data directory of the running node', defaultNodeDir())
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      let runtime: NodeRuntime;
      let token: string;
      try {
        runtime = JSON.parse(await readFile(join(o.dataDir, RUNTIME_FILE), 'utf8')) as NodeRuntime;
        token = (await readFile(join(o.dataDir, 'admin-token'), 'utf8')).trim();
      } catch {
        throw new CliError(`no running node with an admin token in ${o.dataDir}`, EXIT.failure);
      }
      if (!runtime.http) throw new CliError('that node runs without its HTTP API (--http off)', EXIT.failure);
      let report: { handedOver: number; failed: { policyId: string; reason: string }[] };
      try {
        const res = await fetch(new URL('/v1/admin/decommission', runtime.http), {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(30 * 60_000),
        });
        const body = (await res.json()) as typeof report;
        if (!res.ok) throw new Error(JSON.stringify(body));
        report = { handedOver: body.handedOver, failed: body.failed };
      } catch (e) {
        throw new CliError(`decommission failed at ${runtime.http}: ${(e as Error).message}`, EXIT.network);
      }
      // The node stops itself once it has answered: wait for its process to exit.
      const running = () => {
        try {
          process.kill(runtime.pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      const deadline = Date.now() + 60_000;
      while (running() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const exited = !running();
      if (exited) await rm(join(o.dataDir, RUNTIME_FILE), { force: true });
      printResult(o.json, { ...report, pid: runtime.pid, exited }, () =>
        [
          `handed over ${report.handedOver} ${report.handedOver === 1 ? 'policy' : 'policies'}`,
          ...report.failed.map((f) => `kept ${f.policyId}: ${f.reason}`),
          exited ? `node (pid ${runtime.pid}) stopped` : `node (pid ${runtime.pid}) still running`,
        ].join('\n'),
      );
      if (report.failed.length > 0 || !exited) process.exitCode = EXIT.failure;
    });

  node
    .command('status')
    .description(
      'ask a running node (its HTTP API) for its peer id, addresses, peers, policies, uptime, version',
    )
    .option('--data-dir <dir>', 'data directory of the node', defaultNodeDir())
    .option('--url <url>', 'the node HTTP API URL (instead of reading it from the data directory)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      let url: string | undefined = o.url;
      if (!url) {
        let runtime: NodeRuntime;
        try {
          runtime = JSON.parse(await readFile(join(o.dataDir, RUNTIME_FILE), 'utf8')) as NodeRuntime;
        } catch {
          const { readNodeCard } = await import('@thresh/node');
          const card = await readNodeCard(o.dataDir).catch(() => undefined);
          throw new CliError(
            card ? `the node in ${o.dataDir} is not running` : `${o.dataDir} is not a node data directory`,
            EXIT.failure,
          );
        }
        if (!runtime.http)
          throw new CliError('that node runs without its HTTP API (--http off)', EXIT.failure);
        url = runtime.http;
      }
      let status: Record<string, unknown>;
      try {
        const res = await fetch(new URL('/v1/status', url), { signal: AbortSignal.timeout(5000) });
        status = (await res.json()) as Record<string, unknown>;
        if (!res.ok) throw new Error(JSON.stringify(status));
      } catch (e) {
        throw new CliError(`cannot reach the node at ${url}: ${(e as Error).message}`, EXIT.network);
      }
      printResult(o.json, status, () =>
        Object.entries(status)
          .map(([k, v]) => `${k.padEnd(12)} ${Array.isArray(v) ? v.join('\n             ') : String(v)}`)
          .join('\n'),
      );
    });
}
