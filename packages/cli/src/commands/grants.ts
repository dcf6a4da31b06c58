import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Card } from '@thresh/protocol';
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { threshHome } from '../home.js';
import {
  countingTransport,
  mapErrors,
  NETWORK_FLAG,
  NETWORK_HELP,
  resolveBootstrap,
  withTransport,
} from '../network.js';
import { printResult } from '../output.js';
import { startProgress } from '../progress.js';
import { keyFilePath, keyOptions, loadIdentity, readKeyFileText } from './keys.js';

/** "30d", "12h", "90m", "3600s" -> seconds. */
export function parseDuration(text: string, flag = '--expires'): number {
  const m = /^(\d+)([dhms])$/.exec(text.trim());
  const n = m ? Number(m[1]) : Number.NaN;
  if (!m || !Number.isSafeInteger(n) || n <= 0) {
    throw new CliError(`${flag}: expected a duration like 30d, 12h, 90m or 3600s, got "${text}"`, EXIT.usage);
  }
  return n * { d: 86_400, h: 3_600, m: 60, s: 1 }[m[2] as 'd' | 'h' | 'm' | 's'];
}

/** The owner's policy state of key NAME: THRESH_HOME/state/NAME (the client's stateDir). */
export const stateDirOf = (name: string) => join(threshHome(), 'state', name);

/** A card: its printed form (thresh1...), or the name of a local key whose card to use. */
export async function parseCardArg(text: string, flag: string): Promise<Card> {
  const { Card, readKeyFileCard } = await import('@thresh/protocol');
  const t = text.trim();
  if (t.startsWith('thresh1')) {
    try {
      return Card.parse(t);
    } catch (e) {
      throw new CliError(`${flag}: ${(e as Error).message}`, EXIT.usage);
    }
  }
  try {
    keyFilePath(t);
  } catch {
    throw new CliError(`${flag}: expected a card (thresh1...) or the name of a local key`, EXIT.usage);
  }
  return readKeyFileCard(await readKeyFileText(t)).card;
}

const int = (flag: string) => (v: string) => {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
    throw new CliError(`${flag}: expected a whole number`, EXIT.usage);
  return n;
};

interface PolicyRow {
  policyId: string;
  path: string;
  reader: string;
  threshold: number;
  shares: number;
  status: string;
  created: number;
  expiresAt: number;
  revokedAt?: number;
  nodes: { nodeId: string }[];
  grant?: string;
}

const iso = (t: number) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');

export function registerGrantCommands(program: Command): void {
  keyOptions(
    program
      .command('grant')
      .description(
        'grant a reader a file or directory, m-of-n: stores kfrags on n nodes, prints the grant string',
      )
      .requiredOption('--path <path>', 'the granted level, e.g. /team (covers every file below it)')
      .requiredOption('--to <card>', "the reader's card (thresh1...), or the name of a local key")
      .option('--threshold <m>', 'nodes needed to decrypt', int('--threshold'), 3)
      .option('--shares <n>', 'nodes holding a fragment', int('--shares'), 5)
      .option('--expires <duration>', 'lifetime: 30d, 12h, 90m, 3600s', '30d'),
  )
    .option(NETWORK_FLAG, NETWORK_HELP)
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(
        async (o: {
          path: string;
          to: string;
          threshold: number;
          shares: number;
          expires: string;
          as: string;
          passphraseFile?: string;
          network?: string;
          json?: boolean;
        }) => {
          const ttl = parseDuration(o.expires);
          if (o.threshold < 1 || o.shares < o.threshold || o.shares > 255) {
            throw new CliError('expected 1 <= --threshold <= --shares <= 255', EXIT.usage);
          }
          await resolveBootstrap(o.network); // no network: say so before asking for a passphrase
          const reader = await parseCardArg(o.to, '--to');
          const owner = await loadIdentity(o.as, o.passphraseFile);
          const { createClient } = await import('@thresh/client');
          const r = await withTransport(o.network, o.shares, async (transport) => {
            const bar = await startProgress({ label: 'storing kfrags', total: o.shares, json: o.json });
            try {
              const client = createClient({
                identity: owner,
                transport: countingTransport(transport, 'storePolicy', () => bar.increment()),
                stateDir: stateDirOf(o.as),
              });
              return await client.grant({
                path: o.path,
                reader,
                threshold: o.threshold,
                shares: o.shares,
                ttl,
              });
            } finally {
              bar.stop();
            }
          });
          const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
          const out = {
            policyId: r.policyId,
            path: o.path,
            reader: reader.toString(),
            threshold: o.threshold,
            shares: o.shares,
            expiresAt: r.policy.body.expiry,
            nodeIds: r.nodeIds.map(hex),
            abandoned: r.abandoned,
            grantString: r.grantString,
          };
          printResult(Boolean(o.json), out, () =>
            [
              `granted ${o.path} to ${reader.fingerprint()}: ${o.threshold} of ${o.shares} nodes, until ${iso(out.expiresAt)}`,
              `policy id: ${r.policyId}`,
              'grant string (give it to the reader; it is sealed to their key):',
              r.grantString,
            ].join('\n'),
          );
        },
      ),
    );

  keyOptions(
    program
      .command('revoke')
      .description('revoke a policy: every node holding a fragment deletes it and receipts')
      .argument('<policy-id>', 'the policy id (hex) printed by grant or listed by policies'),
  )
    .option(NETWORK_FLAG, NETWORK_HELP)
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(
        async (
          policyId: string,
          o: { as: string; passphraseFile?: string; network?: string; json?: boolean },
        ) => {
          if (!/^[0-9a-fA-F]{2,}$/.test(policyId)) throw new CliError('expected a hex policy id', EXIT.usage);
          const entry = (await readPolicies(o.as)).find((p) => p.policyId === policyId.toLowerCase());
          if (!entry) {
            throw new CliError(
              `no policy ${policyId} in ${stateDirOf(o.as)} (see: thresh policies --as ${o.as})`,
            );
          }
          await resolveBootstrap(o.network);
          const owner = await loadIdentity(o.as, o.passphraseFile);
          const { createClient } = await import('@thresh/client');
          const r = await withTransport(
            o.network,
            1,
            async (transport) => {
              const bar = await startProgress({ label: 'revoking', total: entry.nodes.length, json: o.json });
              try {
                const client = createClient({
                  identity: owner,
                  transport: countingTransport(transport, 'revoke', () => bar.increment()),
                  stateDir: stateDirOf(o.as),
                });
                return await client.revoke(policyId);
              } finally {
                bar.stop();
              }
            },
            5_000,
          );
          const receipts = r.receipts.map((x) =>
            x.ok
              ? { nodeId: x.nodeId, peer: x.peer, ok: true as const }
              : { nodeId: x.nodeId, peer: x.peer, ok: false as const, reason: x.reason },
          );
          printResult(
            Boolean(o.json),
            { policyId: policyId.toLowerCase(), accessGone: r.accessGone, published: r.published, receipts },
            () =>
              [
                `${r.accessGone ? 'revoked' : 'NOT revoked everywhere'}: ${policyId.toLowerCase()} (${receipts.filter((x) => x.ok).length}/${receipts.length} nodes receipted${r.published ? ', published in the DHT' : ''})`,
                ...receipts.map(
                  (x) => `  ${x.nodeId.slice(0, 16)}  ${x.ok ? 'receipted' : `failed: ${x.reason}`}`,
                ),
                ...(r.accessGone ? [] : ['access is not gone yet: run revoke again when the nodes are back']),
              ].join('\n'),
          );
          if (!r.accessGone) process.exitCode = EXIT.network;
        },
      ),
    );

  program
    .command('policies')
    .description("list the owner's grants from the local state (no passphrase, no network)")
    .option('--as <name>', 'the owner key (THRESH_HOME/state/NAME)', 'default')
    .option('--all', 'include abandoned attempts')
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(async (o: { as: string; all?: boolean; json?: boolean }) => {
        keyFilePath(o.as);
        const all = await readPolicies(o.as);
        const list = o.all ? all : all.filter((p) => p.status !== 'abandoned');
        printResult(Boolean(o.json), list, () =>
          list.length === 0
            ? `no policies for key "${o.as}"`
            : list
                .map(
                  (p) =>
                    `${p.policyId}  ${p.status.padEnd(9)} ${p.path}  ${p.threshold}-of-${p.shares}  until ${iso(p.expiresAt)}  reader ${p.reader.slice(0, 20)}...`,
                )
                .join('\n'),
        );
      }),
    );
}

async function readPolicies(name: string): Promise<PolicyRow[]> {
  const file = join(stateDirOf(name), 'policies.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as { policies: PolicyRow[] };
    if (!Array.isArray(parsed.policies)) throw new Error('no "policies" list');
    return parsed.policies;
  } catch (e) {
    throw new CliError(`${file} is malformed: ${(e as Error).message}`);
  }
}
