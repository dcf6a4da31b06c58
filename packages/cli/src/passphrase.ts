import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CliError, EXIT } from './errors.js';

/**
 * Passphrases come from THRESH_PASSPHRASE, a --passphrase-file, or a prompt on a TTY: never a
 * command-line argument (it would sit in shell history and `ps`).
 */
export async function getPassphrase(opts: {
  passphraseFile?: string;
  prompt?: string;
  confirm?: boolean;
  optional?: boolean;
}): Promise<string | undefined> {
  if (opts.passphraseFile) {
    const text = (await readFile(opts.passphraseFile, 'utf8')).replace(/\r?\n$/, '');
    if (!text) throw new CliError(`${opts.passphraseFile} is empty`, EXIT.usage);
    return text;
  }
  const env = process.env.THRESH_PASSPHRASE;
  if (env) return env;
  if (!process.stdin.isTTY) {
    if (opts.optional) return undefined;
    throw new CliError('a passphrase is needed: set THRESH_PASSPHRASE or use --passphrase-file', EXIT.usage);
  }
  const first = await prompt(opts.prompt ?? 'Passphrase: ');
  if (opts.confirm && (await prompt('Again: ')) !== first) {
    throw new CliError('the passphrases differ', EXIT.usage);
  }
  if (!first) throw new CliError('an empty passphrase is not allowed', EXIT.usage);
  return first;
}

/** Reads a line from the TTY without echoing it. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput?: (s: string) => void };
    process.stderr.write(question);
    out._writeToOutput = () => {};
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}
