/** Tiny timing helpers shared by the benchmarks: medians over adaptive repetitions. */

export interface Timing {
  median: number; // milliseconds
  p99: number;
  runs: number;
}

/** Runs `fn` repeatedly for about `budgetMs` (at least `minRuns` times) after a warm-up. */
export function measure(fn: () => void, budgetMs = 400, minRuns = 15): Timing {
  const warmEnd = performance.now() + budgetMs / 4;
  let warm = 0;
  while (performance.now() < warmEnd || warm < 3) {
    fn();
    warm++;
  }
  const times: number[] = [];
  const end = performance.now() + budgetMs;
  while (performance.now() < end || times.length < minRuns) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return {
    median: times[times.length >> 1],
    p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))],
    runs: times.length,
  };
}

export function fmtMs(ms: number): string {
  return ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
