import { readFile, stat } from 'node:fs/promises';
import type { Transport } from '@thresh/client';
import { clusterFilePath } from './commands/cluster.js';
import { CliError, EXIT } from './errors.js';

/**
 * Where the network is (docs/CLI.md "Network"): `--network` (a cluster file, or comma-separated
 * bootstrap multiaddrs), else THRESH_NETWORK (the same two forms), else the local cluster file
 * THRESH_HOME/cluster.json that `thresh cluster up` writes.
 */
export const NO_NETWORK = 'no network: start one with `thresh cluster up` or pass --network';

export const NETWORK_FLAG = '--network <cluster-file|multiaddrs>';
export const NETWORK_HELP =
  'a cluster file or comma-separated bootstrap multiaddrs (else THRESH_NETWORK, else THRESH_HOME/cluster.json)';

async function fromClusterFile(file: string): Promise<string[]> {
  let parsed: { bootstrap?: unknown };
  try {
    parsed = JSON.parse(await readFile(file, 'utf8')) as { bootstrap?: unknown };
  } catch (e) {
    throw new CliError(`cannot read the cluster file ${file}: ${(e as Error).message}`, EXIT.network);
  }
  const list = parsed?.bootstrap;
  if (!Array.isArray(list) || list.length === 0 || !list.every((a) => typeof a === 'string')) {
    throw new CliError(`${file} has no "bootstrap" list of multiaddrs`, EXIT.network);
  }
  return list as string[];
}

async function fromSpec(spec: string, origin: string): Promise<string[]> {
  const text = spec.trim();
  if (!text) throw new CliError(`${origin} is empty`, EXIT.usage);
  if (!text.startsWith('/') || (await isFile(text))) return fromClusterFile(text);
  const addrs = text
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  const bad = addrs.find((a) => !a.startsWith('/'));
  if (bad) throw new CliError(`${origin}: "${bad}" is not a multiaddr`, EXIT.usage);
  return addrs;
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** The bootstrap multiaddrs to use, or a CliError (exit 4) when no network is configured. */
export async function resolveBootstrap(network: string | undefined): Promise<string[]> {
  if (network !== undefined) return fromSpec(network, '--network');
  const env = process.env.THRESH_NETWORK;
  if (env?.trim()) return fromSpec(env, 'THRESH_NETWORK');
  const file = clusterFilePath();
  if (await isFile(file)) return fromClusterFile(file);
  throw new CliError(NO_NETWORK, EXIT.network);
}

/**
 * Opens a libp2p transport to the network, waits (up to `waitMs`) until the DHT knows at least
 * `minPeers` nodes, runs `fn`, and closes the transport whatever happens.
 */
export async function withTransport<T>(
  network: string | undefined,
  minPeers: number,
  fn: (transport: Transport) => Promise<T>,
  waitMs = 20_000,
): Promise<T> {
  const bootstrap = await resolveBootstrap(network);
  const { Libp2pTransport } = await import('@thresh/client');
  let transport: Awaited<ReturnType<typeof Libp2pTransport.create>>;
  try {
    transport = await Libp2pTransport.create({ bootstrap });
  } catch (e) {
    throw new CliError(`cannot start the network client: ${(e as Error).message}`, EXIT.network);
  }
  try {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const peers = await transport
        .closestNodes(crypto.getRandomValues(new Uint8Array(16)), Math.max(minPeers, 1))
        .catch(() => []);
      if (peers.length >= minPeers) break;
      if (Date.now() > deadline) {
        if (peers.length === 0) {
          throw new CliError(
            `no node answered at ${bootstrap.join(', ')} (is the network up? see \`thresh cluster status\`)`,
            EXIT.network,
          );
        }
        break; // the command itself says what is missing
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    return await fn(transport);
  } finally {
    await transport.close().catch(() => {});
    // A stopped libp2p host can leave timers behind for seconds; once the command is done,
    // nothing else is worth waiting for (an unref'd timer only fires if something lingers).
    setTimeout(() => process.exit(), 300).unref();
  }
}

/** Error codes of the client and transport that mean "the network did not deliver". */
const NETWORK_CODES = new Set([
  'ERR_NO_NODES',
  'ERR_NOT_ENOUGH_FRAGMENTS',
  'ERR_GRANT_FAILED',
  'ERR_UNREACHABLE',
  'ERR_UNSUPPORTED_PROTOCOL',
  'ERR_TIMEOUT',
  'ERR_RESPONSE_TOO_LARGE',
  'ERR_STREAM',
  'ERR_DHT',
]);
const KEY_CODES = new Set(['ERR_WRONG_PASSPHRASE', 'ERR_CORRUPT_KEY_FILE']);
const USAGE_CODES = new Set(['ERR_INVALID_ARGUMENT', 'ERR_INVALID_PATH']);

/** A typed error of the thresh packages as a CliError with its exit code (errors.ts EXIT). */
export function toCliError(e: unknown): unknown {
  if (e instanceof CliError) return e;
  const coded = e as { name?: string; code?: unknown; message?: string };
  if (typeof coded?.code !== 'string' || !coded.code.startsWith('ERR_')) return e;
  const exit = NETWORK_CODES.has(coded.code)
    ? EXIT.network
    : KEY_CODES.has(coded.code)
      ? EXIT.key
      : USAGE_CODES.has(coded.code)
        ? EXIT.usage
        : EXIT.failure;
  return new CliError(`${coded.name}: ${coded.message}`, exit);
}

/** Wraps a command action so that typed errors leave with their exit codes. */
export function mapErrors<A extends unknown[]>(
  action: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await action(...args);
    } catch (e) {
      throw toCliError(e);
    }
  };
}

/** The transport, with every finished call on `protocol` counted into `onDone` (progress bars). */
export function countingTransport(transport: Transport, protocol: string, onDone: () => void): Transport {
  return {
    closestNodes: (key, count, signal, options) => transport.closestNodes(key, count, signal, options),
    call: (peer, proto, bytes, signal) => {
      const p = transport.call(peer, proto, bytes, signal);
      if (proto === protocol) void p.then(onDone, onDone);
      return p;
    },
    putRecord: (key, value, signal) => transport.putRecord(key, value, signal),
    getRecord: (key, signal) => transport.getRecord(key, signal),
    ...(transport.knownPeer === undefined ? {} : { knownPeer: (nodeId) => transport.knownPeer!(nodeId) }),
  };
}
