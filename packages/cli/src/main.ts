import { Command, CommanderError } from 'commander';
import { registerClientCommands } from './commands/client.js';
import { registerClusterCommands } from './commands/cluster.js';
import { registerNodeCommands } from './commands/node.js';
import { CliError, EXIT } from './errors.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('thresh')
    .description('thresh: threshold proxy re-encryption. Run nodes, encrypt, grant, decrypt, revoke.')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  registerNodeCommands(program);
  registerClusterCommands(program);
  registerClientCommands(program);
  return program;
}

/** Runs the CLI; resolves with the exit code (long-running commands keep the process alive). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof CliError) {
      process.stderr.write(`thresh: ${e.message}\n`);
      return e.exitCode;
    }
    const coded = e as { name?: string; code?: unknown; message?: string };
    if (typeof coded?.code === 'string' && coded.code.startsWith('ERR_')) {
      // A typed error of the thresh packages (checked by its code, so nothing heavy is loaded
      // just to print --help).
      process.stderr.write(`thresh: ${coded.name}: ${coded.message}\n`);
      return coded.code === 'ERR_WRONG_PASSPHRASE' || coded.code === 'ERR_CORRUPT_KEY_FILE'
        ? EXIT.key
        : EXIT.failure;
    }
    const err = e as Error & { code?: string };
    process.stderr.write(
      `thresh: ${err?.name === 'Error' ? '' : `${err?.name}: `}${err?.message ?? String(e)}\n`,
    );
    return EXIT.failure;
  }
}
