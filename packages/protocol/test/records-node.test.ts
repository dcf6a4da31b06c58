/** Receipts, revocations, node records. */
import { describe, expect, it } from 'vitest';
import type { Identity } from '../src/identity/identity.js';
import {
  DecodeError,
  ExpiredError,
  InvalidArgumentError,
  NotYetValidError,
  SignatureError,
  TooLargeError,
  UnsupportedVersionError,
} from '../src/index.js';
import {
  decodeNodeRecord,
  decodeReceipt,
  decodeRevocation,
  isNewerNodeRecord,
  kfragId,
  MAX_NODE_ADDRS,
  makeNodeRecord,
  makeReceipt,
  makeRevocation,
  NODE_RECORD_MAX_BYTES,
  nodeCanHold,
  nodeIdOf,
  RECEIPT_MAX_BYTES,
  REVOCATION_MAX_BYTES,
  RecordMismatchError,
  TOMBSTONE_GRACE_SECONDS,
  tombstoneUntil,
  VerifiedNodeRecord,
  VerifiedRecord,
  verifyNodeRecord,
  verifyReceipt,
  verifyRevocation,
} from '../src/records/index.js';
import {
  DAY,
  expectThrow,
  fixture,
  forge,
  NOW,
  outcome,
  same,
  truncations,
  WRONG_VALUES,
} from './records-fixture.js';

const f = fixture();
const node = f.nodes[0];
const nodeId = f.nodeIds[0];
const kid = kfragId(f.kfrags[0]);

/** The shared part of every decoder's matrix. */
function commonMatrix(
  tag: string,
  valid: Uint8Array,
  body: Record<string, unknown>,
  signer: Identity,
  decode: (b: Uint8Array) => unknown,
  max: number,
  skipWrong: (field: string, bad: unknown) => boolean = () => false,
) {
  for (const t of truncations(valid)) expect(outcome(() => decode(t))).toBe('DecodeError');
  expectThrow(() => decode(new Uint8Array(max + 1)), TooLargeError);
  expectThrow(() => decode(forge(`${tag}x`, body, signer.signer)), DecodeError, /tag/);
  expectThrow(() => decode(forge(tag, body, signer.signer, 2)), UnsupportedVersionError);
  expect(outcome(() => decode(f.assignments[0].bytes))).toBe('DecodeError');
  for (const field of Object.keys(body)) {
    for (const bad of WRONG_VALUES) {
      if (skipWrong(field, bad)) continue;
      const b = forge(tag, { ...body, [field]: bad }, signer.signer);
      expect(
        outcome(() => decode(b)),
        `${field}=${String(bad)}`,
      ).toBe('DecodeError');
    }
    const { [field]: _, ...missing } = body;
    expect(
      outcome(() => decode(forge(tag, missing, signer.signer))),
      `missing ${field}`,
    ).toBe('DecodeError');
  }
}

describe('receipt', () => {
  const r = makeReceipt(node, { op: 'store', policyDigest: f.policy.digest(), kfragId: kid }, { now: NOW });

  it('round trip and verify', () => {
    expect(decodeReceipt(r.bytes).body).toEqual(r.body);
    expect(r.body).toEqual({ op: 'store', node: nodeId, policy: f.policy.digest(), kfrag: kid, time: NOW });
    const v = verifyReceipt(r.bytes, {
      now: NOW,
      op: 'store',
      nodeId,
      policyDigest: f.policy.digest(),
      kfragId: kid,
    });
    expect(v).toBeInstanceOf(VerifiedRecord);
    expect(same(v.bytes, r.bytes)).toBe(true);
    for (const op of ['revoke', 'handoff'] as const) {
      const o = makeReceipt(node, { op, policyDigest: f.policy.digest(), kfragId: kid }, { now: NOW });
      expect(verifyReceipt(o.bytes, { now: NOW }).body.op).toBe(op);
    }
  });

  it('malformed matrix', () => {
    commonMatrix('receipt', r.bytes, { ...r.body }, node, decodeReceipt, RECEIPT_MAX_BYTES);
    expect(outcome(() => decodeReceipt(forge('receipt', { ...r.body, op: 'stored' }, node.signer)))).toBe(
      'DecodeError',
    );
    expectThrow(
      () => makeReceipt(node, { op: 'delete' as never, policyDigest: f.policy.digest(), kfragId: kid }),
      InvalidArgumentError,
    );
    expectThrow(
      () => makeReceipt(node, { op: 'store', policyDigest: kid.slice(1), kfragId: kid }),
      InvalidArgumentError,
    );
  });

  it('signed by another key than the node id -> SignatureError', () => {
    expectThrow(
      () => verifyReceipt(forge('receipt', r.body, f.nodes[1].signer), { now: NOW }),
      SignatureError,
    );
    const b = r.bytes.slice();
    b[b.length - 3] ^= 0x10;
    expect(outcome(() => verifyReceipt(b, { now: NOW }))).toMatch(/SignatureError|DecodeError/);
  });

  it('from the future, and mismatches', () => {
    expectThrow(() => verifyReceipt(r.bytes, { now: NOW - 301 }), NotYetValidError);
    expect(verifyReceipt(r.bytes, { now: NOW - 300 })).toBeInstanceOf(VerifiedRecord);
    expectThrow(() => verifyReceipt(r.bytes, { now: NOW, op: 'revoke' }), RecordMismatchError);
    expectThrow(() => verifyReceipt(r.bytes, { now: NOW, nodeId: f.nodeIds[1] }), RecordMismatchError);
    expectThrow(() => verifyReceipt(r.bytes, { now: NOW, policyDigest: kid }), RecordMismatchError);
    expectThrow(() => verifyReceipt(r.bytes, { now: NOW, kfragId: f.policy.digest() }), RecordMismatchError);
  });
});

describe('revocation', () => {
  const rev = makeRevocation(f.owner, f.policy.body, { now: NOW + DAY });

  it('round trip and verify', () => {
    expect(decodeRevocation(rev.bytes).body).toEqual(rev.body);
    expect(rev.body).toEqual({
      owner: f.owner.card.bytes,
      policy: f.policy.body.id,
      expiry: f.policy.body.expiry,
      created: NOW + DAY,
    });
    const v = verifyRevocation(rev.bytes, { now: NOW + DAY, policy: f.policy.body, owner: f.owner.card });
    expect(v.body.policy).toEqual(f.policy.body.id);
    // Final: still valid long after the policy expired.
    expect(verifyRevocation(rev.bytes, { now: NOW + 1000 * DAY })).toBeInstanceOf(VerifiedRecord);
    expect(tombstoneUntil(rev.body)).toBe(f.policy.body.expiry + TOMBSTONE_GRACE_SECONDS);
    expect(tombstoneUntil(rev.body, f.policy.body.expiry + 5)).toBe(f.policy.body.expiry + 5 + DAY);
  });

  it('malformed matrix', () => {
    commonMatrix('revocation', rev.bytes, { ...rev.body }, f.owner, decodeRevocation, REVOCATION_MAX_BYTES);
    expectThrow(() => makeRevocation(f.stranger, f.policy.body), InvalidArgumentError);
    expectThrow(() => makeRevocation(f.owner, { id: new Uint8Array(15), expiry: NOW }), InvalidArgumentError);
  });

  it('wrong key, another policy, another owner, from the future', () => {
    expectThrow(
      () => verifyRevocation(forge('revocation', rev.body, f.stranger.signer), { now: NOW + DAY }),
      SignatureError,
    );
    const g = fixture();
    expectThrow(() => verifyRevocation(rev, { now: NOW + DAY, policy: g.policy.body }), RecordMismatchError);
    // The stranger revoking the owner's policy id under the stranger's own card.
    const squat = makeRevocation(f.stranger, { id: f.policy.body.id, expiry: NOW }, { now: NOW });
    expect(verifyRevocation(squat, { now: NOW })).toBeInstanceOf(VerifiedRecord);
    expectThrow(
      () => verifyRevocation(squat, { now: NOW, policy: f.policy.body }),
      RecordMismatchError,
      /owner/,
    );
    expectThrow(() => verifyRevocation(squat, { now: NOW, owner: f.owner.card }), RecordMismatchError);
    expectThrow(() => verifyRevocation(rev, { now: NOW }), NotYetValidError);
  });
});

describe('node record', () => {
  const init = {
    peer: '16Uiu2HAmExamplePeerIdOfFiftyThreeCharactersXXXXXXXXX',
    addrs: ['/ip4/127.0.0.1/tcp/4001', '/ip6/::1/tcp/4001'],
    maxLifetime: 90 * DAY,
    capacity: 10_000,
    version: '0.1.0',
    seq: 7,
    expiry: NOW + DAY,
  };
  const rec = makeNodeRecord(node, init);

  it('round trip and verify', () => {
    expect(decodeNodeRecord(rec.bytes).body).toEqual(rec.body);
    const v = verifyNodeRecord(rec.bytes, { now: NOW, nodeId });
    expect(v).toBeInstanceOf(VerifiedNodeRecord);
    expect(v.nodeId).toEqual(nodeId);
    expect(v.card.equals(node.card)).toBe(true);
    expect(v.body.addrs).toEqual(init.addrs);
  });

  it('malformed matrix, limits', () => {
    commonMatrix(
      'node-record',
      rec.bytes,
      { ...rec.body },
      node,
      decodeNodeRecord,
      NODE_RECORD_MAX_BYTES,
      (field, bad) =>
        // An empty array is a valid address list; any short string a valid peer id or version.
        (field === 'addrs' && Array.isArray(bad)) ||
        ((field === 'peer' || field === 'version') && bad === 'text'),
    );
    const tooMany = Array.from({ length: MAX_NODE_ADDRS + 1 }, (_, i) => `/ip4/10.0.0.${i}/tcp/1`);
    expect(
      outcome(() => decodeNodeRecord(forge('node-record', { ...rec.body, addrs: tooMany }, node.signer))),
    ).toBe('DecodeError');
    expectThrow(() => makeNodeRecord(node, { ...init, addrs: tooMany }), InvalidArgumentError);
    expectThrow(() => makeNodeRecord(node, { ...init, addrs: ['x'.repeat(257)] }), InvalidArgumentError);
    expectThrow(() => makeNodeRecord(node, { ...init, version: 'v'.repeat(65) }), InvalidArgumentError);
    expectThrow(() => makeNodeRecord(node, { ...init, seq: 2 ** 53 }), InvalidArgumentError);
    expectThrow(() => makeNodeRecord(node, { ...init, capacity: -1 }), InvalidArgumentError);
    const max = makeNodeRecord(node, {
      ...init,
      peer: 'p'.repeat(128),
      version: 'v'.repeat(64),
      addrs: Array.from({ length: 32 }, () => 'a'.repeat(256)),
    });
    expect(max.bytes.length).toBeLessThan(NODE_RECORD_MAX_BYTES);
  });

  it('wrong key, expired, another node', () => {
    expectThrow(
      () => verifyNodeRecord(forge('node-record', rec.body, f.nodes[1].signer), { now: NOW }),
      SignatureError,
    );
    expectThrow(() => verifyNodeRecord(rec, { now: NOW + DAY }), ExpiredError, /expired/);
    expect(verifyNodeRecord(rec, { now: NOW + DAY - 1 })).toBeInstanceOf(VerifiedNodeRecord);
    expectThrow(() => verifyNodeRecord(rec, { now: NOW, nodeId: f.nodeIds[1] }), RecordMismatchError);
  });

  it('isNewerNodeRecord and nodeCanHold', () => {
    const next = makeNodeRecord(node, { ...init, seq: 8 });
    expect(isNewerNodeRecord(next, rec)).toBe(true);
    expect(isNewerNodeRecord(rec, next)).toBe(false);
    expect(isNewerNodeRecord(rec, rec)).toBe(false);
    expect(isNewerNodeRecord(verifyNodeRecord(next, { now: NOW }), rec)).toBe(true);
    const other = makeNodeRecord(f.nodes[1], { ...init, seq: 100 });
    expectThrow(() => isNewerNodeRecord(other, rec), InvalidArgumentError);
    expectThrow(() => isNewerNodeRecord(f.policy as never, rec), InvalidArgumentError);
    const v = verifyNodeRecord(rec, { now: NOW });
    expect(nodeCanHold(v, NOW + 30 * DAY, { now: NOW })).toBe(true);
    expect(nodeCanHold(v, NOW + 91 * DAY, { now: NOW })).toBe(false);
    expect(nodeCanHold(v, NOW - 1, { now: NOW })).toBe(false);
    expect(nodeIdOf(node.card)).toEqual(nodeId);
  });
});
