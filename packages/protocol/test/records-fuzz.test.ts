/** Property tests: no input makes a record decoder or verifier throw anything but a ThreshError. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pack } from '../src/codec/index.js';
import {
  decodeAssignment,
  decodeGrant,
  decodeHandoffCertificate,
  decodeNodeRecord,
  decodePolicy,
  decodePolicyMap,
  decodeReceipt,
  decodeRevocation,
  kfragId,
  makeHandoffCertificate,
  makeNodeRecord,
  makeReceipt,
  makeRevocation,
  nodeIdOf,
  openAndVerifyKFrag,
  openGrant,
  openSealedMap,
  RECORD_TAGS,
  verifyAssignment,
  verifyHandoffCertificate,
  verifyNodeRecord,
  verifyPolicy,
  verifyPolicyMap,
  verifyReceipt,
  verifyRevocation,
} from '../src/records/index.js';
import { DAY, fixture, forge, NOW, outcome } from './records-fixture.js';

const f = fixture();
const policy = verifyPolicy(f.policy, { now: NOW });
const kid = kfragId(f.kfrags[0]);
const receipt = makeReceipt(
  f.nodes[0],
  { op: 'store', policyDigest: f.policy.digest(), kfragId: kid },
  { now: NOW },
);
const revocation = makeRevocation(f.owner, f.policy.body, { now: NOW });
const nodeRecord = makeNodeRecord(f.nodes[0], {
  peer: '16Uiu2HAmPeer',
  addrs: ['/ip4/127.0.0.1/tcp/4001'],
  maxLifetime: 90 * DAY,
  capacity: 100,
  version: '0.1.0',
  seq: 1,
  expiry: NOW + DAY,
});
const handoff = makeHandoffCertificate(
  f.nodes[0],
  { policyDigest: f.policy.digest(), kfragId: kid, to: nodeIdOf(f.stranger.card) },
  { now: NOW },
);
const sealedMap = decodeGrant(f.grant);

type Target = { name: string; valid: Uint8Array; run: (b: Uint8Array) => unknown };

const targets: Target[] = [
  { name: 'policy', valid: f.policy.bytes, run: (b) => verifyPolicy(decodePolicy(b), { now: NOW }) },
  {
    name: 'assignment',
    valid: f.assignments[0].bytes,
    run: (b) => verifyAssignment(decodeAssignment(b), policy),
  },
  {
    name: 'sealed-kfrag',
    valid: f.sealed[0],
    run: (b) =>
      openAndVerifyKFrag(b, f.nodes[0].encryptingKey, {
        expectedPolicyDigest: f.policy.digest(),
        expectedNodeId: f.nodeIds[0],
        ownerVerifyingKey: f.owner.card.signingKey,
        readerEncryptingKey: f.reader.card.encryptingKey,
      }),
  },
  { name: 'receipt', valid: receipt.bytes, run: (b) => verifyReceipt(decodeReceipt(b), { now: NOW }) },
  {
    name: 'revocation',
    valid: revocation.bytes,
    run: (b) => verifyRevocation(decodeRevocation(b), { now: NOW }),
  },
  {
    name: 'node-record',
    valid: nodeRecord.bytes,
    run: (b) => verifyNodeRecord(decodeNodeRecord(b), { now: NOW }),
  },
  {
    name: 'handoff',
    valid: handoff.bytes,
    run: (b) => verifyHandoffCertificate(decodeHandoffCertificate(b), { now: NOW }),
  },
  {
    name: 'policy-map',
    valid: f.map.bytes,
    run: (b) => verifyPolicyMap(decodePolicyMap(b), { reader: f.reader.card, now: NOW }),
  },
  { name: 'sealed-map', valid: sealedMap, run: (b) => openSealedMap(b, f.reader) },
];

/** A valid encoding with a few bytes flipped, inserted, deleted or cut. */
function mutated(valid: Uint8Array) {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 1, max: 255 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), v: fc.constant(0) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(), v: fc.constant(0) }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let b = valid.slice();
    for (const e of edits) {
      const at = e.at % Math.max(1, b.length);
      if (e.kind === 'flip') b[at] ^= e.v;
      else if (e.kind === 'insert') b = Uint8Array.from([...b.subarray(0, at), e.v, ...b.subarray(at)]);
      else if (e.kind === 'delete') b = Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + 1)]);
      else b = b.slice(0, at);
    }
    return b;
  });
}

const RUNS = 150;

describe('records: property tests', () => {
  for (const t of targets) {
    describe(t.name, () => {
      it('the valid encoding passes', () => {
        expect(outcome(() => t.run(t.valid))).toBe('ok');
      });

      it('random bytes only ever throw ThreshErrors', () => {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 1024 }), (b) => {
            expect(outcome(() => t.run(b))).not.toBe('ok');
          }),
          { numRuns: RUNS },
        );
      });

      it('mutations of the valid encoding only ever throw ThreshErrors', () => {
        fc.assert(
          fc.property(mutated(t.valid), (b) => {
            outcome(() => t.run(b));
          }),
          { numRuns: RUNS },
        );
      });

      it('random msgpack values, bare and in an envelope with the right tag, only throw ThreshErrors', () => {
        const tag = t.name === 'node-record' ? RECORD_TAGS.nodeRecord : t.name;
        fc.assert(
          fc.property(fc.anything({ maxDepth: 3, withTypedArray: true }), fc.boolean(), (v, signed) => {
            let b: Uint8Array;
            try {
              b = signed ? forge(tag, v, f.owner.signer) : pack([tag, 1, 0, v]);
            } catch {
              return; // msgpackr cannot encode some values (e.g. symbols): not our input
            }
            outcome(() => t.run(b));
            outcome(() => t.run(pack(v)));
          }),
          { numRuns: RUNS },
        );
      });
    });
  }

  describe('grant strings', () => {
    it('random strings and edits of a valid grant only ever throw ThreshErrors', () => {
      fc.assert(
        fc.property(fc.string({ maxLength: 300 }), (s) => {
          outcome(() => openGrant(s, f.reader, { now: NOW }));
          outcome(() => openGrant(`thresh-grant1${s}`, f.reader, { now: NOW }));
        }),
        { numRuns: RUNS },
      );
      fc.assert(
        fc.property(
          fc.nat(),
          fc.string({ minLength: 0, maxLength: 3 }),
          fc.nat({ max: 3 }),
          (at, ins, del) => {
            const i = at % f.grant.length;
            const g = f.grant.slice(0, i) + ins + f.grant.slice(i + del);
            const r = outcome(() => openGrant(g, f.reader, { now: NOW }));
            if (g.replace(/\s+/g, '') !== f.grant) expect(r).not.toBe('ok');
          },
        ),
        { numRuns: RUNS },
      );
    });
  });
});
