/**
 * `thresh keys | encrypt | dir-key | grant | decrypt | revoke | policies` (issue #5) as real
 * processes of the built binary against a local cluster of five real nodes (`thresh cluster up`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/processes.js';

let home: string;
let work: string;
const pids = new Set<number>();
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const PASS = 'correct horse battery staple';
const env = () => ({ THRESH_HOME: home, THRESH_PASSPHRASE: PASS, THRESH_NETWORK: '' });
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(args, { ...env(), ...extra }, 120_000);

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'thresh-cli-client-'));
  work = await mkdtemp(join(tmpdir(), 'thresh-cli-files-'));
  try {
    const up = await cli(['cluster', 'up', '--nodes', '5', '--detach', '--json']);
    const file = JSON.parse(await readFile(join(home, 'cluster.json'), 'utf8')) as {
      nodes: { pid: number }[];
    };
    for (const n of file.nodes) pids.add(n.pid);
    if (up.code !== 0) throw new Error(`cluster up failed: ${up.stderr}`);
  } catch (e) {
    throw new Error(`cluster up failed: ${(e as Error).message}`);
  }
}, 180_000);

afterAll(async () => {
  await cli(['cluster', 'down']).catch(() => undefined);
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(home, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
}, 60_000);

describe('thresh client commands', () => {
  it('--help works on every new command', async () => {
    const commands = [
      ['keys'],
      ['keys', 'new'],
      ['keys', 'card'],
      ['keys', 'list'],
      ['encrypt'],
      ['dir-key'],
      ['grant'],
      ['decrypt'],
      ['revoke'],
      ['rotate'],
      ['policies'],
    ];
    const results = await Promise.all(commands.map((c) => cli([...c, '--help'])));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Usage: thresh ${commands[i].join(' ')}`);
    });
  });

  let ownerCard: string;
  let readerCard: string;

  it('keys new makes two identities in one home, refuses to overwrite; card and list need no passphrase', async () => {
    const owner = await cli(['keys', 'new', '--name', 'owner', '--json']);
    expect(owner.code, owner.stderr).toBe(0);
    ownerCard = (JSON.parse(owner.stdout) as { card: string }).card;
    const reader = await cli(['keys', 'new', '--name', 'reader', '--json']);
    expect(reader.code, reader.stderr).toBe(0);
    readerCard = (JSON.parse(reader.stdout) as { card: string }).card;
    expect(ownerCard).toMatch(/^thresh1/);
    expect(readerCard).not.toBe(ownerCard);

    const again = await cli(['keys', 'new', '--name', 'owner']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);

    const card = await cli(['keys', 'card', '--name', 'reader', '--json'], { THRESH_PASSPHRASE: '' });
    expect(card.code, card.stderr).toBe(0);
    expect((JSON.parse(card.stdout) as { card: string }).card).toBe(readerCard);

    const list = await cli(['keys', 'list', '--json'], { THRESH_PASSPHRASE: '' });
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { name: string }[]).map((k) => k.name)).toEqual(['owner', 'reader']);
  });

  it('a wrong passphrase exits 3', async () => {
    await writeFile(join(work, 'small.txt'), 'x');
    const r = await cli(
      [
        'encrypt',
        '--as',
        'owner',
        '--path',
        '/team/x',
        '--in',
        join(work, 'small.txt'),
        '--out',
        join(work, 'x.thresh'),
      ],
      { THRESH_PASSPHRASE: 'not the passphrase' },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/WrongPassphraseError/);
  });

  it('encrypt, grant 3-of-5, decrypt, NotGrantedError outside the grant, revoke, decrypt fails with revoked', async () => {
    const plain = randomBytes(300_000);
    await writeFile(join(work, 'q3.pdf'), plain);
    await writeFile(join(work, 'other.txt'), 'not for the team');
    const enc = await cli([
      'encrypt',
      '--as',
      'owner',
      '--path',
      '/team/q3.pdf',
      '--in',
      join(work, 'q3.pdf'),
      '--out',
      join(work, 'q3.thresh'),
    ]);
    expect(enc.code, enc.stderr).toBe(0);
    const outside = await cli([
      'encrypt',
      '--as',
      'owner',
      '--path',
      '/elsewhere/other.txt',
      '--in',
      join(work, 'other.txt'),
      '--out',
      join(work, 'other.thresh'),
    ]);
    expect(outside.code, outside.stderr).toBe(0);

    const grant = await cli([
      'grant',
      '--as',
      'owner',
      '--path',
      '/team',
      '--to',
      readerCard,
      '--threshold',
      '3',
      '--shares',
      '5',
      '--expires',
      '1d',
      '--json',
    ]);
    expect(grant.code, grant.stderr).toBe(0);
    const g = JSON.parse(grant.stdout) as { policyId: string; nodeIds: string[]; grantString: string };
    expect(g.policyId).toMatch(/^[0-9a-f]{32}$/);
    expect(g.nodeIds).toHaveLength(5);
    for (const id of g.nodeIds) expect(id).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(g.grantString).toMatch(/^thresh-grant1/);

    const policies = await cli(['policies', '--as', 'owner', '--json'], { THRESH_PASSPHRASE: '' });
    expect(policies.code, policies.stderr).toBe(0);
    expect(JSON.parse(policies.stdout)).toEqual([
      expect.objectContaining({ policyId: g.policyId, status: 'active', path: '/team' }),
    ]);

    // the reader names the network explicitly (as on another machine sharing the cluster file)
    const network = join(home, 'cluster.json');
    const dec = await cli([
      'decrypt',
      '--as',
      'reader',
      '--network',
      network,
      '--in',
      join(work, 'q3.thresh'),
      '--out',
      join(work, 'q3.out'),
      '--grant',
      g.grantString,
    ]);
    expect(dec.code, dec.stderr).toBe(0);
    expect(Buffer.compare(await readFile(join(work, 'q3.out')), plain)).toBe(0);

    const notGranted = await cli([
      'decrypt',
      '--as',
      'reader',
      '--in',
      join(work, 'other.thresh'),
      '--out',
      join(work, 'other.out'),
      '--grant',
      g.grantString,
    ]);
    expect(notGranted.code).not.toBe(0);
    expect(notGranted.stderr).toMatch(/NotGrantedError/);
    await expect(readFile(join(work, 'other.out'))).rejects.toThrow();

    const revoke = await cli(['revoke', '--as', 'owner', g.policyId, '--json']);
    expect(revoke.code, revoke.stderr).toBe(0);
    const rv = JSON.parse(revoke.stdout) as { accessGone: boolean; receipts: { ok: boolean }[] };
    expect(rv.accessGone).toBe(true);
    expect(rv.receipts).toHaveLength(5);

    const after = await cli([
      'decrypt',
      '--as',
      'reader',
      '--in',
      join(work, 'q3.thresh'),
      '--out',
      join(work, 'q3.again'),
      '--grant',
      g.grantString,
      '--json',
    ]);
    expect(after.code).toBe(4);
    expect(after.stderr).toMatch(/NotEnoughFragmentsError/);
    const failure = JSON.parse(after.stdout) as {
      ok: boolean;
      error: string;
      failures: { reason: string }[];
    };
    expect(failure.ok).toBe(false);
    expect(failure.error).toBe('NotEnoughFragmentsError');
    expect(failure.failures.length).toBeGreaterThanOrEqual(3);
    expect(failure.failures.every((f) => f.reason === 'revoked')).toBe(true);
    await expect(readFile(join(work, 'q3.again'))).rejects.toThrow();
  }, 240_000);

  it('without a network, a network command exits 4 and says how to get one', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'thresh-cli-empty-'));
    try {
      const r = await runCli(['grant', '--as', 'owner', '--path', '/team', '--to', readerCard], {
        THRESH_HOME: empty,
        THRESH_NETWORK: '',
        THRESH_PASSPHRASE: PASS,
      });
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/no network: start one with `thresh cluster up` or pass --network/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
