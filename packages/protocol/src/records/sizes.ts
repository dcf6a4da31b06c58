/**
 * Encoded sizes of every record for a realistic 3-of-5 grant, for docs/PROTOCOL.md and
 * capacity planning. Builds fresh identities and kfrags each call (nothing at import).
 */
import { Identity } from '../identity/identity.js';
import { SecretKey } from '../umbral/keys.js';
import { generateKFrags } from '../umbral/pre.js';
import { makeAssignments } from './assignment.js';
import { kfragId, kfragPrecursor, nodeIdOf } from './common.js';
import { makeHandoffCertificate } from './handoff.js';
import { makeNodeRecord } from './node-record.js';
import { makePolicy } from './policy.js';
import { makePolicyMap, sealPolicyMap } from './policy-map.js';
import { makeReceipt } from './receipt.js';
import { makeRevocation } from './revocation.js';
import { sealKFrag } from './sealed-kfrag.js';

export interface RecordSizes {
  /** Bytes of each encoded object (characters for `grantChars`). */
  readonly [name: string]: number;
}

/** Sizes for an m-of-n policy (default 3-of-5) granted on "/projects/x", valid 30 days. */
export function recordSizes(threshold = 3, shares = 5): RecordSizes {
  const now = 1_767_225_600; // 2026-01-01T00:00:00Z: 5-byte msgpack uint, like any current time
  const owner = Identity.generate();
  const reader = Identity.generate();
  const nodes = Array.from({ length: shares }, () => Identity.generate());
  const levelKey = SecretKey.random();
  const kfrags = generateKFrags(
    levelKey,
    reader.card.encryptingKey,
    owner.signer,
    threshold,
    shares,
    false,
    true,
  );
  const policy = makePolicy(
    owner,
    {
      reader: reader.card,
      pathHash: new Uint8Array(32).fill(7),
      epoch: 0,
      threshold,
      shares,
      expiry: now + 30 * 86400,
      precursor: kfragPrecursor(kfrags[0]),
      nodeIds: nodes.map((n) => nodeIdOf(n.card)),
    },
    { now },
  );
  const assignments = makeAssignments(owner, policy, kfrags);
  const nodeId0 = nodeIdOf(nodes[0].card);
  const sealed = sealKFrag(kfrags[0], policy.digest(), nodeId0, nodes[0].card.encryptingKey);
  const receipt = makeReceipt(
    nodes[0],
    { op: 'store', policyDigest: policy.digest(), kfragId: kfragId(kfrags[0]) },
    { now },
  );
  const revocation = makeRevocation(owner, policy.body, { now });
  const nodeRecord = makeNodeRecord(nodes[0], {
    peer: `16Uiu2HAm${'x'.repeat(44)}`, // a secp256k1 PeerId is 53 characters
    addrs: [
      '/ip4/203.0.113.7/tcp/4001',
      '/ip4/203.0.113.7/udp/4001/quic-v1',
      '/dns4/node1.example.org/tcp/443/wss',
    ],
    maxLifetime: 365 * 86400,
    capacity: 1_000_000,
    version: '0.1.0',
    seq: now,
    expiry: now + 36 * 3600,
  });
  const replacement = Identity.generate();
  const handoff = makeHandoffCertificate(
    nodes[0],
    { policyDigest: policy.digest(), kfragId: kfragId(kfrags[0]), to: nodeIdOf(replacement.card) },
    { now },
  );
  const map = makePolicyMap(
    owner,
    { policy, assignments, levelKey: levelKey.publicKey(), prefix: '/projects/x' },
    { now },
  );
  const mapWithHandoff = makePolicyMap(
    owner,
    { policy, assignments, levelKey: levelKey.publicKey(), prefix: '/projects/x', handoffs: [handoff] },
    { now },
  );
  const sealedMap = sealPolicyMap(map, reader.card);
  // base64 without padding, plus prefix and checksum (see policy-map.ts encodeGrant).
  const grantChars = 'thresh-grant1'.length + Math.ceil(((sealedMap.length + 4) * 4) / 3);
  return {
    card: owner.card.bytes.length,
    policy: policy.bytes.length,
    assignment: assignments[0].bytes.length,
    sealedKFrag: sealed.length,
    receipt: receipt.bytes.length,
    revocation: revocation.bytes.length,
    nodeRecord: nodeRecord.bytes.length,
    handoff: handoff.bytes.length,
    policyMap: map.bytes.length,
    policyMapWithOneHandoff: mapWithHandoff.bytes.length,
    sealedMap: sealedMap.length,
    grantChars,
  };
}
