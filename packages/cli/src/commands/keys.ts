import { chmod, mkdir, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Identity } from '@thresh/protocol';
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { threshHome } from '../home.js';
import { mapErrors } from '../network.js';
import { info, printResult } from '../output.js';
import { getPassphrase } from '../passphrase.js';

/**
 * Identities of this machine: THRESH_HOME/keys/NAME.json, key files sealed with a passphrase
 * (mode 0600). Every command that uses a key takes `--as NAME` (default "default").
 */
export const DEFAULT_KEY = 'default';
export const keysDir = () => join(threshHome(), 'keys');

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function checkKeyName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw new CliError(
      `bad key name "${name}": use 1 to 64 letters, digits, '.', '_' or '-' (not starting with '.' or '-')`,
      EXIT.usage,
    );
  }
  return name;
}

export function keyFilePath(name: string): string {
  return join(keysDir(), `${checkKeyName(name)}.json`);
}

export async function readKeyFileText(name: string): Promise<string> {
  const file = keyFilePath(name);
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(
        `no key "${name}" (${file}); create one with: thresh keys new --name ${name}`,
        EXIT.key,
      );
    }
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, EXIT.key);
  }
}

/** Opens the key `name` with the passphrase (THRESH_PASSPHRASE, --passphrase-file or a prompt). */
export async function loadIdentity(name: string, passphraseFile: string | undefined): Promise<Identity> {
  const text = await readKeyFileText(name);
  const passphrase = await getPassphrase({ passphraseFile, prompt: `Passphrase for key "${name}": ` });
  const { openKeyFile } = await import('@thresh/protocol');
  return openKeyFile(text, passphrase!);
}

/** `--as NAME` and `--passphrase-file FILE`, the options of every command that uses a key. */
export function keyOptions(cmd: Command): Command {
  return cmd
    .option('--as <name>', 'the key to act as (THRESH_HOME/keys/NAME.json)', DEFAULT_KEY)
    .option(
      '--passphrase-file <file>',
      "read the key's passphrase from a file (else THRESH_PASSPHRASE, else a prompt)",
    );
}

const FROM_PASSPHRASE_WARNING =
  'warning: --from-passphrase derives the key from the passphrase and the name alone: it is only as strong as the passphrase. Anyone with your card can guess passphrases offline, forever. Use a long random passphrase (six or more diceware words).';

export function registerKeysCommands(program: Command): void {
  const keys = program
    .command('keys')
    .description('make, show and list identities (key files in THRESH_HOME/keys)');

  keys
    .command('new')
    .description('create an identity and seal it into THRESH_HOME/keys/NAME.json (never overwrites)')
    .option('--name <name>', 'key name', DEFAULT_KEY)
    .option(
      '--from-passphrase',
      'derive the identity from the passphrase and the name (same keys on any machine; only as strong as the passphrase)',
    )
    .option(
      '--passphrase-file <file>',
      'read the passphrase from a file (else THRESH_PASSPHRASE, else a prompt)',
    )
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(
        async (o: { name: string; fromPassphrase?: boolean; passphraseFile?: string; json?: boolean }) => {
          const file = keyFilePath(o.name);
          if (o.fromPassphrase) info(FROM_PASSPHRASE_WARNING);
          const passphrase = (await getPassphrase({
            passphraseFile: o.passphraseFile,
            prompt: `New passphrase for key "${o.name}": `,
            confirm: true,
          }))!;
          const { Identity, identityFromPassphrase, sealKeyFile } = await import('@thresh/protocol');
          const identity = o.fromPassphrase
            ? await identityFromPassphrase(passphrase, o.name)
            : Identity.generate();
          const text = await sealKeyFile(identity, passphrase, { name: o.name });
          await mkdir(keysDir(), { recursive: true, mode: 0o700 });
          let fh: Awaited<ReturnType<typeof open>>;
          try {
            fh = await open(file, 'wx', 0o600);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
              throw new CliError(`key "${o.name}" already exists (${file}); pick another --name`);
            }
            throw e;
          }
          try {
            await fh.writeFile(text, 'utf8');
            await fh.sync();
          } finally {
            await fh.close();
          }
          await chmod(file, 0o600);
          const card = identity.card;
          printResult(
            Boolean(o.json),
            {
              name: o.name,
              file,
              card: card.toString(),
              fingerprint: card.fingerprint(),
              fromPassphrase: Boolean(o.fromPassphrase),
            },
            () =>
              [
                `created key "${o.name}" in ${file}`,
                `card:        ${card.toString()}`,
                `fingerprint: ${card.fingerprint()}`,
                'give the card to owners who want to grant you access',
              ].join('\n'),
          );
        },
      ),
    );

  keys
    .command('card')
    .description('print the public card and fingerprint of a key (no passphrase needed)')
    .option('--name <name>', 'key name', DEFAULT_KEY)
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(async (o: { name: string; json?: boolean }) => {
        const text = await readKeyFileText(o.name);
        const { readKeyFileCard } = await import('@thresh/protocol');
        const { card } = readKeyFileCard(text);
        printResult(
          Boolean(o.json),
          { name: o.name, card: card.toString(), fingerprint: card.fingerprint() },
          () => `${card.toString()}\nfingerprint: ${card.fingerprint()}`,
        );
      }),
    );

  keys
    .command('list')
    .description('list the keys in THRESH_HOME/keys with their fingerprints')
    .option('--json', 'machine-readable output')
    .action(
      mapErrors(async (o: { json?: boolean }) => {
        let files: string[] = [];
        try {
          files = (await readdir(keysDir())).filter((f) => f.endsWith('.json')).sort();
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
        const { readKeyFileCard } = await import('@thresh/protocol');
        const list = await Promise.all(
          files.map(async (f) => {
            const name = f.slice(0, -'.json'.length);
            try {
              const { card } = readKeyFileCard(await readFile(join(keysDir(), f), 'utf8'));
              return { name, card: card.toString(), fingerprint: card.fingerprint() };
            } catch (e) {
              return { name, error: `${(e as Error).name}: ${(e as Error).message}` };
            }
          }),
        );
        printResult(Boolean(o.json), list, () =>
          list.length === 0
            ? `no keys in ${keysDir()}; create one with: thresh keys new`
            : list
                .map((k) =>
                  'error' in k
                    ? `${k.name.padEnd(16)} UNREADABLE: ${k.error}`
                    : `${k.name.padEnd(16)} ${k.fingerprint}  ${k.card}`,
                )
                .join('\n'),
        );
      }),
    );
}
