import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { mapErrors, NETWORK_FLAG, NETWORK_HELP, resolveBootstrap, withTransport } from '../network.js';
import { info, printResult, warn } from '../output.js';
import { counted, FILE_PROGRESS_MIN_BYTES, type Progress, startProgress } from '../progress.js';
import { parseCardArg, parseDuration, stateDirOf } from './grants.js';
import { keyOptions, loadIdentity } from './keys.js';

interface Input {
  source: AsyncIterable<Uint8Array>;
  size?: number;
  name: string;
}

const isStd = (f: string | undefined) => f === undefined || f === '-';

async function openInput(file: string | undefined): Promise<Input> {
  if (isStd(file)) {
    if (process.stdin.isTTY) throw new CliError('no input: pass --in FILE, or pipe the data in', EXIT.usage);
    return { source: process.stdin, name: 'stdin' };
  }
  const path = file as string;
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new Error('not a regular file');
    size = s.size;
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`, EXIT.failure);
  }
  return { source: createReadStream(path), size, name: path };
}

/** A byte stream that can be read once for its header, then again from its start. */
function replayable(src: AsyncIterable<Uint8Array>): {
  first: AsyncIterable<Uint8Array>;
  again: () => AsyncIterable<Uint8Array>;
} {
  const it = src[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  const first: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const r = await it.next();
        if (!r.done) seen.push(r.value);
        return r;
      },
    }),
  };
  async function* again(): AsyncGenerator<Uint8Array> {
    yield* seen.splice(0);
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { first, again };
}

function checkOutput(out: string | undefined, binary: boolean): void {
  if (binary && isStd(out) && process.stdout.isTTY) {
    throw new CliError(
      'refusing to write encrypted bytes to a terminal: use --out FILE or a pipe',
      EXIT.usage,
    );
  }
}

/** Writes the stream to stdout, or to `out` through a temporary file renamed when complete. */
async function writeOutput(out: string | undefined, stream: AsyncIterable<Uint8Array>): Promise<number> {
  let bytes = 0;
  const count = async function* () {
    for await (const c of stream) {
      bytes += c.length;
      yield c;
    }
  };
  if (isStd(out)) {
    for await (const c of count()) {
      if (!process.stdout.write(c)) await once(process.stdout, 'drain');
    }
    return bytes;
  }
  const path = out as string;
  const tmp = `${path}.${process.pid}.partial`;
  try {
    await pipeline(Readable.from(count()), createWriteStream(tmp, { mode: 0o600, flags: 'wx' }));
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return bytes;
}

async function fileProgress(input: Input, label: string, json: boolean | undefined): Promise<Progress> {
  return input.size !== undefined && input.size >= FILE_PROGRESS_MIN_BYTES
    ? startProgress({ label, total: input.size, json, bytes: true })
    : { increment() {}, stop() {} };
}

export function registerFileCommands(program: Command): void {
  keyOptions(
    program
      .command('encrypt')
      .description(
        'encrypt a file under a path: as the owner, or as a writer with --dir-key (streams; stdin/stdout by default)',
      )
      .requiredOption('--path <path>', "the file's path in the owner's tree, e.g. /team/q3.pdf")
      .option('--in <file>', "the plaintext ('-' for stdin, the default)")
      .option('--out <file>', "the encrypted file ('-' for stdout, the default; never a terminal)")
      .option('--dir-key <file>', 'write as a writer with this directory-key record (from `thresh dir-key`)'),
  )
    .option('--json', 'print a summary as JSON (requires --out FILE)')
    .action(
      mapErrors(
        async (o: {
          path: string;
          in?: string;
          out?: string;
          dirKey?: string;
          as: string;
          passphraseFile?: string;
          json?: boolean;
        }) => {
          checkOutput(o.out, true);
          if (o.json && isStd(o.out))
            throw new CliError('--json needs --out FILE (stdout carries the file)', EXIT.usage);
          const dirKeyText = o.dirKey ? await readFile(o.dirKey, 'utf8') : undefined;
          const input = await openInput(o.in);
          const identity = await loadIdentity(o.as, o.passphraseFile);
          const { encryptFileAsWriter, verifyDirKey } = await import('@thresh/protocol');
          const { createClient } = await import('@thresh/client');
          const bar = await fileProgress(input, 'encrypting', o.json);
          const source = counted(input.source, bar);
          let enc: Awaited<ReturnType<ReturnType<typeof createClient>['encrypt']>>;
          let writerOf: string | undefined;
          if (dirKeyText !== undefined) {
            const bytes = new Uint8Array(Buffer.from(dirKeyText.trim(), 'base64'));
            const dirKey = verifyDirKey(bytes);
            writerOf = dirKey.directory;
            enc = encryptFileAsWriter(identity, dirKey, { path: o.path }, source);
          } else {
            // the owner's current epochs (a rotated directory's new key), from its local state
            const owner = createClient({ identity, stateDir: stateDirOf(o.as) });
            enc = await owner.encrypt({ path: o.path }, source);
          }
          let written: number;
          try {
            written = await writeOutput(o.out, enc.stream);
          } finally {
            bar.stop();
          }
          const summary = {
            path: enc.header.body.p,
            owner: identity.card.toString(),
            ...(writerOf ? { writer: identity.card.toString(), directory: writerOf } : {}),
            out: isStd(o.out) ? '-' : o.out,
            bytes: written,
          };
          if (o.json) printResult(true, summary, () => '');
          else
            info(
              `encrypted ${input.name} as ${summary.path} (${written} bytes${isStd(o.out) ? '' : ` -> ${o.out}`})`,
            );
        },
      ),
    );

  keyOptions(
    program
      .command('decrypt')
      .description(
        "decrypt a file with a grant (the grant string, or found in the DHT by the file's owner and path)",
      )
      .option('--in <file>', "the encrypted file ('-' for stdin, the default)")
      .option('--out <file>', "where the plaintext goes ('-' for stdout, the default)")
      .option('--grant <string>', 'the grant string the owner gave you')
      .option('--grant-file <file>', 'read the grant string from a file'),
  )
    .option(NETWORK_FLAG, NETWORK_HELP)
    .option('--json', 'print a summary (or, on failure, each node and why) as JSON (requires --out FILE)')
    .action(
      mapErrors(
        async (o: {
          in?: string;
          out?: string;
          grant?: string;
          grantFile?: string;
          as: string;
          passphraseFile?: string;
          network?: string;
          json?: boolean;
        }) => {
          if (o.grant && o.grantFile)
            throw new CliError('give --grant or --grant-file, not both', EXIT.usage);
          if (o.json && isStd(o.out))
            throw new CliError('--json needs --out FILE (stdout carries the plaintext)', EXIT.usage);
          let grant = o.grant?.trim();
          if (o.grantFile) grant = (await readFile(o.grantFile, 'utf8')).trim();
          await resolveBootstrap(o.network); // no network: say so before asking for a passphrase
          const input = await openInput(o.in);
          const reader = await loadIdentity(o.as, o.passphraseFile);
          const { createClient } = await import('@thresh/client');
          const { readFileHeader } = await import('@thresh/protocol');
          try {
            await withTransport(
              o.network,
              3,
              async (transport) => {
                const client = createClient({ identity: reader, transport, stateDir: stateDirOf(o.as) });
                let source: AsyncIterable<Uint8Array> = input.source;
                let plain: AsyncIterable<Uint8Array> | undefined;
                if (!grant) {
                  const r = replayable(input.source);
                  const opened = await readFileHeader(r.first);
                  if (opened.ownerCard.equals(reader.card)) {
                    // the owner's own file: opened with the path key, no network
                    const own = await client.openAsOwner(r.again());
                    for (const l of own.stale ? own.superseded : []) {
                      warn(
                        `warning: ${own.path} was ${own.writer ? `written by ${own.writer.fingerprint()} ` : ''}under epoch ${l.fileEpoch} of ${l.prefix}, which is at epoch ${l.currentEpoch}${l.rotatedAt ? ` since ${new Date(l.rotatedAt * 1000).toISOString()}` : ''}${l.writtenAfterRotation ? ' (after the rotation)' : ''}: ${own.writer ? `give the writer a new directory key (thresh dir-key --path ${l.prefix})` : 'it was encrypted with stale state'}`,
                      );
                    }
                    plain = own.plaintext;
                  } else {
                    source = r.again();
                  }
                }
                plain ??= await client.decryptStream(source, { grant });
                const bar = await fileProgress(input, 'decrypting', o.json);
                let written: number;
                try {
                  written = await writeOutput(o.out, counted(plain, bar));
                } finally {
                  bar.stop();
                }
                if (o.json)
                  printResult(true, { ok: true, in: input.name, out: o.out, bytes: written }, () => '');
                else info(`decrypted ${input.name} (${written} bytes${isStd(o.out) ? '' : ` -> ${o.out}`})`);
              },
              10_000,
            );
          } catch (e) {
            const err = e as {
              code?: string;
              name?: string;
              message?: string;
              path?: string;
              found?: number;
              needed?: number;
              failures?: unknown[];
            };
            if (o.json && typeof err?.code === 'string' && err.code.startsWith('ERR_')) {
              printResult(
                true,
                {
                  ok: false,
                  error: err.name,
                  code: err.code,
                  message: err.message,
                  ...(err.code === 'ERR_NOT_ENOUGH_FRAGMENTS'
                    ? { path: err.path, found: err.found, needed: err.needed, failures: err.failures }
                    : {}),
                },
                () => '',
              );
            }
            throw e;
          }
        },
      ),
    );

  keyOptions(
    program
      .command('dir-key')
      .description(
        'issue a directory-key record: lets a writer encrypt files below a directory without reading anything',
      )
      .requiredOption('--path <dir>', 'the directory, e.g. /team/in')
      .option('--writer <card>', "restrict it to this writer's card (thresh1...) or local key name")
      .option('--expires <duration>', 'lifetime: 30d, 12h, 90m, 3600s', '30d')
      .option('--out <file>', "where the record goes, as base64 text ('-' for stdout, the default)"),
  )
    .option('--json', 'machine-readable output (with --out FILE)')
    .action(
      mapErrors(
        async (o: {
          path: string;
          writer?: string;
          expires: string;
          out?: string;
          as: string;
          passphraseFile?: string;
          json?: boolean;
        }) => {
          const ttl = parseDuration(o.expires);
          const writer = o.writer ? await parseCardArg(o.writer, '--writer') : undefined;
          const owner = await loadIdentity(o.as, o.passphraseFile);
          const { createClient } = await import('@thresh/client');
          const now = Math.floor(Date.now() / 1000);
          // at the current epochs: after a rotation, a new record is what moves writers on
          const client = createClient({ identity: owner, stateDir: stateDirOf(o.as) });
          const dk = await client.issueDirKey(o.path, { expiresAt: now + ttl, writer, now });
          const text = `${Buffer.from(dk.bytes).toString('base64')}\n`;
          const summary = {
            directory: dk.directory,
            epochs: Object.fromEntries(dk.levels.map((l) => [l.prefix, l.epoch])),
            writer: writer?.toString() ?? null,
            expiresAt: dk.expiry,
            out: isStd(o.out) ? '-' : o.out,
          };
          if (isStd(o.out)) {
            if (o.json) printResult(true, { ...summary, record: text.trim() }, () => '');
            else process.stdout.write(text);
            return;
          }
          await writeFile(o.out as string, text, { mode: 0o600, flag: 'wx' }).catch(
            (e: NodeJS.ErrnoException) => {
              if (e.code === 'EEXIST') throw new CliError(`${o.out} exists: not overwriting it`);
              throw e;
            },
          );
          printResult(Boolean(o.json), summary, () =>
            [
              `directory key for ${dk.directory}${writer ? ` (writer ${writer.fingerprint()} only)` : ' (any holder)'} until ${new Date(dk.expiry * 1000).toISOString()} -> ${o.out}`,
              `the writer runs: thresh encrypt --dir-key ${o.out} --path ${dk.directory}/FILE --in FILE --out FILE.thresh`,
            ].join('\n'),
          );
        },
      ),
    );
}
