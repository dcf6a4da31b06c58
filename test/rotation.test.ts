/**
 * Rotation end to end (issue #7) against six real node processes: the collusion attack and how
 * `revoke --rotate` answers it (library), and the CLI's `revoke --rotate` while one of the
 * policy's nodes is down, `rotate --path`, `dir-key` and the owner's warning on a writer file
 * written under a superseded epoch.
 */

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClient,
  type Libp2pTransport,
  NotEnoughFragmentsError,
  NotGrantedError,
  type ThreshClient,
} from '@thresh/client';
import { readNodeCard } from '@thresh/node';
import {
  collect,
  decryptFileBody,
  Identity,
  levelIndex,
  nodeIdOf,
  policyType,
  readFileHeader,
  unwrapDekWithLevelKey,
} from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildLevelKey, stealKfrag } from './helpers/collusion.js';
import { askNode, hex, peerOf, pollUntil, readyTransport } from './helpers/faults.js';
import { type NodeProcess, ProcessCluster, runCli } from './helpers/processes.js';

const DAY = 86_400;
const cluster = new ProcessCluster();
/** Node id (hex) -> its process, and the fixed listen address it restarts on. */
const byId = new Map<string, NodeProcess>();
const listenOf = new Map<NodeProcess, string>();
const transports: Libp2pTransport[] = [];
const dirs: string[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function start(node: NodeProcess): Promise<void> {
  const first = cluster.nodes[0];
  const extra = ['--listen', listenOf.get(node)!];
  await node.start(node === first ? extra : [...extra, '--bootstrap', first.bootstrapAddr]);
}

const transport = () => readyTransport([cluster.nodes[0].bootstrapAddr], 5, transports);

beforeAll(async () => {
  const nodes = await cluster.init(6);
  for (const n of nodes) {
    listenOf.set(n, `/ip4/127.0.0.1/tcp/${await freePort()}`);
    byId.set(hex(nodeIdOf(await readNodeCard(n.dataDir))), n);
  }
  await start(nodes[0]);
  await Promise.all(nodes.slice(1).map((n) => start(n)));
  await cluster.waitForPeers(3, 60_000);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(transports.map((t) => t.close()));
  await cluster.cleanup();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}, 60_000);

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

async function failure<E>(p: Promise<unknown>, type: new (...a: never[]) => E): Promise<E> {
  const e = await p.then(
    () => expect.unreachable('expected a failure'),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(type);
  return e as E;
}

describe('rotation against real nodes', () => {
  it('collusion: a reader with m stolen kfrags opens old files; after revoke --rotate, not new ones, and the others read both', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'thresh-rotation-'));
    dirs.push(stateDir);
    const ownerId = Identity.generate();
    const [alice, bob, mallory] = [Identity.generate(), Identity.generate(), Identity.generate()];
    const owner = createClient({ identity: ownerId, transport: await transport(), stateDir });
    const grants: Record<string, string> = {};
    let malloryPolicy = '';
    let malloryNodes: string[] = [];
    for (const [name, id] of [
      ['alice', alice],
      ['bob', bob],
      ['mallory', mallory],
    ] as const) {
      const g = await owner.grant({ path: '/team', reader: id.card, threshold: 3, shares: 5, ttl: DAY });
      grants[name] = g.grantString;
      if (name === 'mallory') {
        malloryPolicy = g.policyId;
        malloryNodes = g.nodeIds.map(hex);
      }
    }
    const old = await collect(
      (await owner.encrypt({ path: '/team/old.txt' }, [text('the old plan')])).stream,
    );

    // Mallory and three of its policy's nodes collude: the nodes' stores, opened with their keys.
    const colluding = malloryNodes.slice(0, 3).map((id) => byId.get(id)!);
    await Promise.all(colluding.map((n) => n.stop()));
    const stolen = await Promise.all(
      colluding.map((n) => stealKfrag(n.dataDir, Buffer.from(malloryPolicy, 'hex'))),
    );
    await Promise.all(colluding.map((n) => start(n)));
    expect(stolen.every((k) => k instanceof Uint8Array)).toBe(true);
    const levelKey = rebuildLevelKey(mallory, stolen as Uint8Array[]);
    const openWith = async (file: Uint8Array) => {
      const opened = await readFileHeader([file]);
      const dek = unwrapDekWithLevelKey(opened.header, levelIndex(opened.header, 1), levelKey);
      return str(await collect(decryptFileBody(opened.header, dek, opened.body)));
    };
    // the attack works: every /team file of epoch 0 opens, without any node's help
    expect(await openWith(old)).toBe('the old plan');

    const r = await owner.revoke(malloryPolicy, { rotate: true });
    expect(r.accessGone).toBe(true);
    expect(r.rotation).toMatchObject({ path: '/team', from: 0, to: 1, done: true, failed: [] });
    expect(r.rotation.regranted.map((g) => g.reader).sort()).toEqual(
      [alice.card.toString(), bob.card.toString()].sort(),
    );

    const fresh = await collect(
      (await owner.encrypt({ path: '/team/new.txt' }, [text('the new plan')])).stream,
    );
    // the stolen key does not open a file written after the rotation
    await expect(openWith(fresh)).rejects.toThrow();

    // the other readers, with the grant strings they always had and fresh clients: old and new
    for (const [name, id] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      const reader: ThreshClient = createClient({ identity: id, transport: await transport() });
      expect(str(await reader.decrypt(old, { grant: grants[name] }))).toBe('the old plan');
      expect(str(await reader.decrypt(fresh, { grant: grants[name] }))).toBe('the new plan');
    }
    // mallory, through the network: neither
    const m = createClient({ identity: mallory, transport: await transport(), requestTimeoutMs: 5_000 });
    await failure(m.decrypt(fresh, { grant: grants.mallory }), NotGrantedError);
    const e = await failure(m.decrypt(old, { grant: grants.mallory }), NotEnoughFragmentsError);
    expect(e.reasons.filter((x) => x === 'revoked').length).toBeGreaterThanOrEqual(3);
  }, 240_000);

  it('CLI: revoke --rotate with a node down reports it; the node refuses after its restart; rotate --path; dir-key and the stale-writer warning', async () => {
    const home = await mkdtemp(join(tmpdir(), 'thresh-rotation-cli-'));
    dirs.push(home);
    const env = {
      THRESH_HOME: home,
      THRESH_PASSPHRASE: 'rotation test passphrase',
      THRESH_NETWORK: cluster.nodes.map((n) => n.bootstrapAddr).join(','),
    };
    const cli = async (args: string[]) => runCli(args, env, 120_000);
    const ok = async (args: string[]) => {
      const r = await cli(args);
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(0);
      return r;
    };
    const json = async <T>(args: string[]) => JSON.parse((await ok([...args, '--json'])).stdout) as T;
    const file = (name: string) => join(home, name);

    const cards: Record<string, string> = {};
    for (const name of ['owner', 'alice', 'mallory']) {
      cards[name] = (await json<{ card: string }>(['keys', 'new', '--name', name])).card;
    }
    await writeFile(file('old.txt'), 'old');
    await ok([
      'encrypt',
      '--as',
      'owner',
      '--path',
      '/proj/old.txt',
      '--in',
      file('old.txt'),
      '--out',
      file('old.thresh'),
    ]);
    const grant = async (to: string) =>
      json<{ policyId: string; nodeIds: string[]; grantString: string }>([
        'grant',
        '--as',
        'owner',
        '--path',
        '/proj',
        '--to',
        to,
        '--threshold',
        '3',
        '--shares',
        '5',
        '--expires',
        '1d',
      ]);
    const ga = await grant('alice');
    const gm = await grant('mallory');
    // a writer's directory key, issued before the rotation
    // a writer's directory key for /proj/in, issued at the owner's current epochs
    const dirKey = (out: string) =>
      json<{ epochs: Record<string, number> }>([
        'dir-key',
        '--as',
        'owner',
        '--path',
        '/proj/in',
        '--writer',
        'alice',
        '--out',
        file(out),
      ]);
    const dk0 = await dirKey('dk0');
    expect(dk0.epochs).toEqual({ '/': 0, '/proj': 0, '/proj/in': 0 });

    // one of mallory's nodes is down during the rotation (and not one of alice's, so her
    // old-epoch policy keeps all five nodes for the checks below)
    const downId = gm.nodeIds.find((id) => !ga.nodeIds.includes(id)) ?? gm.nodeIds[0];
    const down = byId.get(downId)!;
    await down.kill();
    const rr = await cli(['revoke', gm.policyId, '--rotate', '--as', 'owner', '--json']);
    expect(rr.code, rr.stderr).toBe(0);
    const out = JSON.parse(rr.stdout) as {
      accessGone: boolean;
      receipts: { nodeId: string; ok: boolean; reason?: string }[];
      rotation: { path: string; from: number; to: number; done: boolean; regranted: { reader: string }[] };
    };
    expect(out.accessGone).toBe(true);
    expect(out.receipts.filter((x) => !x.ok)).toEqual([
      expect.objectContaining({
        nodeId: downId,
        ok: false,
        reason: expect.stringMatching(/unreachable|timeout/),
      }),
    ]);
    expect(out.rotation).toMatchObject({ path: '/proj', from: 0, to: 1, done: true });
    expect(out.rotation.regranted.map((g) => g.reader)).toEqual([cards.alice]);
    const human = await cli(['policies', '--as', 'owner']);
    expect(human.stdout).toMatch(/active\s+\/proj \(epoch 1\)/);

    // the node comes back and refuses the revoked policy (it reads the revocation from the DHT)
    await start(down);
    const probe = await transport();
    const policyBytes = Buffer.from(gm.policyId, 'hex');
    const state = JSON.parse(await readFile(join(home, 'state', 'owner', 'policies.json'), 'utf8')) as {
      policies: { policyId: string; policy: string }[];
    };
    const signed = state.policies.find((p) => p.policyId === gm.policyId)!.policy;
    const hash = policyType.decode(new Uint8Array(Buffer.from(signed, 'base64'))).body.pathHash;
    const answer = await pollUntil(
      () => askNode(probe, peerOf(down), policyBytes, hash),
      (a) => a !== 'cfrag' && !a.startsWith('error'),
      45_000,
    );
    expect(['REVOKED', 'NOT_FOUND']).toContain(answer);

    // new files use epoch 1; alice decrypts old and new without a grant string (DHT), mallory neither
    await writeFile(file('new.txt'), 'new');
    await ok([
      'encrypt',
      '--as',
      'owner',
      '--path',
      '/proj/new.txt',
      '--in',
      file('new.txt'),
      '--out',
      file('new.thresh'),
    ]);
    for (const f of ['old', 'new']) {
      await ok(['decrypt', '--as', 'alice', '--in', file(`${f}.thresh`), '--out', file(`${f}.alice`)]);
      expect(await readFile(file(`${f}.alice`), 'utf8')).toBe(f);
      const bad = await cli([
        'decrypt',
        '--as',
        'mallory',
        '--in',
        file(`${f}.thresh`),
        '--out',
        file(`${f}.m`),
      ]);
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(
        f === 'new' ? /NotGrantedError/ : /NotGrantedError|NotEnoughFragmentsError|revoked/,
      );
    }

    // the writer still holds the epoch-0 record: the owner is warned when it opens the file
    await writeFile(file('w.txt'), 'from the writer');
    await ok([
      'encrypt',
      '--as',
      'alice',
      '--dir-key',
      file('dk0'),
      '--path',
      '/proj/in/w.txt',
      '--in',
      file('w.txt'),
      '--out',
      file('w.thresh'),
    ]);
    const opened = await ok(['decrypt', '--as', 'owner', '--in', file('w.thresh'), '--out', file('w.owner')]);
    expect(await readFile(file('w.owner'), 'utf8')).toBe('from the writer');
    expect(opened.stderr).toMatch(
      /warning: \/proj\/in\/w\.txt was written by .* under epoch 0 of \/proj, which is at epoch 1/,
    );
    expect(opened.stderr).toMatch(/thresh dir-key --path \/proj/);
    const dk1 = await dirKey('dk1');
    expect(dk1.epochs).toEqual({ '/': 0, '/proj': 1, '/proj/in': 0 });
    await ok([
      'encrypt',
      '--as',
      'alice',
      '--dir-key',
      file('dk1'),
      '--path',
      '/proj/in/w2.txt',
      '--in',
      file('w.txt'),
      '--out',
      file('w2.thresh'),
    ]);
    const quiet = await ok([
      'decrypt',
      '--as',
      'owner',
      '--in',
      file('w2.thresh'),
      '--out',
      file('w2.owner'),
    ]);
    expect(quiet.stderr).not.toMatch(/^warning:/m);
    expect(quiet.stderr).not.toMatch(/MaxListenersExceeded/); // kad-dht listeners on our query signals

    // scheduled rotation without a revocation: alice (one live policy per epoch) is re-granted once
    const rot = await json<{ from: number; to: number; done: boolean; regranted: { reader: string }[] }>([
      'rotate',
      '--as',
      'owner',
      '--path',
      '/proj',
    ]);
    expect(rot).toMatchObject({ from: 1, to: 2, done: true });
    expect(rot.regranted.map((g) => g.reader)).toEqual([cards.alice]);
    await writeFile(file('newer.txt'), 'newer');
    await ok([
      'encrypt',
      '--as',
      'owner',
      '--path',
      '/proj/newer.txt',
      '--in',
      file('newer.txt'),
      '--out',
      file('newer.thresh'),
    ]);
    await ok([
      'decrypt',
      '--as',
      'alice',
      '--in',
      file('newer.thresh'),
      '--out',
      file('newer.alice'),
      '--grant',
      ga.grantString,
    ]);
    expect(await readFile(file('newer.alice'), 'utf8')).toBe('newer');
  }, 300_000);
});
