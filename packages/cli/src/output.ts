/** The CLI's only writers: results to stdout (JSON in --json mode), everything else to stderr. */
export function printResult(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

export function info(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A warning: stderr, also in --json mode (stdout stays the result). */
export function warn(message: string): void {
  process.stderr.write(`${message}\n`);
}
