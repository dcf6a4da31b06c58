/**
 * Which file runs `thresh`: the single-file bundle (dist/thresh.mjs, packages/cli/build-bundle.mjs)
 * when it is there and newer than every compiled module it was made from, else dist/bin.js.
 * `cluster up` spawns its nodes with it, and so do the tests and benchmarks that start real
 * node processes: a bundled process starts in a fraction of the time (one file to parse instead
 * of ~1,500 ES modules). A stale bundle (tsc ran, the bundle step did not) is never used.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE_FILE = 'thresh.mjs';
/** The bundled crypto worker, built with the bundle. */
export const BUNDLE_WORKER_FILE = 'thresh-worker.mjs';

/** The bundle in `cliDist` if fresh, else `cliDist`/bin.js. */
export function cliEntryIn(cliDist: string): string {
  const bin = join(cliDist, 'bin.js');
  const bundle = join(cliDist, BUNDLE_FILE);
  const outputs = new Set([bundle, join(cliDist, BUNDLE_WORKER_FILE)]);
  try {
    const built = Math.min(...[...outputs].map((f) => statSync(f).mtimeMs));
    const packages = dirname(dirname(cliDist));
    for (const pkg of readdirSync(packages)) {
      if (newestJs(join(packages, pkg, 'dist'), outputs) > built) return bin;
    }
    return bundle;
  } catch {
    return bin;
  }
}

/** The entry this very process should spawn to run `thresh` again. */
export function cliEntry(): string {
  const here = fileURLToPath(import.meta.url);
  if (basename(here) === BUNDLE_FILE) return here; // running bundled: the same file
  return cliEntryIn(dirname(here));
}

function newestJs(dir: string, skip: ReadonlySet<string>): number {
  let newest = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestJs(p, skip));
    else if (!skip.has(p) && (e.name.endsWith('.js') || e.name.endsWith('.mjs'))) {
      newest = Math.max(newest, statSync(p).mtimeMs);
    }
  }
  return newest;
}

/**
 * Niceness of the nodes after node-0 (`thresh cluster up --follower-niceness`; the cluster
 * benchmark starts its nodes the same way). Every node bootstraps off node-0
 * and starts at once; on a machine with few cores node-0 then got a 1/n share of the CPU while
 * n-1 others dialled it and asked it for peers, its handshakes timed out and were retried. At a
 * lower priority the followers still use every idle cycle. Measured with 50 nodes on 2 cores
 * (bench:cluster): every node had a peer 44 s after the first spawn against 71 s at the same
 * priority, and the cluster served its first grant + decrypt at 71 s against 97 s.
 */
export const FOLLOWER_NICENESS = 10;
