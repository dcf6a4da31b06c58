import { base64urlnopad } from '@scure/base';
import { describe, expect, it } from 'vitest';
import { pack } from '../src/codec/index.js';
import { Identity } from '../src/identity/identity.js';
import {
  CapsuleFrag,
  DecodeError,
  DecryptionError,
  decryptReencrypted,
  ExpiredError,
  encrypt,
  InvalidArgumentError,
  InvalidPathError,
  NotYetValidError,
  reencrypt,
  SignatureError,
  TooLargeError,
  UnsupportedVersionError,
} from '../src/index.js';
import {
  decodeGrant,
  decodePolicyMap,
  encodeGrant,
  GRANT_PREFIX,
  kfragId,
  makeAssignments,
  makeGrant,
  makeHandoffCertificate,
  makePolicy,
  makePolicyMap,
  nodeIdOf,
  openAssignedKFrag,
  openGrant,
  openSealedMap,
  RecordMismatchError,
  sealedMapType,
  sealPolicyMap,
  VerifiedPolicyMap,
  verifyAssignment,
  verifyPolicyMap,
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

/** Seals arbitrary map bytes to `reader` and prints the grant. */
function grantOf(mapBytes: Uint8Array, reader = f.reader): string {
  const [capsule, ct] = encrypt(reader.card.encryptingKey, mapBytes);
  return encodeGrant(pack(['sealed-map', 1, 0, { capsule: capsule.toBytes(), ct }]));
}

function rawMap(): Record<string, unknown> {
  return { ...f.map.body, assignments: [...f.map.body.assignments] };
}

describe('policy map and grant: round trip', () => {
  it('openGrant gives the verified map', () => {
    expect(f.grant.startsWith(GRANT_PREFIX)).toBe(true);
    expect(f.grant).toMatch(/^thresh-grant1[A-Za-z0-9_-]+$/);
    const m = openGrant(f.grant, f.reader, { now: NOW });
    expect(m).toBeInstanceOf(VerifiedPolicyMap);
    expect(m.prefix).toBe('/projects/x');
    expect(m.epoch).toBe(2);
    expect(m.levelKey.equals(f.levelKey.publicKey())).toBe(true);
    expect(m.policy.digest).toEqual(f.policy.digest());
    expect(m.holders).toEqual(f.nodeIds);
    expect(m.assignments.map((a) => a.kfragId)).toEqual(f.kfrags.map((k) => kfragId(k)));
    expect(same(decodePolicyMap(m.bytes).bytes, f.map.bytes)).toBe(true);
  });

  it('end to end: nodes open their kfrags, the reader combines 3 cfrags with the map', () => {
    const [capsule, ct] = encrypt(f.levelKey.publicKey(), new TextEncoder().encode('report'));
    const m = openGrant(f.grant, f.reader, { now: NOW });
    const cfrags = [4, 0, 2].map((i) => {
      const a = verifyAssignment(f.assignments[i], m.policy, { nodeId: f.nodeIds[i] });
      const k = openAssignedKFrag(f.sealed[i], f.nodes[i].encryptingKey, a);
      return CapsuleFrag.fromBytes(reencrypt(capsule, k).toBytes()).verify(
        capsule,
        m.policy.owner.signingKey,
        m.levelKey,
        f.reader.card.encryptingKey,
      );
    });
    const pt = decryptReencrypted(f.reader.encryptingKey, m.levelKey, capsule, cfrags, ct);
    expect(new TextDecoder().decode(pt)).toBe('report');
  });

  it('whitespace in a pasted grant is ignored; a path-hash check passes or fails', () => {
    const wrapped = f.grant.replace(/(.{60})/g, '$1\n  ');
    expect(openGrant(wrapped, f.reader, { now: NOW })).toBeInstanceOf(VerifiedPolicyMap);
    const ok = verifyPolicyMap(f.map, {
      reader: f.reader.card,
      now: NOW,
      pathHash: (p, e) => (p === '/projects/x' && e === 2 ? f.pathHash : new Uint8Array(32)),
    });
    expect(ok.prefix).toBe('/projects/x');
    expectThrow(
      () => verifyPolicyMap(f.map, { reader: f.reader.card, now: NOW, pathHash: () => new Uint8Array(32) }),
      RecordMismatchError,
    );
    expectThrow(
      () => verifyPolicyMap(f.map, { reader: f.reader.card, now: NOW, pathHash: 1 as never }),
      InvalidArgumentError,
    );
  });

  it('openGrant checks the path hash: a map naming another level than its policy -> RecordMismatchError', () => {
    // The policy covers "/projects/x" at epoch 2; a map claiming "/projects/y" fails.
    const y = makePolicyMap(
      f.owner,
      {
        policy: f.policy,
        assignments: f.assignments,
        levelKey: f.levelKey.publicKey(),
        prefix: '/projects/y',
      },
      { now: NOW },
    );
    expectThrow(
      () => openGrant(makeGrant(y, f.reader.card), f.reader, { now: NOW }),
      RecordMismatchError,
      /path hash/,
    );
    // And a policy whose path hash is not the owner-reader one at all.
    const p = makePolicy(
      f.owner,
      {
        reader: f.reader.card,
        pathHash: new Uint8Array(32),
        epoch: 2,
        threshold: 3,
        shares: 5,
        expiry: f.policy.body.expiry,
        precursor: f.policy.body.precursor,
        nodeIds: f.nodeIds,
      },
      { now: NOW },
    );
    const map = makePolicyMap(
      f.owner,
      {
        policy: p,
        assignments: makeAssignments(f.owner, p, f.kfrags),
        levelKey: f.levelKey.publicKey(),
        prefix: '/projects/x',
      },
      { now: NOW },
    );
    expectThrow(
      () => openGrant(makeGrant(map, f.reader.card), f.reader, { now: NOW }),
      RecordMismatchError,
      /path hash/,
    );
  });

  it('with handoffs: holders follow the chain', () => {
    const B = Identity.generate();
    const h = makeHandoffCertificate(
      f.nodes[1],
      { policyDigest: f.policy.digest(), kfragId: kfragId(f.kfrags[1]), to: nodeIdOf(B.card) },
      { now: NOW + 5 },
    );
    const map = makePolicyMap(
      f.owner,
      {
        policy: f.policy,
        assignments: f.assignments,
        levelKey: f.levelKey.publicKey(),
        prefix: '/projects/x',
        handoffs: [h],
      },
      { now: NOW + 10 },
    );
    const m = openGrant(makeGrant(map, f.reader.card), f.reader, { now: NOW + 10 });
    expect(m.holders[1]).toEqual(nodeIdOf(B.card));
    expect(m.chains[1].holders).toHaveLength(2);
  });
});

describe('grant string: damage', () => {
  it('truncated, mistyped, wrong prefix -> DecodeError', () => {
    for (const cut of [
      GRANT_PREFIX.length,
      GRANT_PREFIX.length + 3,
      f.grant.length - 1,
      f.grant.length - 2,
      f.grant.length - 3,
    ]) {
      expect(
        outcome(() => decodeGrant(f.grant.slice(0, cut))),
        `cut at ${cut}`,
      ).toBe('DecodeError');
    }
    // Every single-character substitution at a few positions.
    for (const at of [GRANT_PREFIX.length, GRANT_PREFIX.length + 100, f.grant.length - 1]) {
      const c = f.grant[at] === 'A' ? 'B' : 'A';
      expect(outcome(() => decodeGrant(f.grant.slice(0, at) + c + f.grant.slice(at + 1)))).toBe(
        'DecodeError',
      );
    }
    expectThrow(
      () => decodeGrant(`thresh-grant2${f.grant.slice(GRANT_PREFIX.length)}`),
      DecodeError,
      /starts with/,
    );
    expectThrow(() => decodeGrant(`${f.grant}=`), DecodeError);
    expectThrow(() => decodeGrant(`${f.grant.slice(0, 40)}+/${f.grant.slice(42)}`), DecodeError);
    expectThrow(() => decodeGrant(42 as never), DecodeError);
    expectThrow(() => decodeGrant(GRANT_PREFIX + 'A'.repeat(2_000_000)), TooLargeError);
  });

  it('a valid checksum over garbage -> DecodeError from the sealed-map decoder', () => {
    expect(outcome(() => openGrant(encodeGrant(new Uint8Array([1, 2, 3])), f.reader, { now: NOW }))).toBe(
      'DecodeError',
    );
    const s = decodeGrant(f.grant);
    expect(encodeGrant(s)).toBe(f.grant);
    expect(base64urlnopad.decode(f.grant.slice(GRANT_PREFIX.length))).toHaveLength(s.length + 4);
  });
});

describe('policy map: rules', () => {
  it('another reader -> DecryptionError; sealed to them by mistake -> RecordMismatchError', () => {
    expectThrow(() => openGrant(f.grant, f.stranger, { now: NOW }), DecryptionError);
    expectThrow(
      () => openGrant(grantOf(f.map.bytes, f.stranger), f.stranger, { now: NOW }),
      RecordMismatchError,
      /reader/,
    );
    expectThrow(() => sealPolicyMap(f.map, f.stranger.card), InvalidArgumentError);
  });

  it('map signed by another key -> SignatureError', () => {
    expectThrow(
      () => openGrant(grantOf(forge('policy-map', rawMap(), f.stranger.signer)), f.reader, { now: NOW }),
      SignatureError,
    );
  });

  it('policy by another owner than the map signer -> SignatureError', () => {
    const g = fixture();
    // The stranger's own policy for the same reader, inside a map the stranger signs: the
    // map verifies only under the policy's owner, so substituting the owner is caught.
    const mixed = forge('policy-map', { ...rawMap(), policy: g.policy.bytes }, f.owner.signer);
    expectThrow(() => openGrant(grantOf(mixed), f.reader, { now: NOW }), SignatureError);
  });

  it('assignments: missing, repeated, of another policy, forged', () => {
    const as = f.map.body.assignments;
    const cases: [string, unknown[], abstract new (...a: never[]) => Error][] = [
      ['too few', as.slice(0, 4), RecordMismatchError],
      ['repeated', [as[0], as[0], as[2], as[3], as[4]], RecordMismatchError],
      ['another policy', [fixture().assignments[0].bytes, ...as.slice(1)], SignatureError],
      ['a policy record', [f.policy.bytes, ...as.slice(1)], DecodeError],
    ];
    for (const [what, list, cls] of cases) {
      const b = forge('policy-map', { ...rawMap(), assignments: list }, f.owner.signer);
      expectThrow(() => openGrant(grantOf(b), f.reader, { now: NOW }), cls);
      expect(
        outcome(() => openGrant(grantOf(b), f.reader, { now: NOW })),
        what,
      ).not.toBe('ok');
    }
  });

  it('one kfrag assigned to two nodes -> RecordMismatchError', () => {
    const twice = forge(
      'assignment',
      { ...f.assignments[1].body, kfrag: f.assignments[0].body.kfrag },
      f.owner.signer,
    );
    const b = forge(
      'policy-map',
      { ...rawMap(), assignments: [f.assignments[0].bytes, twice, ...f.map.body.assignments.slice(2)] },
      f.owner.signer,
    );
    expectThrow(() => openGrant(grantOf(b), f.reader, { now: NOW }), RecordMismatchError, /twice/);
  });

  it('epoch mismatch, non-canonical prefix, expired', () => {
    expectThrow(
      () =>
        openGrant(grantOf(forge('policy-map', { ...rawMap(), epoch: 3 }, f.owner.signer)), f.reader, {
          now: NOW,
        }),
      RecordMismatchError,
    );
    for (const prefix of ['/projects/x/', 'projects', '/a//b', '/a/../b', 'e\u0301']) {
      const b = forge('policy-map', { ...rawMap(), prefix }, f.owner.signer);
      expect(
        outcome(() => openGrant(grantOf(b), f.reader, { now: NOW })),
        prefix,
      ).toBe('DecodeError');
    }
    expectThrow(() => openGrant(f.grant, f.reader, { now: NOW + 30 * DAY }), ExpiredError);
    expectThrow(() => openGrant(f.grant, f.reader, { now: NOW - 301 }), NotYetValidError);
  });

  it('malformed map fields -> DecodeError; wrong tag and version', () => {
    for (const field of Object.keys(f.map.body)) {
      for (const bad of WRONG_VALUES) {
        // The policy is opaque bytes until verified: any non-empty bytes decode here.
        if (field === 'policy' && bad instanceof Uint8Array && bad.length > 0) continue;
        const b = forge('policy-map', { ...rawMap(), [field]: bad }, f.owner.signer);
        expect(
          outcome(() => decodePolicyMap(b)),
          `${field}=${String(bad)}`,
        ).toBe('DecodeError');
      }
    }
    for (const t of truncations(f.map.bytes)) expect(outcome(() => decodePolicyMap(t))).toBe('DecodeError');
    expectThrow(() => decodePolicyMap(forge('policy-mapp', rawMap(), f.owner.signer)), DecodeError);
    expectThrow(
      () => decodePolicyMap(forge('policy-map', rawMap(), f.owner.signer, 2)),
      UnsupportedVersionError,
    );
    expectThrow(() => decodePolicyMap(f.policy.bytes), DecodeError);
    const sealed = decodeGrant(f.grant);
    for (const t of truncations(sealed))
      expect(outcome(() => openSealedMap(t, f.reader))).toBe('DecodeError');
    expectThrow(
      () => openSealedMap(pack(['sealed-kfrag', 1, 0, sealedMapType.decode(sealed)]), f.reader),
      DecodeError,
      /tag/,
    );
    expectThrow(
      () => openSealedMap(pack(['sealed-map', 7, 0, sealedMapType.decode(sealed)]), f.reader),
      UnsupportedVersionError,
    );
  });

  it('builder guards', () => {
    const init = {
      policy: f.policy,
      assignments: f.assignments,
      levelKey: f.levelKey.publicKey(),
      prefix: '/projects/x',
    };
    expectThrow(() => makePolicyMap(f.stranger, init), InvalidArgumentError);
    expectThrow(() => makePolicyMap(f.owner, { ...init, prefix: '/projects/x/' }), InvalidPathError);
    expectThrow(
      () => makePolicyMap(f.owner, { ...init, levelKey: f.levelKey as never }),
      InvalidArgumentError,
    );
    expectThrow(
      () => makePolicyMap(f.owner, { ...init, assignments: [f.policy as never] }),
      InvalidArgumentError,
    );
    expectThrow(() => verifyPolicyMap(f.map, {} as never), InvalidArgumentError);
    expectThrow(() => openGrant(f.grant, f.reader.card as never), InvalidArgumentError);
  });
});
