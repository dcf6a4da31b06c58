import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/identity.js';
import {
  DecodeError,
  InvalidArgumentError,
  NotYetValidError,
  SignatureError,
  TooLargeError,
  UnsupportedVersionError,
} from '../src/index.js';
import {
  decodeHandoffCertificate,
  HANDOFF_MAX_BYTES,
  kfragId,
  MAX_HANDOFF_CHAIN,
  makeHandoffCertificate,
  nodeIdOf,
  RecordMismatchError,
  resolveHandoffs,
  VerifiedRecord,
  verifyAssignment,
  verifyHandoffCertificate,
  verifyHandoffChain,
  verifyPolicy,
} from '../src/records/index.js';
import { expectThrow, fixture, forge, NOW, outcome, truncations, WRONG_VALUES } from './records-fixture.js';

const f = fixture();
const policy = verifyPolicy(f.policy, { now: NOW });
const a0 = verifyAssignment(f.assignments[0], policy);
const kid = kfragId(f.kfrags[0]);
const digest = f.policy.digest();
const B = Identity.generate();
const C = Identity.generate();
const idB = nodeIdOf(B.card);
const idC = nodeIdOf(C.card);
const ab = makeHandoffCertificate(
  f.nodes[0],
  { policyDigest: digest, kfragId: kid, to: idB },
  { now: NOW + 10 },
);
const bc = makeHandoffCertificate(B, { policyDigest: digest, kfragId: kid, to: idC }, { now: NOW + 20 });

describe('handoff certificate', () => {
  it('round trip and verify', () => {
    expect(decodeHandoffCertificate(ab.bytes).body).toEqual({
      policy: digest,
      kfrag: kid,
      from: f.nodeIds[0],
      to: idB,
      time: NOW + 10,
    });
    expect(verifyHandoffCertificate(ab.bytes, { now: NOW })).toBeInstanceOf(VerifiedRecord);
  });

  it('malformed matrix', () => {
    const body = { ...ab.body };
    for (const t of truncations(ab.bytes))
      expect(outcome(() => decodeHandoffCertificate(t))).toBe('DecodeError');
    expectThrow(() => decodeHandoffCertificate(new Uint8Array(HANDOFF_MAX_BYTES + 1)), TooLargeError);
    expectThrow(() => decodeHandoffCertificate(forge('handof', body, f.nodes[0].signer)), DecodeError, /tag/);
    expectThrow(
      () => decodeHandoffCertificate(forge('handoff', body, f.nodes[0].signer, 3)),
      UnsupportedVersionError,
    );
    expect(outcome(() => decodeHandoffCertificate(f.assignments[0].bytes))).toBe('DecodeError');
    for (const field of Object.keys(body)) {
      for (const bad of WRONG_VALUES) {
        const b = forge('handoff', { ...body, [field]: bad }, f.nodes[0].signer);
        expect(
          outcome(() => decodeHandoffCertificate(b)),
          `${field}=${String(bad)}`,
        ).toBe('DecodeError');
      }
    }
    // to == from
    expect(
      outcome(() =>
        decodeHandoffCertificate(forge('handoff', { ...body, to: body.from }, f.nodes[0].signer)),
      ),
    ).toBe('DecodeError');
    expectThrow(
      () => makeHandoffCertificate(f.nodes[0], { policyDigest: digest, kfragId: kid, to: f.nodeIds[0] }),
      InvalidArgumentError,
    );
  });

  it('wrong key, from the future', () => {
    expectThrow(
      () => verifyHandoffCertificate(forge('handoff', ab.body, B.signer), { now: NOW }),
      SignatureError,
    );
    expectThrow(() => verifyHandoffCertificate(ab, { now: NOW - 400 }), NotYetValidError);
  });
});

describe('handoff chain', () => {
  it('assignment -> A -> B -> C', () => {
    const chain = verifyHandoffChain({
      policy,
      assignment: a0,
      certificates: [ab.bytes, bc],
      finalNodeId: idC,
      now: NOW + 30,
    });
    expect(chain.holders).toEqual([f.nodeIds[0], idB, idC]);
    expect(chain.holder).toEqual(idC);
    expect(chain.certificates).toHaveLength(2);
    // An empty chain ends at the assigned node; the assignment may come as bytes.
    expect(
      verifyHandoffChain({
        policy,
        assignment: f.assignments[0].bytes,
        certificates: [],
        finalNodeId: f.nodeIds[0],
      }).holder,
    ).toEqual(f.nodeIds[0]);
  });

  it('broken links', () => {
    const run = (certificates: unknown[], finalNodeId = idC, assignment: unknown = a0) =>
      verifyHandoffChain({ policy, assignment, certificates, finalNodeId, now: NOW + 30 } as never);
    // Out of order, missing link, wrong final node.
    expectThrow(() => run([bc, ab]), RecordMismatchError, /holder/);
    expectThrow(() => run([bc]), RecordMismatchError, /holder/);
    expectThrow(() => run([ab]), RecordMismatchError, /ends at/);
    // A certificate by a node that is not the holder, though correctly signed by itself.
    const byC = makeHandoffCertificate(C, { policyDigest: digest, kfragId: kid, to: idB }, { now: NOW + 10 });
    expectThrow(() => run([byC], idB), RecordMismatchError);
    // Claims to be from A but signed by B.
    expectThrow(() => run([forge('handoff', ab.body, B.signer)], idB), SignatureError);
    // Another policy, another kfrag.
    const g = fixture();
    const otherPolicy = makeHandoffCertificate(
      f.nodes[0],
      { policyDigest: g.policy.digest(), kfragId: kid, to: idB },
      { now: NOW },
    );
    expectThrow(() => run([otherPolicy], idB), RecordMismatchError, /policy/);
    const otherKFrag = makeHandoffCertificate(
      f.nodes[0],
      { policyDigest: digest, kfragId: kfragId(f.kfrags[1]), to: idB },
      { now: NOW },
    );
    expectThrow(() => run([otherKFrag], idB), RecordMismatchError, /kfrag/);
    // To a designated node (would hold two shares), back to an earlier holder.
    const toDesignated = makeHandoffCertificate(
      f.nodes[0],
      { policyDigest: digest, kfragId: kid, to: f.nodeIds[1] },
      { now: NOW },
    );
    expectThrow(() => run([toDesignated], f.nodeIds[1]), RecordMismatchError, /designated/);
    const back = makeHandoffCertificate(
      B,
      { policyDigest: digest, kfragId: kid, to: f.nodeIds[0] },
      { now: NOW + 20 },
    );
    expectThrow(() => run([ab, back], f.nodeIds[0]), RecordMismatchError);
    // Time going backwards, after the policy's expiry, from the future.
    const early = makeHandoffCertificate(
      B,
      { policyDigest: digest, kfragId: kid, to: idC },
      { now: NOW + 5 },
    );
    expectThrow(() => run([ab, early]), RecordMismatchError, /earlier/);
    const late = makeHandoffCertificate(
      f.nodes[0],
      { policyDigest: digest, kfragId: kid, to: idB },
      { now: f.policy.body.expiry },
    );
    expectThrow(
      () =>
        verifyHandoffChain({
          policy,
          assignment: a0,
          certificates: [late],
          finalNodeId: idB,
          now: f.policy.body.expiry,
        }),
      RecordMismatchError,
      /expired/,
    );
    expectThrow(
      () =>
        verifyHandoffChain({ policy, assignment: a0, certificates: [ab], finalNodeId: idB, now: NOW - 400 }),
      NotYetValidError,
    );
    // Another policy's assignment.
    expectThrow(() => run([ab], idB, g.assignments[0].bytes), SignatureError);
    // Guards.
    expectThrow(() => run('x' as never), InvalidArgumentError);
    expectThrow(
      () =>
        verifyHandoffChain({ policy: f.policy, assignment: a0, certificates: [], finalNodeId: idB } as never),
      InvalidArgumentError,
    );
    expectThrow(() => run([ab, f.policy.bytes], idB), TooLargeError);
    expectThrow(() => run([ab, f.assignments[0].bytes], idB), DecodeError, /tag/);
  });

  it('at most MAX_HANDOFF_CHAIN links', () => {
    const ids = Array.from({ length: MAX_HANDOFF_CHAIN + 1 }, () => Identity.generate());
    const holders = [f.nodes[0], ...ids];
    const certs = ids.map((to, i) =>
      makeHandoffCertificate(
        holders[i],
        { policyDigest: digest, kfragId: kid, to: nodeIdOf(to.card) },
        { now: NOW + i },
      ),
    );
    const ok = verifyHandoffChain({
      policy,
      assignment: a0,
      certificates: certs.slice(0, MAX_HANDOFF_CHAIN),
      finalNodeId: nodeIdOf(ids[MAX_HANDOFF_CHAIN - 1].card),
      now: NOW + 100,
    });
    expect(ok.holders).toHaveLength(MAX_HANDOFF_CHAIN + 1);
    expectThrow(
      () =>
        verifyHandoffChain({
          policy,
          assignment: a0,
          certificates: certs,
          finalNodeId: nodeIdOf(ids[MAX_HANDOFF_CHAIN].card),
          now: NOW + 100,
        }),
      RecordMismatchError,
      /limit/,
    );
  });

  it('resolveHandoffs orders an unordered set', () => {
    const assignments = f.assignments.map((a) => verifyAssignment(a, policy));
    const chains = resolveHandoffs(policy, assignments, [bc.bytes, ab.bytes], { now: NOW + 30 });
    expect(chains.map((c) => c.holder)).toEqual([idC, ...f.nodeIds.slice(1)]);
    // A fork: A hands the same kfrag to B and to C.
    const fork = makeHandoffCertificate(
      f.nodes[0],
      { policyDigest: digest, kfragId: kid, to: idC },
      { now: NOW + 11 },
    );
    expectThrow(
      () => resolveHandoffs(policy, assignments, [ab, fork], { now: NOW + 30 }),
      RecordMismatchError,
      /two/,
    );
    // Off the chain: B -> C without A -> B.
    expectThrow(
      () => resolveHandoffs(policy, assignments, [bc], { now: NOW + 30 }),
      RecordMismatchError,
      /off/,
    );
    // About a kfrag no assignment names.
    const stray = makeHandoffCertificate(
      f.nodes[0],
      { policyDigest: digest, kfragId: new Uint8Array(32), to: idB },
      { now: NOW },
    );
    expectThrow(
      () => resolveHandoffs(policy, assignments, [stray], { now: NOW + 30 }),
      RecordMismatchError,
      /no assigned/,
    );
  });
});
