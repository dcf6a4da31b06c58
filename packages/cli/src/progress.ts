/**
 * Progress bars on stderr (cli-progress), for files over a few MB and for operations that talk
 * to several nodes. Only when stderr is a TTY and not in --json mode: scripts and pipes never
 * see them.
 */

/** The part of cli-progress used here (@types/cli-progress is not a dependency). */
interface Bar {
  start(total: number, start: number, payload?: Record<string, unknown>): void;
  increment(step?: number): void;
  update(value: number): void;
  stop(): void;
}
interface CliProgressModule {
  SingleBar: new (opts: Record<string, unknown>, preset?: unknown) => Bar;
  Presets: { shades_classic: unknown };
}

export interface Progress {
  increment(step?: number): void;
  stop(): void;
}

const noop: Progress = { increment() {}, stop() {} };

/** Files at least this large get a bar. */
export const FILE_PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

export function progressWanted(json: boolean | undefined): boolean {
  return !json && Boolean(process.stderr.isTTY);
}

/**
 * A bar of `total` steps labelled `label`, or a no-op when bars are not wanted. `bytes` shows
 * the counts in MiB.
 */
export async function startProgress(opts: {
  label: string;
  total: number;
  json?: boolean;
  bytes?: boolean;
}): Promise<Progress> {
  if (!progressWanted(opts.json) || opts.total <= 0) return noop;
  let mod: CliProgressModule;
  try {
    const name = 'cli-progress';
    const imported = (await import(name)) as { default?: CliProgressModule } & CliProgressModule;
    mod = imported.default ?? imported;
  } catch {
    return noop;
  }
  const format = opts.bytes
    ? `${opts.label} [{bar}] {percentage}% | {done}/{all} MiB`
    : `${opts.label} [{bar}] {value}/{total}`;
  const bar = new mod.SingleBar(
    { format, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    mod.Presets.shades_classic,
  );
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1);
  let value = 0;
  bar.start(opts.total, 0, opts.bytes ? { done: mib(0), all: mib(opts.total) } : {});
  let stopped = false;
  return {
    increment(step = 1) {
      if (stopped) return;
      value += step;
      if (opts.bytes) {
        (bar as unknown as { update(v: number, p: Record<string, unknown>): void }).update(
          Math.min(value, opts.total),
          { done: mib(value), all: mib(opts.total) },
        );
      } else bar.increment(step);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}

/** Passes `source` through, counting its bytes into `progress`. */
export async function* counted(
  source: AsyncIterable<Uint8Array>,
  progress: Progress,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of source) {
    progress.increment(chunk.length);
    yield chunk;
  }
}
