/**
 * Exit codes of the `thresh` command (docs/CLI.md):
 *   0 success; 1 failure (the message says why); 2 usage error (bad flags or arguments);
 *   3 wrong passphrase or unreadable key; 4 network: not enough nodes answered, nothing reachable.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, key: 3, network: 4 } as const;

/** An error the CLI reports as a message and an exit code, without a stack trace. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}
