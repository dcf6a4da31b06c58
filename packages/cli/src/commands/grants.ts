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
  epoch: number;
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
                // the command's process ends right after: the map must be in the DHT by then
                awaitPublication: true,
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
            mapPublishedTo: (await r.published).accepted,
            grantString: r.grantString,
          };
          printResult(Boolean(o.json), out, () =>
            [
              `granted ${o.path} to ${reader.fingerprint()}: ${o.threshold} of ${o.shares} nodes, until ${iso(out.expiresAt)}`,
              `policy id: ${r.policyId}`,
              out.mapPublishedTo > 0
                ? `policy map published in the DHT (${out.mapPublishedTo} peers): the reader can also find it without the grant string`
                : 'the policy map could not be published in the DHT: the reader needs the grant string',
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
      .argument('<policy-id>', 'the policy id (hex) printed by grant or listed by policies')
      .option(
        '--rotate',
        "also rotate the level: new files use a new epoch's keys, every other reader is re-granted, and the reader's other policies on it are revoked (see docs/SECURITY.md)",
      ),
  )
    .option(NETWORK_FLAG, NETWORK_HELP)
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(
        async (
          policyId: string,
          o: { as: string; passphraseFile?: string; network?: string; json?: boolean; rotate?: boolean },
        ) => {
          if (!/^[0-9a-fA-F]{2,}$/.test(policyId)) throw new CliError('expected a hex policy id', EXIT.usage);
          const all = await readPolicies(o.as);
          const entry = all.find((p) => p.policyId === policyId.toLowerCase());
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
            o.rotate ? entry.shares : 1,
            async (transport) => {
              const bar = await startProgress({ label: 'revoking', total: entry.nodes.length, json: o.json });
              try {
                const client = createClient({
                  identity: owner,
                  transport: countingTransport(transport, 'revoke', () => bar.increment()),
                  stateDir: stateDirOf(o.as),
                });
                if (!o.rotate) return { revoked: await client.revoke(policyId) };
                const rr = await client.revoke(policyId, { rotate: true });
                await client.flush(); // the re-grants' maps, before the process ends
                return { revoked: rr, rotation: rr.rotation, alsoRevoked: rr.alsoRevoked };
              } finally {
                bar.stop();
              }
            },
            5_000,
          );
          const receipts = receiptRows(r.revoked.receipts);
          const okCount = receipts.filter((x) => x.ok).length;
          const out = {
            policyId: policyId.toLowerCase(),
            accessGone: r.revoked.accessGone,
            published: r.revoked.published,
            receipts,
            ...(r.rotation
              ? {
                  alsoRevoked: (r.alsoRevoked ?? []).map((x) => ({
                    policyId: x.policyId,
                    accessGone: x.result.accessGone,
                  })),
                  rotation: rotationJson(r.rotation),
                }
              : {}),
          };
          printResult(Boolean(o.json), out, () =>
            [
              `${r.revoked.accessGone ? 'revoked' : 'NOT revoked everywhere'}: ${out.policyId} (${okCount}/${receipts.length} nodes receipted${r.revoked.published ? ', published in the DHT' : ''})`,
              ...receipts.map(
                (x) => `  ${x.nodeId.slice(0, 16)}  ${x.ok ? 'receipted' : `failed: ${x.reason}`}`,
              ),
              ...(r.revoked.accessGone
                ? []
                : ['access is not gone yet: run revoke again when the nodes are back']),
              ...(r.alsoRevoked ?? []).map(
                (x) =>
                  `also revoked the reader's ${x.policyId}${x.result.accessGone ? '' : ' (NOT everywhere: run revoke again)'}`,
              ),
              ...(r.rotation ? rotationLines(r.rotation) : []),
            ].join('\n'),
          );
          const accessGone = r.revoked.accessGone && (r.alsoRevoked ?? []).every((x) => x.result.accessGone);
          if (!accessGone || (r.rotation && !r.rotation.done)) process.exitCode = EXIT.network;
        },
      ),
    );

  keyOptions(
    program
      .command('rotate')
      .description(
        "rotate a level's key without a revocation: new files use the next epoch, every reader with a live grant is re-granted (finishes an interrupted rotation instead, if there is one)",
      )
      .requiredOption('--path <path>', 'the level to rotate, e.g. /team'),
  )
    .option(NETWORK_FLAG, NETWORK_HELP)
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(
        async (o: {
          path: string;
          as: string;
          passphraseFile?: string;
          network?: string;
          json?: boolean;
        }) => {
          const { canonicalPath } = await import('@thresh/protocol');
          let path: string;
          try {
            path = canonicalPath(o.path);
          } catch (e) {
            throw new CliError(`--path: ${(e as Error).message}`, EXIT.usage);
          }
          const live = (await readPolicies(o.as)).filter(
            (p) => p.status === 'active' && p.path === path && p.expiresAt > Date.now() / 1000,
          );
          await resolveBootstrap(o.network);
          const owner = await loadIdentity(o.as, o.passphraseFile);
          const { createClient } = await import('@thresh/client');
          const minPeers = Math.max(1, ...live.map((p) => p.shares));
          const r = await withTransport(o.network, minPeers, async (transport) => {
            const total = live.reduce((sum, p) => sum + p.shares, 0);
            const bar = await startProgress({ label: 're-granting (kfrags stored)', total, json: o.json });
            try {
              const client = createClient({
                identity: owner,
                transport: countingTransport(transport, 'storePolicy', () => bar.increment()),
                stateDir: stateDirOf(o.as),
              });
              const rotated = await client.rotate(path);
              await client.flush(); // the re-grants' maps, before the process ends
              return rotated;
            } finally {
              bar.stop();
            }
          });
          printResult(Boolean(o.json), rotationJson(r), () => rotationLines(r).join('\n'));
          if (!r.done) process.exitCode = EXIT.network;
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
                    `${p.policyId}  ${p.status.padEnd(9)} ${p.path} (epoch ${p.epoch ?? 0})  ${p.threshold}-of-${p.shares}  until ${iso(p.expiresAt)}  reader ${p.reader.slice(0, 20)}...`,
                )
                .join('\n'),
        );
      }),
    );
}

type RotateResult = import('@thresh/client').RotateResult;

function receiptRows(
  receipts: import('@thresh/client').RevokeResult['receipts'],
): { nodeId: string; peer: string; ok: boolean; reason?: string }[] {
  return receipts.map((x) =>
    x.ok
      ? { nodeId: x.nodeId, peer: x.peer, ok: true as const }
      : { nodeId: x.nodeId, peer: x.peer, ok: false as const, reason: x.reason },
  );
}

function rotationJson(r: RotateResult) {
  return {
    path: r.path,
    from: r.from,
    to: r.to,
    resumed: r.resumed,
    done: r.done,
    regranted: r.regranted,
    failed: r.failed,
    excludedReaders: r.excludedReaders,
  };
}

function rotationLines(r: RotateResult): string[] {
  const short = (card: string) => `${card.slice(0, 20)}...`;
  return [
    r.resumed
      ? `finished the interrupted rotation of ${r.path} to epoch ${r.to}`
      : `rotated ${r.path} to epoch ${r.to}: files encrypted from now on use the new key`,
    r.regranted.length === 0 && r.failed.length === 0
      ? '  no other reader to re-grant'
      : `  re-granted ${r.regranted.length} reader(s); their clients find the new grant in the DHT`,
    ...r.regranted.map((g) => `  ${short(g.reader)}  ${g.fromPolicy} -> ${g.policyId}`),
    ...r.failed.map((g) => `  ${short(g.reader)}  NOT re-granted: ${g.error}`),
    ...(r.done ? [] : [`  unfinished: run \`thresh rotate --path ${r.path}\` again to retry`]),
    ...(r.excludedReaders.length > 0
      ? [`  not re-granted (revoked): ${r.excludedReaders.map(short).join(', ')}`]
      : []),
    `  writers: issue new directory keys (thresh dir-key --path ${r.path} ...); old ones still write at epoch ${r.from}`,
  ];
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
