/**
 * Issue #6's fault test "Decommission a node holding kfrags of several policies: decrypt works
 * afterwards through the replacement", with six real node processes and the client library:
 * three 3-of-3 policies of different readers all include node 0 (so no decrypt can do without
 * node 0's kfrag); `thresh node decommission` hands all three over and stops node 0; each
 * reader, holding the grant string it was given before (its map names node 0), decrypts
 * through the replacement, which its client finds through the handoff published in the DHT.
 */
import { createClient, type Libp2pTransport } from '@thresh/client';
import { collect, encryptFile, Identity } from '@thresh/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hex, nodeIdOfPeer, peerOf, pollUntil, readyTransport } from './helpers/faults.js';
import { ProcessCluster, runCli } from './helpers/processes.js';

const cluster = new ProcessCluster();
const transports: Libp2pTransport[] = [];

const transport = () => readyTransport([cluster.nodes[1].bootstrapAddr], 5, transports);

beforeAll(async () => {
  await cluster.init(6);
  await cluster.startAll();
  await cluster.waitForPeers(3, 60_000);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(transports.map((t) => t.close()));
  await cluster.cleanup();
}, 60_000);

describe('decommission of a node holding several policies (real processes)', () => {
  it('every policy is handed over, and every reader decrypts through the replacement', async () => {
    const t = await transport();
    const owner = createClient({ identity: Identity.generate(), transport: t });
    const peers = cluster.nodes.map(peerOf);
    const ids = await Promise.all(peers.map((p) => nodeIdOfPeer(t, p)));
    const pinned = [
      [0, 1, 2],
      [0, 3, 4],
      [0, 2, 5],
    ];
    const cases = [];
    for (const [i, set] of pinned.entries()) {
      const reader = Identity.generate();
      const g = await owner.grant({
        path: `/p${i}`,
        reader: reader.card,
        threshold: 3,
        shares: 3,
        ttl: 3600,
        nodes: set.map((k) => peers[k]),
      });
      expect(g.nodeIds.map(hex).sort()).toEqual(set.map((k) => ids[k]).sort());
      const text = `policy ${i}`;
      const file = await collect(
        encryptFile(owner.identity, { path: `/p${i}/doc` }, [new TextEncoder().encode(text)]).stream,
      );
      cases.push({ reader, grant: g.grantString, file, text });
    }

    const n0 = cluster.nodes[0];
    const r = await runCli(['node', 'decommission', '--data-dir', n0.dataDir, '--json'], {}, 120_000);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ handedOver: 3, failed: [], exited: true });
    await pollUntil(
      async () => n0.exitCode,
      (code) => code !== undefined,
      15_000,
    );
    expect(n0.exitCode, n0.stderr).toBe(0);

    for (const c of cases) {
      const logs: string[] = [];
      const reader = createClient({
        identity: c.reader,
        transport: await transport(),
        requestTimeoutMs: 5_000,
        log: (_level, message) => logs.push(message),
      });
      expect(new TextDecoder().decode(await reader.decrypt(c.file, { grant: c.grant }))).toBe(c.text);
      expect(logs).toContain('following a handoff');
    }
  }, 240_000);
});
