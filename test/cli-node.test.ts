/** The `thresh node` commands through the real binary: help, errors people can act on, status. */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeProcess, runCli } from './helpers/processes.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'thresh-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('thresh node', () => {
  it('has --help on every command', async () => {
    for (const args of [
      ['--help'],
      ['node', '--help'],
      ['node', 'init', '--help'],
      ['node', 'start', '--help'],
      ['node', 'status', '--help'],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: thresh/);
    }
    const bad = await runCli(['node', 'frobnicate']);
    expect(bad.code).toBe(2);
  });

  it('init writes 0600 secrets, refuses to overwrite, and start names a wrong passphrase (exit 3)', async () => {
    const d = join(dir, 'n1');
    const pf = join(dir, 'pass');
    await writeFile(pf, 'correct horse battery staple\n');
    const init = await runCli(['node', 'init', '--data-dir', d, '--passphrase-file', pf, '--json']);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout).card).toMatch(/^thresh1/);
    for (const f of ['identity.json', 'admin-token'])
      expect((await stat(join(d, f))).mode & 0o777).toBe(0o600);
    const again = await runCli(['node', 'init', '--data-dir', d, '--passphrase-file', pf]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/refusing to overwrite/);
    const wrong = await runCli(['node', 'start', '--data-dir', d], { THRESH_PASSPHRASE: 'not it' });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toMatch(/WrongPassphraseError/);
    const none = await runCli(['node', 'start', '--data-dir', d], { THRESH_PASSPHRASE: '' });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/passphrase/);
  });

  it('status asks a running node over its HTTP API, and says when it is not running', async () => {
    const d = join(dir, 'n2');
    expect((await runCli(['node', 'init', '--data-dir', d, '--generate-passphrase'])).code).toBe(0);
    const down = await runCli(['node', 'status', '--data-dir', d]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/not running/);
    const node = new NodeProcess(d, {});
    try {
      const rt = await node.start();
      const r = await runCli(['node', 'status', '--data-dir', d, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const status = JSON.parse(r.stdout);
      expect(status.peerId).toBe(rt.peerId);
      expect(status.version).toBe('0.1.0');
      expect(typeof status.policies).toBe('number');
      expect(await node.stop('SIGINT')).toBe(0);
    } finally {
      await node.kill();
    }
  });
});
