/**
 * NodeService handler unit tests on the in-memory store (issue: "Handler unit tests on the
 * in-memory store (every accept and every reject path)"). Every node is a NodeService over a
 * MemoryStore with a fixed, settable clock and an inline re-encryption engine; every record is
 * made with the real protocol builders (DESIGN.md "Grant", "Decrypt", "Revoke, expiry,
 * rotation", "Nodes").
 */
import {
  assignmentType,
  Capsule,
  CapsuleFrag,
  collect,
  DecodeError,
  DecryptionError,
  decodeRevocation,
  decryptFileBody,
  ExpiredError,
  encodeDhtValue,
  encrypt,
  encryptFile,
  handoffType,
  Identity,
  KeyFrag,
  makeAssignment,
  makeDhtKey,
  makeHandoffCertificate,
  makeRevocation,
  NotYetValidError,
  pathHashes,
  policyType,
  RecordMismatchError,
  type ReencryptReplyItem,
  type ReencryptRequest,
  readFileHeader,
  revocationDhtId,
  revocationType,
  SignatureError,
  sealKFrag,
  ThreshError,
  TOMBSTONE_GRACE_SECONDS,
  tombstoneUntil,
  unwrapDekWithCfrags,
  unwrapReply,
  type VerifiedCapsuleFrag,
  verifyNodeRecord,
  verifyReceipt,
  WireError,
} from '@thresh/protocol';
import { describe, expect, it } from 'vitest';
import { CLOCK_SKEW_SECONDS, type ReencryptEngine } from '../src/service.js';
import {
  DAY,
  flip,
  type Grant,
  type GrantOptions,
  handoffRequest,
  hex,
  makeGrant,
  makeNode,
  type NodeOptions,
  randomBytes,
  readerSecret,
  rejection,
  revocationOf,
  T,
  type TestNode,
  VERSION,
  wireCode,
} from './service-fixture.js';

const ZERO32 = hex(new Uint8Array(32));

/** Five designated nodes (services) and one 3-of-5 grant to them. */
async function setup(opts: { node?: NodeOptions; grant?: GrantOptions } = {}) {
  const owner = Identity.generate();
  const reader = Identity.generate();
  const stranger = Identity.generate();
  const nodes = await Promise.all(Array.from({ length: 5 }, () => makeNode(opts.node)));
  const grant = makeGrant(
    owner,
    reader,
    nodes.map((n) => n.identity.card),
    opts.grant,
  );
  return { owner, reader, stranger, nodes, grant };
}

/** Expects a WireError with `code` (and the same code on the wire). */
async function expectWireError(p: Promise<unknown>, code: string): Promise<WireError> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(WireError);
  expect((e as WireError).wireCode).toBe(code);
  expect(wireCode(e)).toBe(code);
  return e as WireError;
}

async function expectMismatch(p: Promise<unknown>, field: string): Promise<RecordMismatchError> {
  const e = await rejection(p);
  expect(e).toBeInstanceOf(RecordMismatchError);
  expect((e as RecordMismatchError).field).toBe(field);
  expect(wireCode(e)).toBe('ERR_RECORD_MISMATCH');
  return e as RecordMismatchError;
}

/** A fresh capsule for `grant`'s level (the reencrypt handler only needs a valid one). */
function capsuleFor(grant: Grant): Uint8Array {
  return encrypt(grant.levelPublicKey, randomBytes(32))[0].toBytes();
}

/** A 105-byte capsule that fails Umbral's self-check. */
function badCapsule(grant: Grant): Uint8Array {
  return flip(capsuleFor(grant), -1);
}

function verifyCfrag(grant: Grant, capsule: Uint8Array, cfrag: Uint8Array): VerifiedCapsuleFrag {
  return CapsuleFrag.fromBytes(cfrag).verify(
    Capsule.fromBytes(capsule),
    grant.owner.card.signingKey,
    grant.levelPublicKey,
    grant.reader.card.encryptingKey,
  );
}

function ok(item: ReencryptReplyItem) {
  if (item.error !== undefined) throw new Error(`item ${item.id}: ${item.error}`);
  return item;
}

async function one(node: TestNode, item: ReencryptRequest['items'][number]): Promise<ReencryptReplyItem> {
  const reply = unwrapReply(await node.service.reencrypt({ items: [item] }));
  expect(reply.items).toHaveLength(1);
  return reply.items[0];
}

// ================================================================================= storePolicy

describe('storePolicy', () => {
  it('accepts a valid policy for a designated node and returns a receipt that verifies', async () => {
    const { nodes, grant } = await setup();
    const node = nodes[2];
    const reply = unwrapReply(await node.service.storePolicy(grant.request(2)));
    const receipt = verifyReceipt(reply.receipt, {
      now: T,
      op: 'store',
      nodeId: node.id,
      policyDigest: grant.digest,
      kfragId: grant.kfragIds[2],
    });
    expect(receipt.body.time).toBe(T);

    const stored = await node.store.getPolicy(grant.policy.body.id);
    expect(stored).toBeDefined();
    const p = stored!;
    expect(hex(p.pathHash)).toBe(hex(grant.pathHash));
    expect(p.expiry).toBe(T + 30 * DAY);
    expect(p.notBefore).toBe(T);
    expect(p.epoch).toBe(0);
    expect(hex(p.policyDigest)).toBe(hex(grant.digest));
    expect(hex(p.policy)).toBe(hex(grant.policy.bytes));
    expect(hex(p.assignment)).toBe(hex(grant.assignments[2].bytes));
    expect(hex(p.kfrag)).toBe(hex(grant.kfrags[2].toBytes()));
    expect(hex(p.receipt)).toBe(hex(reply.receipt));
    expect(hex(p.ownerSigningKey)).toBe(hex(grant.owner.card.signingKey.toCompressedBytes()));
    expect(hex(p.readerEncryptingKey)).toBe(hex(grant.reader.card.encryptingKey.toCompressedBytes()));
    expect(p.storedAt).toBe(T);
    expect(p.source).toBe('store');
    expect(p.handoffCertificates).toBeUndefined();
    expect(await node.store.countPolicies()).toBe(1);
    // Stored under its path hash, where reencrypt looks.
    const { policies } = await node.store.policiesByPathHash(grant.pathHash);
    expect(policies.map((x) => hex(x.policyId))).toEqual([hex(grant.policy.body.id)]);
  });

  it('stores the epoch and not-before the policy carries', async () => {
    const { nodes, grant } = await setup({ grant: { epoch: 7, notBefore: T + CLOCK_SKEW_SECONDS } });
    await nodes[0].service.storePolicy(grant.request(0));
    const p = (await nodes[0].store.getPolicy(grant.policy.body.id))!;
    expect(p.epoch).toBe(7);
    expect(p.notBefore).toBe(T + CLOCK_SKEW_SECONDS);
  });

  it('is idempotent: the same request again returns the same receipt, even later', async () => {
    const { nodes, grant } = await setup();
    const node = nodes[0];
    const first = unwrapReply(await node.service.storePolicy(grant.request(0)));
    node.clock.now = T + 600;
    const second = unwrapReply(await node.service.storePolicy(grant.request(0)));
    expect(hex(second.receipt)).toBe(hex(first.receipt));
    expect(verifyReceipt(second.receipt, { now: T + 600 }).body.time).toBe(T);
    expect(await node.store.countPolicies()).toBe(1);
  });

  it('refuses a policy that does not designate this node (RecordMismatchError)', async () => {
    const { grant } = await setup();
    const outsider = await makeNode();
    await expectMismatch(outsider.service.storePolicy(grant.request(0)), 'policy.nodes');
    expect(await outsider.store.countPolicies()).toBe(0);
  });

  it("refuses another node's assignment", async () => {
    const { nodes, grant } = await setup();
    await expectMismatch(
      nodes[0].service.storePolicy({ ...grant.request(0), assignment: grant.assignments[1].bytes }),
      'assignment.node',
    );
    expect(await nodes[0].store.countPolicies()).toBe(0);
  });

  it('refuses an assignment of another policy', async () => {
    const { owner, reader, nodes, grant } = await setup();
    const other = makeGrant(
      owner,
      reader,
      nodes.map((n) => n.identity.card),
    );
    await expectMismatch(
      nodes[0].service.storePolicy({ ...grant.request(0), assignment: other.assignments[0].bytes }),
      'assignment.policy',
    );
  });

  it('refuses an assignment signed by someone other than the owner (SignatureError)', async () => {
    const { stranger, nodes, grant } = await setup();
    const forged = assignmentType.sign(grant.assignments[0].body, stranger.signer).bytes;
    const e = await rejection(nodes[0].service.storePolicy({ ...grant.request(0), assignment: forged }));
    expect(e).toBeInstanceOf(SignatureError);
    expect(wireCode(e)).toBe('ERR_SIGNATURE');
  });

  it("refuses a kfrag sealed to another node's key (DecryptionError)", async () => {
    const { nodes, grant } = await setup();
    const e = await rejection(
      nodes[0].service.storePolicy({ ...grant.request(0), sealedKFrag: grant.sealed[1] }),
    );
    expect(e).toBeInstanceOf(DecryptionError);
    expect(await nodes[0].store.countPolicies()).toBe(0);
  });

  it('refuses a kfrag sealed to this key but naming another node inside', async () => {
    const { nodes, grant } = await setup();
    const sealed = sealKFrag(
      grant.kfrags[0],
      grant.digest,
      nodes[1].id,
      nodes[0].identity.card.encryptingKey,
    );
    await expectMismatch(
      nodes[0].service.storePolicy({ ...grant.request(0), sealedKFrag: sealed }),
      'sealed-kfrag.node',
    );
  });

  it('refuses a kfrag sealed for another policy', async () => {
    const { nodes, grant } = await setup();
    const sealed = sealKFrag(
      grant.kfrags[0],
      randomBytes(32),
      nodes[0].id,
      nodes[0].identity.card.encryptingKey,
    );
    await expectMismatch(
      nodes[0].service.storePolicy({ ...grant.request(0), sealedKFrag: sealed }),
      'sealed-kfrag.policy',
    );
  });

  it('refuses a kfrag that is not the one the assignment names', async () => {
    const { nodes, grant } = await setup();
    // kfrag 1, correctly sealed to node 0 for this policy, with node 0's assignment of kfrag 0.
    const sealed = sealKFrag(
      grant.kfrags[1],
      grant.digest,
      nodes[0].id,
      nodes[0].identity.card.encryptingKey,
    );
    await expectMismatch(
      nodes[0].service.storePolicy({ ...grant.request(0), sealedKFrag: sealed }),
      'sealed-kfrag.kfrag',
    );
    expect(await nodes[0].store.countPolicies()).toBe(0);
  });

  it('refuses a policy whose signature was tampered with (SignatureError)', async () => {
    const { nodes, grant } = await setup();
    const e = await rejection(
      nodes[0].service.storePolicy({ ...grant.request(0), policy: flip(grant.policy.bytes, -1) }),
    );
    expect(e).toBeInstanceOf(SignatureError);
    expect(wireCode(e)).toBe('ERR_SIGNATURE');
    expect(await nodes[0].store.countPolicies()).toBe(0);
  });

  it('refuses a policy signed by someone other than the owner card in it (SignatureError)', async () => {
    const { stranger, nodes, grant } = await setup();
    const forged = policyType.sign(grant.policy.body, stranger.signer).bytes;
    const e = await rejection(nodes[0].service.storePolicy({ ...grant.request(0), policy: forged }));
    expect(e).toBeInstanceOf(SignatureError);
  });

  it('refuses an expired policy (ExpiredError, EXPIRED on the wire)', async () => {
    const { nodes, grant } = await setup({ grant: { expiry: T + 100 } });
    const node = nodes[0];
    node.clock.now = T + 100; // live while now < expiry
    const e = await rejection(node.service.storePolicy(grant.request(0)));
    expect(e).toBeInstanceOf(ExpiredError);
    expect(wireCode(e)).toBe('EXPIRED');
    node.clock.now = T + 99;
    await node.service.storePolicy(grant.request(0));
    expect(await node.store.countPolicies()).toBe(1);
  });

  it('refuses a not-before more than 300 s ahead (NotYetValidError), accepts exactly 300 s', async () => {
    const { nodes, grant } = await setup({ grant: { notBefore: T + CLOCK_SKEW_SECONDS + 1 } });
    const e = await rejection(nodes[0].service.storePolicy(grant.request(0)));
    expect(e).toBeInstanceOf(NotYetValidError);
    expect(wireCode(e)).toBe('NOT_YET_VALID');
    expect(await nodes[0].store.countPolicies()).toBe(0);
    nodes[0].clock.now = T + 1;
    await nodes[0].service.storePolicy(grant.request(0));
    expect(await nodes[0].store.countPolicies()).toBe(1);
  });

  it('refuses a lifetime over maxPolicyLifetime (CAPACITY), accepts exactly the maximum', async () => {
    const node = { maxPolicyLifetime: 30 * DAY };
    const over = await setup({ node, grant: { expiry: T + 30 * DAY + 1 } });
    await expectWireError(over.nodes[0].service.storePolicy(over.grant.request(0)), 'CAPACITY');
    expect(await over.nodes[0].store.countPolicies()).toBe(0);
    const exact = await setup({ node, grant: { expiry: T + 30 * DAY } });
    await exact.nodes[0].service.storePolicy(exact.grant.request(0));
    expect(await exact.nodes[0].store.countPolicies()).toBe(1);
  });

  it('refuses a new policy when the store is full (CAPACITY), still receipts a held one', async () => {
    const { owner, reader, nodes, grant } = await setup({ node: { capacity: 1 } });
    const node = nodes[0];
    const first = unwrapReply(await node.service.storePolicy(grant.request(0)));
    const second = makeGrant(
      owner,
      reader,
      nodes.map((n) => n.identity.card),
    );
    await expectWireError(node.service.storePolicy(second.request(0)), 'CAPACITY');
    expect(await node.store.countPolicies()).toBe(1);
    expect(await node.store.getPolicy(second.policy.body.id)).toBeUndefined();
    const again = unwrapReply(await node.service.storePolicy(grant.request(0)));
    expect(hex(again.receipt)).toBe(hex(first.receipt));
  });

  it('refuses a policy id its owner revoked (REVOKED)', async () => {
    const { nodes, grant } = await setup();
    const node = nodes[0];
    await node.service.revoke({ revocation: revocationOf(grant) });
    await expectWireError(node.service.storePolicy(grant.request(0)), 'REVOKED');
    expect(await node.store.countPolicies()).toBe(0);
  });

  it('is not blocked by a tombstone of that id signed by another owner', async () => {
    const { stranger, nodes, grant } = await setup();
    const node = nodes[0];
    await node.service.revoke({ revocation: revocationOf(grant, stranger) });
    expect(await node.store.getTombstone(grant.policy.body.id)).toBeDefined();
    const reply = unwrapReply(await node.service.storePolicy(grant.request(0)));
    verifyReceipt(reply.receipt, { now: T, op: 'store', policyDigest: grant.digest });
    expect(await node.store.getPolicy(grant.policy.body.id)).toBeDefined();
  });

  it('refuses a second, different signed version of a held policy id (RecordMismatchError)', async () => {
    const { owner, nodes, grant } = await setup();
    const node = nodes[0];
    await node.service.storePolicy(grant.request(0));
    // Same id, another expiry: a second signed version, with its own assignment and sealed kfrag.
    const v2 = policyType.sign({ ...grant.policy.body, expiry: grant.policy.body.expiry - 1 }, owner.signer);
    expect(hex(v2.body.id)).toBe(hex(grant.policy.body.id));
    const request = {
      policy: v2.bytes,
      assignment: makeAssignment(owner, v2, node.id, grant.kfrags[0]).bytes,
      sealedKFrag: sealKFrag(grant.kfrags[0], v2.digest(), node.id, node.identity.card.encryptingKey),
    };
    await expectMismatch(node.service.storePolicy(request), 'policy.id');
    const held = (await node.store.getPolicy(grant.policy.body.id))!;
    expect(hex(held.policyDigest)).toBe(hex(grant.digest));
  });

  it('answers garbage bytes with DecodeError (MALFORMED on the wire)', async () => {
    const { nodes, grant } = await setup();
    const service = nodes[0].service;
    for (const request of [
      { ...grant.request(0), policy: randomBytes(200) },
      { ...grant.request(0), policy: grant.policy.bytes.subarray(0, 50) },
      { ...grant.request(0), assignment: randomBytes(150) },
      { ...grant.request(0), sealedKFrag: randomBytes(300) },
    ]) {
      const e = await rejection(service.storePolicy(request));
      expect(e).toBeInstanceOf(DecodeError);
      expect(wireCode(e)).toBe('MALFORMED');
    }
    expect(await nodes[0].store.countPolicies()).toBe(0);
  });
});

// ================================================================================= reencrypt

const FILE_PATH = '/team/reports/q3.pdf';

/** A 3-of-5 grant of '/team' (level 1 of FILE_PATH) to five nodes that all stored it. */
async function storedSetup(opts: { grant?: GrantOptions } = {}) {
  const s = await setup(opts);
  for (let i = 0; i < 5; i++) await s.nodes[i].service.storePolicy(s.grant.request(i));
  const hashes = pathHashes(readerSecret(s.owner, s.reader), FILE_PATH, 0);
  return { ...s, hashes };
}

describe('reencrypt', () => {
  it('uses the deepest level it holds, says which, and 3 nodes let the reader decrypt the file', async () => {
    const { owner, reader, nodes, grant, hashes } = await storedSetup();
    const plaintext = randomBytes(5000);
    const fileBytes = await collect(encryptFile(owner, { path: FILE_PATH, now: T }, [plaintext]).stream);
    const { header, body } = await readFileHeader([fileBytes], { now: T });
    const levels = header.body.l;
    expect(levels.map((l) => l.d)).toEqual([0, 1, 2, 3]);
    // Reader and owner compute the same path hash of '/team'.
    expect(hex(hashes[1])).toBe(hex(grant.pathHash));
    const item = { id: 42, levels: levels.map((l, i) => ({ pathHash: hashes[i], capsule: l.c })) };

    const cfrags: VerifiedCapsuleFrag[] = [];
    for (const node of nodes.slice(0, 3)) {
      const got = ok(await one(node, item));
      expect(got.id).toBe(42);
      expect(got.level).toBe(1);
      expect(hex(got.policyId)).toBe(hex(grant.policy.body.id));
      cfrags.push(verifyCfrag(grant, levels[1].c, got.cfrag));
    }
    // Not with another level's capsule.
    expect(() => verifyCfrag(grant, levels[2].c, cfrags[0].toBytes())).toThrow(ThreshError);
    // Two cfrags are not enough.
    expect(() =>
      unwrapDekWithCfrags(header, 1, reader.encryptingKey, grant.levelPublicKey, cfrags.slice(0, 2)),
    ).toThrow(ThreshError);
    const dek = unwrapDekWithCfrags(header, 1, reader.encryptingKey, grant.levelPublicKey, cfrags);
    const decrypted = await collect(decryptFileBody(header, dek, body));
    expect(hex(decrypted)).toBe(hex(plaintext));
  });

  it('prefers a deeper live level, and falls back to a shallower one when the deeper expires', async () => {
    const { owner, reader, nodes, grant, hashes } = await storedSetup();
    const cards = nodes.map((n) => n.identity.card);
    const node = nodes[0];
    const root = makeGrant(owner, reader, cards, { prefix: '/' });
    const reports = makeGrant(owner, reader, cards, { prefix: '/team/reports', expiry: T + DAY });
    await node.service.storePolicy(root.request(0));
    await node.service.storePolicy(reports.request(0));
    const capsules = [capsuleFor(root), capsuleFor(grant), capsuleFor(reports), randomBytes(105)];
    const item = { id: 1, levels: hashes.map((pathHash, i) => ({ pathHash, capsule: capsules[i] })) };

    let got = ok(await one(node, item));
    expect(got.level).toBe(2);
    expect(hex(got.policyId)).toBe(hex(reports.policy.body.id));
    verifyCfrag(reports, capsules[2], got.cfrag);

    node.clock.now = T + DAY; // '/team/reports' expired
    got = ok(await one(node, item));
    expect(got.level).toBe(1);
    expect(hex(got.policyId)).toBe(hex(grant.policy.body.id));
    verifyCfrag(grant, capsules[1], got.cfrag);

    // Only the root level sent: the root policy.
    got = ok(await one(node, { id: 2, levels: [item.levels[0]] }));
    expect(got.level).toBe(0);
    expect(hex(got.policyId)).toBe(hex(root.policy.body.id));
    verifyCfrag(root, capsules[0], got.cfrag);
  });

  it('with a policy id, uses exactly that policy', async () => {
    const { owner, reader, nodes, grant, hashes } = await storedSetup();
    const node = nodes[0];
    const root = makeGrant(
      owner,
      reader,
      nodes.map((n) => n.identity.card),
      { prefix: '/' },
    );
    await node.service.storePolicy(root.request(0));
    const capsule = capsuleFor(root);
    const got = ok(
      await one(node, { id: 9, policyId: root.policy.body.id, levels: [{ pathHash: hashes[0], capsule }] }),
    );
    expect(got.level).toBe(0);
    expect(hex(got.policyId)).toBe(hex(root.policy.body.id));
    verifyCfrag(root, capsule, got.cfrag);

    // The '/team' policy by id, at its own level.
    const c1 = capsuleFor(grant);
    const got1 = ok(
      await one(node, {
        id: 10,
        policyId: grant.policy.body.id,
        levels: [{ pathHash: hashes[1], capsule: c1 }],
      }),
    );
    expect(hex(got1.policyId)).toBe(hex(grant.policy.body.id));
    verifyCfrag(grant, c1, got1.cfrag);
  });

  it('with a policy id: NOT_FOUND for an unknown id, or a path hash that is not the policy level', async () => {
    const { nodes, grant, hashes } = await storedSetup();
    const node = nodes[0];
    const capsule = capsuleFor(grant);
    expect(
      await one(node, { id: 1, policyId: randomBytes(16), levels: [{ pathHash: hashes[1], capsule }] }),
    ).toEqual({ id: 1, error: 'NOT_FOUND' });
    expect(
      await one(node, { id: 2, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[2], capsule }] }),
    ).toEqual({ id: 2, error: 'NOT_FOUND' });
    expect(node.engine.calls).toBe(0);
  });

  it('answers NOT_FOUND for path hashes it holds nothing for, without calling the engine', async () => {
    const { nodes, grant } = await storedSetup();
    const node = nodes[0];
    const item = {
      id: 5,
      levels: [0, 1, 2].map(() => ({ pathHash: randomBytes(32), capsule: capsuleFor(grant) })),
    };
    expect(await one(node, item)).toEqual({ id: 5, error: 'NOT_FOUND' });
    // Another reader's path hashes of the same path: not this grant's.
    const other = pathHashes(readerSecret(grant.owner, Identity.generate()), FILE_PATH, 0);
    expect(
      await one(node, { id: 6, levels: other.map((pathHash) => ({ pathHash, capsule: capsuleFor(grant) })) }),
    ).toEqual({ id: 6, error: 'NOT_FOUND' });
    expect(node.engine.calls).toBe(0);
  });

  it('answers REVOKED for a revoked policy named by id, NOT_FOUND by path hash', async () => {
    const { nodes, grant, hashes } = await storedSetup();
    const node = nodes[0];
    const capsule = capsuleFor(grant);
    await node.service.revoke({ revocation: revocationOf(grant) });
    expect(
      await one(node, { id: 1, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[1], capsule }] }),
    ).toEqual({ id: 1, error: 'REVOKED' });
    expect(await one(node, { id: 2, levels: [{ pathHash: hashes[1], capsule }] })).toEqual({
      id: 2,
      error: 'NOT_FOUND',
    });
    expect(node.engine.calls).toBe(0);
  });

  it('answers EXPIRED once the clock reaches the expiry (by path hash and by id)', async () => {
    const { nodes, grant, hashes } = await storedSetup({ grant: { expiry: T + DAY } });
    const node = nodes[0];
    const capsule = capsuleFor(grant);
    const byPath = {
      id: 1,
      levels: [
        { pathHash: hashes[0], capsule },
        { pathHash: hashes[1], capsule },
      ],
    };
    const byId = { id: 2, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[1], capsule }] };
    node.clock.now = T + DAY - 1;
    ok(await one(node, byPath));
    ok(await one(node, byId));
    node.clock.now = T + DAY;
    expect(await one(node, byPath)).toEqual({ id: 1, error: 'EXPIRED' });
    expect(await one(node, byId)).toEqual({ id: 2, error: 'EXPIRED' });
    expect(node.engine.calls).toBe(2);
  });

  it('answers NOT_YET_VALID by id when the not-before is beyond the skew (clock stepped back)', async () => {
    const { nodes, grant, hashes } = await storedSetup({ grant: { notBefore: T + CLOCK_SKEW_SECONDS } });
    const node = nodes[0];
    const capsule = capsuleFor(grant);
    const byId = { id: 3, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[1], capsule }] };
    ok(await one(node, byId)); // within the skew
    node.clock.now = T - 1;
    expect(await one(node, byId)).toEqual({ id: 3, error: 'NOT_YET_VALID' });
    expect(await one(node, { id: 4, levels: [{ pathHash: hashes[1], capsule }] })).toEqual({
      id: 4,
      error: 'NOT_FOUND',
    });
  });

  it('answers BAD_CAPSULE for the item whose capsule does not parse; the others succeed', async () => {
    const { nodes, grant, hashes } = await storedSetup();
    const node = nodes[0];
    const good = [capsuleFor(grant), capsuleFor(grant)];
    const bad = badCapsule(grant);
    expect(bad).toHaveLength(105);
    expect(() => Capsule.fromBytes(bad)).toThrow(DecodeError);
    const reply = unwrapReply(
      await node.service.reencrypt({
        items: [
          { id: 10, levels: [{ pathHash: hashes[1], capsule: good[0] }] },
          { id: 11, levels: [{ pathHash: hashes[1], capsule: bad }] },
          { id: 12, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[1], capsule: good[1] }] },
        ],
      }),
    );
    expect(reply.items.map((x) => x.id)).toEqual([10, 11, 12]);
    expect(reply.items[1]).toEqual({ id: 11, error: 'BAD_CAPSULE' });
    verifyCfrag(grant, good[0], ok(reply.items[0]).cfrag);
    verifyCfrag(grant, good[1], ok(reply.items[2]).cfrag);
    expect(node.engine.calls).toBe(1);
    expect(node.engine.items).toBe(3);
  });

  it('answers a batch of 100 mixed items item by item, in order, with one engine call', async () => {
    const { owner, reader, nodes, grant, hashes } = await storedSetup({ grant: { expiry: T + 2 * DAY } });
    const node = nodes[0];
    const revoked = makeGrant(
      owner,
      reader,
      nodes.map((n) => n.identity.card),
    );
    await node.service.storePolicy(revoked.request(0));
    await node.service.revoke({ revocation: revocationOf(revoked) });
    const kinds = ['path', 'id', 'unknown', 'bad', 'revoked'] as const;
    const items: ReencryptRequest['items'] = [];
    const capsules: Uint8Array[] = [];
    for (let i = 0; i < 100; i++) {
      const kind = kinds[i % kinds.length];
      const capsule = kind === 'bad' ? badCapsule(grant) : capsuleFor(grant);
      capsules.push(capsule);
      const id = 1000 + i;
      if (kind === 'path')
        items.push({
          id,
          levels: [
            { pathHash: hashes[0], capsule },
            { pathHash: hashes[1], capsule },
          ],
        });
      else if (kind === 'id')
        items.push({ id, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[1], capsule }] });
      else if (kind === 'unknown') items.push({ id, levels: [{ pathHash: randomBytes(32), capsule }] });
      else if (kind === 'bad') items.push({ id, levels: [{ pathHash: hashes[1], capsule }] });
      else items.push({ id, policyId: revoked.policy.body.id, levels: [{ pathHash: hashes[1], capsule }] });
    }
    const reply = unwrapReply(await node.service.reencrypt({ items }));
    expect(reply.items).toHaveLength(100);
    reply.items.forEach((got, i) => {
      expect(got.id).toBe(1000 + i);
      const kind = kinds[i % kinds.length];
      if (kind === 'path' || kind === 'id') {
        const r = ok(got);
        expect(r.level).toBe(kind === 'path' ? 1 : 0);
        expect(hex(r.policyId)).toBe(hex(grant.policy.body.id));
        verifyCfrag(grant, capsules[i], r.cfrag);
      } else {
        expect(got).toEqual({
          id: 1000 + i,
          error: kind === 'unknown' ? 'NOT_FOUND' : kind === 'bad' ? 'BAD_CAPSULE' : 'REVOKED',
        });
      }
    });
    expect(node.engine.calls).toBe(1);
    expect(node.engine.items).toBe(60);
  });

  it('chooses deterministically among live policies of one level: longest-lived, then lowest id', async () => {
    const owner = Identity.generate();
    const reader = Identity.generate();
    const [a, b] = await Promise.all([makeNode(), makeNode()]);
    const cards = [a.identity.card, b.identity.card];
    const opts = { m: 1, n: 2 };
    const shorter = makeGrant(owner, reader, cards, { ...opts, expiry: T + 10 * DAY });
    const longer = makeGrant(owner, reader, cards, { ...opts, expiry: T + 20 * DAY });
    const twinX = makeGrant(owner, reader, cards, { ...opts, expiry: T + 20 * DAY });
    // Stored in opposite orders on the two nodes.
    for (const g of [shorter, longer]) await a.service.storePolicy(g.request(0));
    for (const g of [longer, shorter]) await b.service.storePolicy(g.request(1));
    const capsule = capsuleFor(longer);
    const item = { id: 1, levels: [{ pathHash: longer.pathHash, capsule }] };
    for (const node of [a, b]) {
      for (let k = 0; k < 3; k++) {
        const got = ok(await one(node, item));
        expect(hex(got.policyId)).toBe(hex(longer.policy.body.id));
        verifyCfrag(longer, capsule, got.cfrag);
      }
    }
    // A tie on expiry: the lower policy id, on both nodes, every time.
    await a.service.storePolicy(twinX.request(0));
    await b.service.storePolicy(twinX.request(1));
    const want = [longer, twinX].sort((x, y) =>
      hex(x.policy.body.id).localeCompare(hex(y.policy.body.id)),
    )[0];
    for (const node of [a, b]) {
      for (let k = 0; k < 3; k++) {
        expect(hex(ok(await one(node, item)).policyId)).toBe(hex(want.policy.body.id));
      }
    }
  });

  it('maps engine failures: BAD_CAPSULE stays, BAD_KFRAG and INTERNAL become INTERNAL; passes the signal', async () => {
    let seen: AbortSignal | undefined;
    const engine: ReencryptEngine = {
      async reencryptBatch(items, signal) {
        seen = signal;
        const errors = ['BAD_CAPSULE', 'BAD_KFRAG', 'INTERNAL'] as const;
        return items.map((_, i) => ({ error: errors[i % 3] }));
      },
    };
    const node = await makeNode({ engine });
    const g = makeGrant(Identity.generate(), Identity.generate(), [node.identity.card], { m: 1, n: 1 });
    await node.service.storePolicy(g.request(0));
    const capsule = capsuleFor(g);
    const controller = new AbortController();
    const reply = unwrapReply(
      await node.service.reencrypt(
        { items: [0, 1, 2].map((id) => ({ id, levels: [{ pathHash: g.pathHash, capsule }] })) },
        controller.signal,
      ),
    );
    expect(reply.items).toEqual([
      { id: 0, error: 'BAD_CAPSULE' },
      { id: 1, error: 'INTERNAL' },
      { id: 2, error: 'INTERNAL' },
    ]);
    expect(seen).toBe(controller.signal);
  });
});

// ================================================================================= revoke

describe('leaving (decommission)', () => {
  it('refuses new stores and handoffs once leaving, after those in flight finish; takes them again if it ends', async () => {
    const { owner, reader, nodes } = await setup();
    const node = nodes[0];
    const cards = nodes.map((n) => n.identity.card);
    const first = makeGrant(owner, reader, cards);
    const inFlight = node.service.storePolicy(first.request(0));
    const left = node.service.beginLeaving();
    await expectWireError(node.service.storePolicy(makeGrant(owner, reader, cards).request(0)), 'CAPACITY');
    await left;
    // the store already running when leaving began completed: it is there to be handed over
    await inFlight;
    expect(await node.store.getPolicy(first.policy.body.id)).toBeDefined();
    node.service.endLeaving();
    const again = makeGrant(owner, reader, cards);
    await node.service.storePolicy(again.request(0));
    expect(await node.store.getPolicy(again.policy.body.id)).toBeDefined();
  });
});

describe('revoke', () => {
  it('deletes the kfrag, keeps a tombstone until expiry + 1 day, and receipts', async () => {
    const { nodes, grant } = await storedSetup();
    const node = nodes[3];
    const revocation = revocationOf(grant);
    node.clock.now = T + 60;
    const reply = unwrapReply(await node.service.revoke({ revocation }));
    const receipt = verifyReceipt(reply.receipt, {
      now: T + 60,
      op: 'revoke',
      nodeId: node.id,
      policyDigest: grant.digest,
      kfragId: grant.kfragIds[3],
    });
    expect(receipt.body.time).toBe(T + 60);
    expect(await node.store.getPolicy(grant.policy.body.id)).toBeUndefined();
    expect(await node.store.countPolicies()).toBe(0);
    const t = (await node.store.getTombstone(grant.policy.body.id))!;
    expect(t).toBeDefined();
    expect(t.expiry).toBe(grant.policy.body.expiry + TOMBSTONE_GRACE_SECONDS);
    expect(t.expiry).toBe(T + 31 * DAY);
    expect(t.receivedAt).toBe(T + 60);
    expect(hex(t.revocation)).toBe(hex(revocation));
    // Kept until then, swept at then.
    node.clock.now = t.expiry - 1;
    expect(await node.service.sweep()).toEqual({ policies: 0, tombstones: 0 });
    node.clock.now = t.expiry;
    expect(await node.service.sweep()).toEqual({ policies: 0, tombstones: 1 });
    expect(await node.store.getTombstone(grant.policy.body.id)).toBeUndefined();
  });

  it("keeps the owner's DHT value of the revocation with the tombstone and hands it on to publish; ignores a wrong one", async () => {
    const { nodes, grant } = await storedSetup();
    const revocation = revocationOf(grant);
    const id = revocationDhtId(grant.policy.body.id);
    const ownerKey = grant.owner.card.signingKey.toCompressedBytes();
    const value = encodeDhtValue(
      { namespace: 'revocation', id, seq: T, record: revocation },
      grant.owner.signer,
    );
    await nodes[0].service.revoke({ revocation, published: value });
    expect(hex((await nodes[0].store.getTombstone(grant.policy.body.id))!.published!)).toBe(hex(value));
    expect(nodes[0].published.map((p) => [hex(p.key), hex(p.value)])).toEqual([
      [hex(makeDhtKey('revocation', ownerKey, id)), hex(value)],
    ]);
    // signed by someone else, or carrying another record: the revocation counts, the value does not
    const stranger = Identity.generate();
    const forged = encodeDhtValue(
      { namespace: 'revocation', id, seq: T, record: revocation },
      stranger.signer,
    );
    await nodes[1].service.revoke({ revocation, published: forged });
    expect((await nodes[1].store.getTombstone(grant.policy.body.id))!.published).toBeUndefined();
    expect(nodes[1].published).toEqual([]);
    // a later repeat without a value keeps the one held
    await nodes[0].service.revoke({ revocation });
    expect(hex((await nodes[0].store.getTombstone(grant.policy.body.id))!.published!)).toBe(hex(value));
  });

  it('keeps the tombstone until the later of the policy and revocation expiry, plus a day', async () => {
    const { nodes, grant } = await storedSetup();
    const node = nodes[0];
    const early = makeRevocation(
      grant.owner,
      { id: grant.policy.body.id, expiry: T + DAY },
      { now: T },
    ).bytes;
    await node.service.revoke({ revocation: early });
    const t = (await node.store.getTombstone(grant.policy.body.id))!;
    expect(t.expiry).toBe(T + 31 * DAY); // not T + 2 days
    expect(t.expiry).toBe(tombstoneUntil(decodeRevocation(early).body, grant.policy.body.expiry));
  });

  it('refuses a revocation by another owner of a held policy (RecordMismatchError), keeps the policy', async () => {
    const { stranger, nodes, grant } = await storedSetup();
    const node = nodes[0];
    await expectMismatch(
      node.service.revoke({ revocation: revocationOf(grant, stranger) }),
      'revocation.owner',
    );
    expect(await node.store.getPolicy(grant.policy.body.id)).toBeDefined();
    expect(await node.store.getTombstone(grant.policy.body.id)).toBeUndefined();
  });

  it('keeps a tombstone for an id it never held and receipts with zero digest and kfrag id', async () => {
    const { nodes, grant } = await setup();
    const node = nodes[0];
    const reply = unwrapReply(await node.service.revoke({ revocation: revocationOf(grant) }));
    const receipt = verifyReceipt(reply.receipt, { now: T, op: 'revoke', nodeId: node.id });
    expect(hex(receipt.body.policy)).toBe(ZERO32);
    expect(hex(receipt.body.kfrag)).toBe(ZERO32);
    const t = (await node.store.getTombstone(grant.policy.body.id))!;
    expect(t.expiry).toBe(grant.policy.body.expiry + TOMBSTONE_GRACE_SECONDS);
    expect(await node.store.countTombstones()).toBe(1);
    // A late store of that id by that owner is refused.
    await expectWireError(node.service.storePolicy(grant.request(0)), 'REVOKED');
  });

  it('after a revoke: storePolicy is REVOKED, reencrypt is REVOKED by id and NOT_FOUND by path hash', async () => {
    const { nodes, grant, hashes } = await storedSetup();
    const node = nodes[1];
    await node.service.revoke({ revocation: revocationOf(grant) });
    await expectWireError(node.service.storePolicy(grant.request(1)), 'REVOKED');
    const capsule = capsuleFor(grant);
    expect(
      await one(node, { id: 1, policyId: grant.policy.body.id, levels: [{ pathHash: hashes[1], capsule }] }),
    ).toEqual({ id: 1, error: 'REVOKED' });
    expect(await one(node, { id: 2, levels: hashes.map((pathHash) => ({ pathHash, capsule })) })).toEqual({
      id: 2,
      error: 'NOT_FOUND',
    });
    // The other nodes still serve until they receive it.
    ok(await one(nodes[2], { id: 3, levels: [{ pathHash: hashes[1], capsule }] }));
  });

  it('repeating a revocation is accepted again', async () => {
    const { nodes, grant } = await storedSetup();
    const node = nodes[0];
    const revocation = revocationOf(grant);
    await node.service.revoke({ revocation });
    const again = unwrapReply(await node.service.revoke({ revocation }));
    verifyReceipt(again.receipt, { now: T, op: 'revoke', nodeId: node.id });
    expect(await node.store.countTombstones()).toBe(1);
  });

  it('refuses a forged revocation (SignatureError) and garbage (DecodeError)', async () => {
    const { stranger, nodes, grant } = await storedSetup();
    const node = nodes[0];
    const forged = revocationType.sign(
      {
        owner: grant.owner.card.bytes,
        policy: grant.policy.body.id,
        expiry: grant.policy.body.expiry,
        created: T,
      },
      stranger.signer,
    ).bytes;
    const e = await rejection(node.service.revoke({ revocation: forged }));
    expect(e).toBeInstanceOf(SignatureError);
    expect(wireCode(e)).toBe('ERR_SIGNATURE');
    const tampered = await rejection(node.service.revoke({ revocation: flip(revocationOf(grant), -1) }));
    expect(tampered).toBeInstanceOf(SignatureError);
    const garbage = await rejection(node.service.revoke({ revocation: randomBytes(120) }));
    expect(garbage).toBeInstanceOf(DecodeError);
    expect(wireCode(garbage)).toBe('MALFORMED');
    expect(await node.store.getPolicy(grant.policy.body.id)).toBeDefined();
    expect(await node.store.countTombstones()).toBe(0);
  });

  it('refuses a revocation created more than 300 s ahead (NotYetValidError)', async () => {
    const { nodes, grant } = await storedSetup();
    const node = nodes[0];
    const future = revocationOf(grant, grant.owner, T + CLOCK_SKEW_SECONDS + 1);
    const e = await rejection(node.service.revoke({ revocation: future }));
    expect(e).toBeInstanceOf(NotYetValidError);
    expect(await node.store.getPolicy(grant.policy.body.id)).toBeDefined();
  });

  // BUG (service.ts revoke()): once the owner's revocation has deleted the policy, `existing`
  // is undefined, so a revocation of the same id signed by ANYONE passes the owner check and
  // putTombstone REPLACES the owner's tombstone. #refuseIfRevoked then compares the policy's
  // owner with the stranger's and lets a replayed store of the revoked policy back in: the
  // revocation is no longer final (DESIGN.md "Any valid revocation is final").
  it("a stranger's revocation of the same id does not undo the owner's revocation", async () => {
    const { stranger, nodes, grant } = await storedSetup();
    const node = nodes[0];
    const ownerRevocation = revocationOf(grant);
    await node.service.revoke({ revocation: ownerRevocation });
    // The stranger's revocation may be refused or accepted, but must not replace the owner's.
    await node.service.revoke({ revocation: revocationOf(grant, stranger) }).catch(() => undefined);
    await expectWireError(node.service.storePolicy(grant.request(0)), 'REVOKED');
    expect(await node.store.getPolicy(grant.policy.body.id)).toBeUndefined();
    const t = (await node.store.getTombstone(grant.policy.body.id))!;
    expect(hex(t.revocation)).toBe(hex(ownerRevocation));
    expect(t.expiry).toBe(grant.policy.body.expiry + TOMBSTONE_GRACE_SECONDS);
  });
});

// ================================================================================= handoff

describe('handoff', () => {
  it('B accepts a kfrag handed over by A, receipts, and re-encrypts for the reader', async () => {
    const { nodes, grant, hashes, reader, owner } = await storedSetup();
    const a = nodes[0];
    const b = await makeNode();
    const req = await handoffRequest(grant, 0, a, b);
    const reply = unwrapReply(await b.service.handoff(req));
    verifyReceipt(reply.receipt, {
      now: T,
      op: 'handoff',
      nodeId: b.id,
      policyDigest: grant.digest,
      kfragId: grant.kfragIds[0],
    });
    const held = (await b.store.getPolicy(grant.policy.body.id))!;
    expect(held.source).toBe('handoff');
    expect(held.handoffCertificates?.map(hex)).toEqual(req.certificates.map(hex));
    expect(hex(held.assignment)).toBe(hex(grant.assignments[0].bytes));
    expect(hex(held.kfrag)).toBe(hex(grant.kfrags[0].toBytes()));
    expect(hex(held.pathHash)).toBe(hex(grant.pathHash));

    // Idempotent.
    b.clock.now = T + 30;
    expect(hex(unwrapReply(await b.service.handoff(req)).receipt)).toBe(hex(reply.receipt));

    // B's cfrag verifies and, with two designated nodes', opens the file.
    const plaintext = randomBytes(1000);
    const fileBytes = await collect(encryptFile(owner, { path: FILE_PATH, now: T }, [plaintext]).stream);
    const { header, body } = await readFileHeader([fileBytes], { now: T });
    const item = { id: 7, levels: header.body.l.map((l, i) => ({ pathHash: hashes[i], capsule: l.c })) };
    const cfrags: VerifiedCapsuleFrag[] = [];
    for (const node of [b, nodes[3], nodes[4]]) {
      const got = ok(await one(node, item));
      expect(got.level).toBe(1);
      cfrags.push(verifyCfrag(grant, header.body.l[1].c, got.cfrag));
    }
    const dek = unwrapDekWithCfrags(header, 1, reader.encryptingKey, grant.levelPublicKey, cfrags);
    expect(hex(await collect(decryptFileBody(header, dek, body)))).toBe(hex(plaintext));
  });

  it('refuses a chain that does not end at this node', async () => {
    const { nodes, grant } = await storedSetup();
    const b = await makeNode();
    const c = await makeNode();
    const toC = await handoffRequest(grant, 0, nodes[0], c);
    await expectMismatch(b.service.handoff(toC), 'handoff chain');
    expect(await b.store.countPolicies()).toBe(0);
  });

  it('refuses a certificate from a node that does not hold the kfrag', async () => {
    const { nodes, grant } = await storedSetup();
    const b = await makeNode();
    // Node 1 holds kfrag 1, not kfrag 0: its certificate for kfrag 0's chain is off the chain.
    const cert = makeHandoffCertificate(
      nodes[1].identity,
      { policyDigest: grant.digest, kfragId: grant.kfragIds[0], to: b.id },
      { now: T },
    );
    const req = { ...(await handoffRequest(grant, 0, nodes[0], b)), certificates: [cert.bytes] };
    await expectMismatch(b.service.handoff(req), 'handoff[0].from');
  });

  it('refuses a certificate in the holder’s name signed by another key (SignatureError)', async () => {
    const { nodes, grant, stranger } = await storedSetup();
    const b = await makeNode();
    const good = await handoffRequest(grant, 0, nodes[0], b);
    const body = {
      policy: grant.digest,
      kfrag: grant.kfragIds[0],
      from: nodes[0].id,
      to: b.id,
      time: T,
    };
    const forged = handoffType.sign(body, stranger.signer).bytes;
    const e = await rejection(b.service.handoff({ ...good, certificates: [forged] }));
    expect(e).toBeInstanceOf(SignatureError);
    expect(await b.store.countPolicies()).toBe(0);
  });

  it('refuses a handoff to a designated node', async () => {
    const s = await setup();
    const [a, designated] = s.nodes;
    await a.service.storePolicy(s.grant.request(0));
    const req = await handoffRequest(s.grant, 0, a, designated);
    await expectMismatch(designated.service.handoff(req), 'handoff[0].to');
    expect(await designated.store.countPolicies()).toBe(0);
  });

  it('refuses a second kfrag of a policy it already holds one of (RecordMismatchError)', async () => {
    const { nodes, grant } = await storedSetup();
    const b = await makeNode();
    await b.service.handoff(await handoffRequest(grant, 0, nodes[0], b));
    await expectMismatch(b.service.handoff(await handoffRequest(grant, 1, nodes[1], b)), 'policy.id');
    const held = (await b.store.getPolicy(grant.policy.body.id))!;
    expect(hex(held.kfrag)).toBe(hex(grant.kfrags[0].toBytes()));
  });

  it('refuses a sealed kfrag that is not the one the chain hands over', async () => {
    const { nodes, grant } = await storedSetup();
    const b = await makeNode();
    const req = await handoffRequest(grant, 0, nodes[0], b);
    const wrong = sealKFrag(grant.kfrags[1], grant.digest, b.id, b.identity.card.encryptingKey);
    await expectMismatch(b.service.handoff({ ...req, sealedKFrag: wrong }), 'sealed-kfrag.kfrag');
    // Sealed to another node's key: does not open.
    const c = await makeNode();
    const toC = sealKFrag(
      KeyFrag.fromBytes(grant.kfrags[0].toBytes()).skipVerification(),
      grant.digest,
      c.id,
      c.identity.card.encryptingKey,
    );
    expect(await rejection(b.service.handoff({ ...req, sealedKFrag: toC }))).toBeInstanceOf(DecryptionError);
    expect(await b.store.countPolicies()).toBe(0);
  });

  it('refuses a revoked policy (REVOKED)', async () => {
    const { nodes, grant } = await storedSetup();
    const b = await makeNode();
    const req = await handoffRequest(grant, 0, nodes[0], b);
    await b.service.revoke({ revocation: revocationOf(grant) });
    await expectWireError(b.service.handoff(req), 'REVOKED');
    expect(await b.store.countPolicies()).toBe(0);
  });

  it('refuses an expired policy, a lifetime over the limit and a full store', async () => {
    const { nodes, grant } = await storedSetup({ grant: { expiry: T + 10 * DAY } });
    const short = await makeNode({ maxPolicyLifetime: 5 * DAY });
    await expectWireError(short.service.handoff(await handoffRequest(grant, 0, nodes[0], short)), 'CAPACITY');
    const full = await makeNode({ capacity: 0 });
    await expectWireError(full.service.handoff(await handoffRequest(grant, 0, nodes[0], full)), 'CAPACITY');
    const late = await makeNode();
    const req = await handoffRequest(grant, 0, nodes[0], late);
    late.clock.now = T + 10 * DAY;
    expect(await rejection(late.service.handoff(req))).toBeInstanceOf(ExpiredError);
  });
});

// ================================================================================= sweep

describe('sweep', () => {
  it('deletes expired policies and tombstones past keep-until, counts them, keeps live ones', async () => {
    const owner = Identity.generate();
    const reader = Identity.generate();
    const node = await makeNode();
    const cards = [node.identity.card];
    const one = { m: 1, n: 1 };
    const soon = makeGrant(owner, reader, cards, { ...one, expiry: T + DAY });
    const soon2 = makeGrant(owner, reader, cards, { ...one, expiry: T + DAY - 5 });
    const later = makeGrant(owner, reader, cards, { ...one, expiry: T + 3 * DAY });
    const revoked = makeGrant(owner, reader, cards, { ...one, expiry: T + DAY / 2 });
    for (const g of [soon, soon2, later, revoked]) await node.service.storePolicy(g.request(0));
    await node.service.revoke({ revocation: revocationOf(revoked) }); // tombstone until T + 1.5 days
    expect(await node.service.sweep()).toEqual({ policies: 0, tombstones: 0 });

    node.clock.now = T + DAY;
    expect(await node.service.sweep()).toEqual({ policies: 2, tombstones: 0 });
    expect(await node.store.getPolicy(soon.policy.body.id)).toBeUndefined();
    expect(await node.store.getPolicy(soon2.policy.body.id)).toBeUndefined();
    expect(await node.store.getPolicy(later.policy.body.id)).toBeDefined();
    expect(await node.store.getTombstone(revoked.policy.body.id)).toBeDefined();

    node.clock.now = T + DAY + DAY / 2;
    expect(await node.service.sweep()).toEqual({ policies: 0, tombstones: 1 });
    expect(await node.store.getTombstone(revoked.policy.body.id)).toBeUndefined();
    expect(await node.store.countPolicies()).toBe(1);

    node.clock.now = T + 3 * DAY;
    expect(await node.service.sweep()).toEqual({ policies: 1, tombstones: 0 });
    expect(await node.store.countPolicies()).toBe(0);
    expect(await node.service.sweep()).toEqual({ policies: 0, tombstones: 0 });
  });

  it('sweeps more than one page (500) of expired policies', async () => {
    const node = await makeNode();
    const owner = Identity.generate();
    const reader = Identity.generate();
    const g = makeGrant(owner, reader, [node.identity.card], { m: 1, n: 1, expiry: T + 100 });
    await node.service.storePolicy(g.request(0));
    const held = (await node.store.getPolicy(g.policy.body.id))!;
    // Copies of the record under other ids, straight into the store.
    await node.store.putPolicies(
      Array.from({ length: 1100 }, (_, i) => ({ ...held, policyId: randomBytes(16), expiry: T + 1 + i })),
    );
    expect(await node.store.countPolicies()).toBe(1101);
    node.clock.now = T + 2000;
    expect(await node.service.sweep()).toEqual({ policies: 1101, tombstones: 0 });
    expect(await node.store.countPolicies()).toBe(0);
  });
});

// ================================================================================= status

describe('status and nodeRecord', () => {
  it('reports peers, policies, uptime, version and time', async () => {
    const { owner, reader } = await setup();
    const node = await makeNode({ peers: 7 });
    expect(await node.service.status()).toEqual({
      peers: 7,
      policies: 0,
      uptime: 0,
      version: VERSION,
      time: T,
    });
    const g = makeGrant(owner, reader, [node.identity.card], { m: 1, n: 1 });
    await node.service.storePolicy(g.request(0));
    node.clock.now = T + 125;
    expect(await node.service.status()).toEqual({
      peers: 7,
      policies: 1,
      uptime: 125,
      version: VERSION,
      time: T + 125,
    });
    await node.service.revoke({ revocation: revocationOf(g) });
    expect((await node.service.status()).policies).toBe(0);
    // A clock stepped back never gives a negative uptime; no peers callback means 0 peers.
    node.clock.now = T - 50;
    expect((await node.service.status()).uptime).toBe(0);
    const bare = await makeNode();
    expect((await bare.service.status()).peers).toBe(0);
  });

  it('returns the signed node record and the status', async () => {
    const node = await makeNode({ peers: 3, maxPolicyLifetime: 9 * DAY, capacity: 42 });
    node.clock.now = T + 10;
    const reply = unwrapReply(await node.service.nodeRecord());
    expect(hex(reply.nodeRecord)).toBe(hex(node.nodeRecord));
    const record = verifyNodeRecord(reply.nodeRecord, { now: T + 10, nodeId: node.id });
    expect(record.body.maxLifetime).toBe(9 * DAY);
    expect(record.body.capacity).toBe(42);
    expect(record.body.version).toBe(VERSION);
    expect(reply.status).toEqual({ peers: 3, policies: 0, uptime: 10, version: VERSION, time: T + 10 });
    expect(hex(node.service.nodeId)).toBe(hex(node.id));
  });
});
