import { describe, expect, it } from 'vitest';
import { pack } from '../src/codec/index.js';
import {
  DecodeError,
  DecryptionError,
  encrypt,
  generateKFrags,
  InvalidArgumentError,
  KeyFrag,
  KeyFragVerificationError,
  reencrypt,
  SignatureError,
  TooLargeError,
  UnsupportedVersionError,
  VerifiedKeyFrag,
} from '../src/index.js';
import {
  ASSIGNMENT_MAX_BYTES,
  assignmentType,
  decodeAssignment,
  kfragId,
  kfragPrecursor,
  kfragSignFlags,
  makeAssignment,
  makeAssignments,
  nodeIdOf,
  openAndVerifyKFrag,
  openAssignedKFrag,
  openSealedKFrag,
  RecordMismatchError,
  sealedKFragType,
  sealKFrag,
  VerifiedAssignment,
  verifyAssignment,
  verifyPolicy,
} from '../src/records/index.js';
import {
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
const policy = verifyPolicy(f.policy, { now: NOW });

describe('kfrag helpers', () => {
  it('kfragId is KeyFrag.id: bytes [39, 71) of KeyFrag.toBytes()', () => {
    for (const k of f.kfrags) {
      const internal = (k.unverify() as unknown as { id: Uint8Array }).id;
      expect(kfragId(k)).toEqual(internal);
      expect(kfragId(k.unverify())).toEqual(internal);
      expect(kfragId(k)).toEqual(k.toBytes().slice(39, 71));
    }
    expect(new Set(f.kfrags.map((k) => kfragId(k).join())).size).toBe(5);
  });

  it('kfragPrecursor is shared by the kfrags of one generation', () => {
    const p = kfragPrecursor(f.kfrags[0]);
    expect(p).toHaveLength(33);
    for (const k of f.kfrags) expect(kfragPrecursor(k)).toEqual(p);
    const other = generateKFrags(f.levelKey, f.reader.card.encryptingKey, f.owner.signer, 3, 5, false, true);
    expect(kfragPrecursor(other[0])).not.toEqual(p);
  });

  it('kfragSignFlags reads the two flags', () => {
    expect(kfragSignFlags(f.kfrags[0])).toEqual({ delegatingKey: false, receivingKey: true });
    const k = generateKFrags(f.levelKey, f.reader.card.encryptingKey, f.owner.signer, 1, 1, true, false)[0];
    expect(kfragSignFlags(k)).toEqual({ delegatingKey: true, receivingKey: false });
    expectThrow(() => kfragId(new Uint8Array(310) as never), InvalidArgumentError);
  });
});

describe('assignment', () => {
  it('round trip and verify', () => {
    for (let i = 0; i < 5; i++) {
      const a = f.assignments[i];
      const d = decodeAssignment(a.bytes);
      expect(d.body).toEqual(a.body);
      expect(d.body.policy).toEqual(f.policy.digest());
      expect(d.body.node).toEqual(f.nodeIds[i]);
      expect(d.body.kfrag).toEqual(kfragId(f.kfrags[i]));
      const v = verifyAssignment(a.bytes, policy, { nodeId: f.nodeIds[i] });
      expect(v).toBeInstanceOf(VerifiedAssignment);
      expect(v.kfragId).toEqual(kfragId(f.kfrags[i]));
      expect(same(v.bytes, a.bytes)).toBe(true);
    }
  });

  it('builder guards: another owner, a node not designated, a kfrag of another generation', () => {
    expectThrow(() => makeAssignment(f.stranger, f.policy, f.nodeIds[0], f.kfrags[0]), InvalidArgumentError);
    expectThrow(
      () => makeAssignment(f.owner, f.policy, nodeIdOf(f.stranger.card), f.kfrags[0]),
      InvalidArgumentError,
    );
    const other = generateKFrags(f.levelKey, f.reader.card.encryptingKey, f.owner.signer, 3, 5, false, true);
    expectThrow(
      () => makeAssignment(f.owner, f.policy, f.nodeIds[0], other[0]),
      InvalidArgumentError,
      /precursor/,
    );
    expectThrow(() => makeAssignments(f.owner, f.policy, f.kfrags.slice(1)), InvalidArgumentError);
    expectThrow(() => makeAssignment(f.owner, f.policy, f.nodeIds[0], {} as never), InvalidArgumentError);
  });

  it('malformed matrix', () => {
    const raw = () => ({ ...f.assignments[0].body });
    for (const t of truncations(f.assignments[0].bytes))
      expect(outcome(() => decodeAssignment(t))).toBe('DecodeError');
    expectThrow(() => decodeAssignment(new Uint8Array(ASSIGNMENT_MAX_BYTES + 1)), TooLargeError);
    expectThrow(() => decodeAssignment(forge('assignmen', raw(), f.owner.signer)), DecodeError, /tag/);
    expectThrow(
      () => decodeAssignment(forge('assignment', raw(), f.owner.signer, 9)),
      UnsupportedVersionError,
    );
    expect(outcome(() => decodeAssignment(f.policy.bytes))).toMatch(/DecodeError|TooLargeError/);
    for (const field of ['policy', 'node', 'kfrag']) {
      for (const bad of [...WRONG_VALUES, new Uint8Array(33).fill(5)]) {
        if (field === 'node' || !(bad instanceof Uint8Array && bad.length === 33)) {
          const b = forge('assignment', { ...raw(), [field]: bad }, f.owner.signer);
          expect(
            outcome(() => decodeAssignment(b)),
            `${field}=${String(bad)}`,
          ).toBe('DecodeError');
        }
      }
    }
  });

  it('signature by the wrong key, about another policy, a node not designated, another node', () => {
    expectThrow(
      () => verifyAssignment(forge('assignment', f.assignments[0].body, f.stranger.signer), policy),
      SignatureError,
    );
    const g = fixture();
    const otherPolicy = verifyPolicy(g.policy, { now: NOW });
    expectThrow(() => verifyAssignment(g.assignments[0].bytes, policy), SignatureError);
    expectThrow(
      () =>
        verifyAssignment(
          forge('assignment', { ...f.assignments[0].body, policy: g.policy.digest() }, f.owner.signer),
          policy,
        ),
      RecordMismatchError,
      /another policy/,
    );
    expectThrow(() => verifyAssignment(f.assignments[0].bytes, otherPolicy), SignatureError);
    const stray = forge(
      'assignment',
      { ...f.assignments[0].body, node: nodeIdOf(f.stranger.card) },
      f.owner.signer,
    );
    expectThrow(() => verifyAssignment(stray, policy), RecordMismatchError, /not designated/);
    expectThrow(
      () => verifyAssignment(f.assignments[0], policy, { nodeId: f.nodeIds[1] }),
      RecordMismatchError,
    );
    expectThrow(() => verifyAssignment(f.assignments[0], f.policy as never), InvalidArgumentError);
  });
});

describe('sealed kfrag', () => {
  const open = (i: number, sealed = f.sealed[i], node = f.nodes[i]) =>
    openSealedKFrag(sealed, node.encryptingKey, {
      expectedPolicyDigest: f.policy.digest(),
      expectedNodeId: nodeIdOf(node.card),
    });

  it('round trip: the node gets its kfrag, verifies it and re-encrypts', () => {
    for (let i = 0; i < 5; i++) {
      const k = open(i);
      expect(k).toBeInstanceOf(KeyFrag);
      expect(k.equals(f.kfrags[i].unverify())).toBe(true);
    }
    const decoded = sealedKFragType.decode(f.sealed[0]);
    expect(decoded.capsule).toHaveLength(105);
    const vk = openAndVerifyKFrag(f.sealed[0], f.nodes[0].encryptingKey, {
      expectedPolicyDigest: f.policy.digest(),
      expectedNodeId: f.nodeIds[0],
      ownerVerifyingKey: f.owner.card.signingKey,
      readerEncryptingKey: f.reader.card.encryptingKey,
    });
    expect(vk).toBeInstanceOf(VerifiedKeyFrag);
    const assignment = verifyAssignment(f.assignments[2], policy, { nodeId: f.nodeIds[2] });
    const vk2 = openAssignedKFrag(f.sealed[2], f.nodes[2].encryptingKey, assignment);
    const [capsule] = encrypt(f.levelKey.publicKey(), new Uint8Array([1, 2, 3]));
    expect(reencrypt(capsule, vk2)).toBeDefined();
  });

  it('opened by another node -> DecryptionError; for another node id -> RecordMismatchError', () => {
    expectThrow(() => open(0, f.sealed[0], f.nodes[1]), DecryptionError);
    expectThrow(
      () =>
        openSealedKFrag(f.sealed[0], f.nodes[0].encryptingKey, {
          expectedPolicyDigest: f.policy.digest(),
          expectedNodeId: f.nodeIds[1],
        }),
      RecordMismatchError,
      /another node/,
    );
  });

  it('for another policy -> RecordMismatchError', () => {
    const g = fixture();
    expectThrow(
      () =>
        openSealedKFrag(f.sealed[0], f.nodes[0].encryptingKey, {
          expectedPolicyDigest: g.policy.digest(),
          expectedNodeId: f.nodeIds[0],
        }),
      RecordMismatchError,
      /another policy/,
    );
  });

  it('a kfrag moved to another assignment -> RecordMismatchError', () => {
    // Node 0's sealed kfrag checked against node 1's assignment.
    const a1 = verifyAssignment(f.assignments[1], policy);
    expectThrow(
      () => openAssignedKFrag(f.sealed[0], f.nodes[0].encryptingKey, a1),
      RecordMismatchError,
      /another node/,
    );
    // The owner seals kfrag 1 to node 0 (wrong kfrag for node 0's assignment).
    const swapped = sealKFrag(f.kfrags[1], f.policy.digest(), f.nodeIds[0], f.nodes[0].card.encryptingKey);
    const a0 = verifyAssignment(f.assignments[0], policy);
    expectThrow(
      () => openAssignedKFrag(swapped, f.nodes[0].encryptingKey, a0),
      RecordMismatchError,
      /assignment/,
    );
  });

  it('kfrag verification: another owner, another reader, sign flags', () => {
    const base = {
      expectedPolicyDigest: f.policy.digest(),
      expectedNodeId: f.nodeIds[0],
      ownerVerifyingKey: f.owner.card.signingKey,
      readerEncryptingKey: f.reader.card.encryptingKey,
    };
    expectThrow(
      () =>
        openAndVerifyKFrag(f.sealed[0], f.nodes[0].encryptingKey, {
          ...base,
          ownerVerifyingKey: f.stranger.card.signingKey,
        }),
      KeyFragVerificationError,
    );
    expectThrow(
      () =>
        openAndVerifyKFrag(f.sealed[0], f.nodes[0].encryptingKey, {
          ...base,
          readerEncryptingKey: f.stranger.card.encryptingKey,
        }),
      KeyFragVerificationError,
    );
    for (const [d, r] of [
      [false, false],
      [true, true],
    ] as const) {
      const k = generateKFrags(f.levelKey, f.reader.card.encryptingKey, f.owner.signer, 1, 1, d, r)[0];
      const s = sealKFrag(k, f.policy.digest(), f.nodeIds[0], f.nodes[0].card.encryptingKey);
      expectThrow(() => openAndVerifyKFrag(s, f.nodes[0].encryptingKey, base), KeyFragVerificationError);
    }
  });

  it('malformed matrix', () => {
    const sk = f.nodes[0].encryptingKey;
    const exp = { expectedPolicyDigest: f.policy.digest(), expectedNodeId: f.nodeIds[0] };
    for (const t of truncations(f.sealed[0]))
      expect(outcome(() => openSealedKFrag(t, sk, exp))).toBe('DecodeError');
    expect(outcome(() => openSealedKFrag(new Uint8Array(4096), sk, exp))).toBe('TooLargeError');
    const body = sealedKFragType.decode(f.sealed[0]);
    expectThrow(() => openSealedKFrag(pack(['sealed-map', 1, 0, body]), sk, exp), DecodeError, /tag/);
    expectThrow(() => openSealedKFrag(pack(['sealed-kfrag', 2, 0, body]), sk, exp), UnsupportedVersionError);
    for (const field of ['capsule', 'ct']) {
      for (const bad of WRONG_VALUES) {
        const b = pack(['sealed-kfrag', 1, 0, { ...body, [field]: bad }]);
        expect(
          outcome(() => openSealedKFrag(b, sk, exp)),
          `${field}=${String(bad)}`,
        ).toBe('DecodeError');
      }
    }
    // A capsule that fails its self-check, a flipped ciphertext bit.
    const cap = body.capsule.slice();
    cap[104] ^= 1;
    expect(
      outcome(() => openSealedKFrag(pack(['sealed-kfrag', 1, 0, { ...body, capsule: cap }]), sk, exp)),
    ).toBe('DecodeError');
    const ct = body.ct.slice();
    ct[50] ^= 1;
    expectThrow(
      () => openSealedKFrag(pack(['sealed-kfrag', 1, 0, { ...body, ct }]), sk, exp),
      DecryptionError,
    );
    // A well-sealed plaintext that is not the expected map.
    const [capsule, bad] = encrypt(
      f.nodes[0].card.encryptingKey,
      pack({ kfrag: new Uint8Array(310), policy: 1 }),
    );
    const odd = pack(['sealed-kfrag', 1, 0, { capsule: capsule.toBytes(), ct: bad }]);
    expectThrow(() => openSealedKFrag(odd, sk, exp), DecodeError);
    // Argument guards.
    expectThrow(() => openSealedKFrag(f.sealed[0], sk, {} as never), InvalidArgumentError);
    expectThrow(() => openSealedKFrag(f.sealed[0], 'sk' as never, exp), InvalidArgumentError);
    expectThrow(
      () =>
        sealKFrag(
          f.kfrags[0].unverify() as never,
          f.policy.digest(),
          f.nodeIds[0],
          f.nodes[0].card.encryptingKey,
        ),
      InvalidArgumentError,
    );
    expectThrow(
      () => sealKFrag(f.kfrags[0], new Uint8Array(31), f.nodeIds[0], f.nodes[0].card.encryptingKey),
      InvalidArgumentError,
    );
    expectThrow(() => openAssignedKFrag(f.sealed[0], sk, f.assignments[0] as never), InvalidArgumentError);
  });
});

describe('assignment type tag', () => {
  it('is "assignment"', () => expect(assignmentType.tag).toBe('assignment'));
});
