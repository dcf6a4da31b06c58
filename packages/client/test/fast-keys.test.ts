/**
 * `@thresh/client/fast-keys`: loaded before libp2p (with `--import`, or imported before
 * @thresh/client is), it hands @libp2p/crypto's secp256k1 work to the fast module; loaded after,
 * it changes nothing. Each case runs in a fresh node process (the hook is per process), on the
 * built package (`npm test` builds first).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const probe = fileURLToPath(new URL('./fixtures/fast-keys-probe.mjs', import.meta.url));

async function run(...args: string[]) {
  const { stdout } = await promisify(execFile)(process.execPath, args, { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, boolean>;
}

const works = { verifies: true, tamperedVerifies: false, samePeer: true, rawRoundTrip: true };

describe('@thresh/client/fast-keys', () => {
  it('with --import, libp2p keys go through libsecp256k1 and give the same answers', async () => {
    expect(await run('--import', '@thresh/client/fast-keys', probe)).toEqual({ inUse: true, ...works });
  });

  it('imported before libp2p is loaded, it applies too', async () => {
    expect(await run(probe)).toEqual({ inUse: true, ...works });
  });

  it('imported after libp2p is loaded, keys stay on noble, and everything still works', async () => {
    expect(await run(probe, 'late')).toEqual({ inUse: false, ...works });
  });
});
