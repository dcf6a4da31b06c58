import { describe, expect, it } from 'vitest';
import { pack } from '../src/codec/index.js';
import { Identity } from '../src/identity/identity.js';
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
  assignmentType,
  decodePolicy,
  kfragPrecursor,
  MAX_CLOCK_SKEW_SECONDS,
  makePolicy,
  nodeIdOf,
  POLICY_MAX_BYTES,
  type PolicyBody,
  PRE_ALGORITHM,
  policyType,
  RecordMismatchError,
  VerifiedPolicy,
  verifyPolicy,
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

/** The policy body as plain values, for forging variants. */
function rawBody(): Record<string, unknown> {
  return { ...f.policy.body, alg: { ...f.policy.body.alg }, nodes: [...f.policy.body.nodes] };
}

describe('policy: round trip', () => {
  it('decodes to the same body and bytes, and verifies', () => {
    const d = decodePolicy(f.policy.bytes);
    expect(d.body).toEqual(f.policy.body);
    expect(same(d.bytes, f.policy.bytes)).toBe(true);
    expect(d.digest()).toEqual(f.policy.digest());
    const v = verifyPolicy(f.policy.bytes, { now: NOW, owner: f.owner.card, reader: f.reader.card });
    expect(v).toBeInstanceOf(VerifiedPolicy);
    expect(v.owner.equals(f.owner.card)).toBe(true);
    expect(v.reader.equals(f.reader.card)).toBe(true);
    expect(v.digest).toEqual(f.policy.digest());
    expect(v.body.m).toBe(3);
    expect(v.body.n).toBe(5);
    expect(v.body.epoch).toBe(2);
    expect(v.body.alg).toEqual({ pre: PRE_ALGORITHM, aead: 1 });
    expect(v.body.id).toHaveLength(16);
    expect(v.body.precursor).toEqual(kfragPrecursor(f.kfrags[1]));
    expect(v.nodeIds).toEqual(f.nodeIds);
    expect(v.indexOfNode(f.nodeIds[3])).toBe(3);
    expect(v.designates(nodeIdOf(f.stranger.card))).toBe(false);
    expect(String(v)).toMatch(/^VerifiedPolicy:/);
  });

  it('decoded fields are plain Uint8Arrays, not views of the input', () => {
    const input = f.policy.bytes.slice();
    const d = decodePolicy(input);
    expect(Object.getPrototypeOf(d.body.id)).toBe(Uint8Array.prototype);
    const id = d.body.id.slice();
    input.fill(0);
    expect(d.body.id).toEqual(id);
  });

  it('a fresh id each time, the digest covers the whole record', () => {
    const g = fixture();
    expect(g.policy.body.id).not.toEqual(f.policy.body.id);
    expect(g.policy.digest()).not.toEqual(f.policy.digest());
  });

  it('accepts 1-of-1 and 255-of-255 (about 9.5 KB)', () => {
    const one = fixture({ m: 1, n: 1 });
    expect(verifyPolicy(one.policy.bytes, { now: NOW }).body.n).toBe(1);
    const ids = Array.from({ length: 255 }, () => nodeIdOf(Identity.generate().card));
    const big = makePolicy(
      f.owner,
      {
        reader: f.reader.card,
        pathHash: f.pathHash,
        threshold: 255,
        shares: 255,
        expiry: NOW + DAY,
        precursor: f.policy.body.precursor,
        nodeIds: ids,
      },
      { now: NOW },
    );
    expect(big.bytes.length).toBeLessThan(POLICY_MAX_BYTES);
    expect(big.bytes.length).toBeGreaterThan(9000);
    expect(verifyPolicy(big.bytes, { now: NOW }).nodeIds).toHaveLength(255);
  });
});

describe('policy: builder guards', () => {
  const init = () => ({
    reader: f.reader.card,
    pathHash: f.pathHash,
    threshold: 3,
    shares: 5,
    expiry: NOW + DAY,
    precursor: f.policy.body.precursor,
    nodeIds: f.nodeIds,
  });
  it.each([
    ['m > n', { threshold: 6 }],
    ['m = 0', { threshold: 0 }],
    ['n > 255', { shares: 256 }],
    ['node count != n', { shares: 4, threshold: 2 }],
    ['repeated node', { nodeIds: [...f.nodeIds.slice(0, 4), f.nodeIds[0]] }],
    ['expiry <= notBefore', { notBefore: NOW + 2 * DAY }],
    ['expiry in the past', { expiry: NOW - 1 }],
    ['short path hash', { pathHash: new Uint8Array(31) }],
    ['bad precursor', { precursor: new Uint8Array(33) }],
    ['bad node id', { nodeIds: [new Uint8Array(33), ...f.nodeIds.slice(1)] }],
    ['unknown aead', { aead: 7 }],
    ['reader not a card', { reader: f.reader }],
    ['epoch over u32', { epoch: 2 ** 32 }],
  ])('%s -> InvalidArgumentError', (_, patch) => {
    expectThrow(
      () => makePolicy(f.owner, { ...init(), ...patch } as never, { now: NOW }),
      InvalidArgumentError,
    );
  });
  it('rejects a non-identity owner and a bad now', () => {
    expectThrow(() => makePolicy(f.owner.card as never, init(), { now: NOW }), InvalidArgumentError);
    expectThrow(() => makePolicy(f.owner, init(), { now: -5 }), InvalidArgumentError);
  });
});

describe('policy: malformed input', () => {
  it('truncated -> DecodeError', () => {
    for (const t of truncations(f.policy.bytes)) expect(outcome(() => decodePolicy(t))).toBe('DecodeError');
  });

  it('oversized -> TooLargeError', () => {
    const big = new Uint8Array(POLICY_MAX_BYTES + 1);
    big.set(f.policy.bytes);
    expectThrow(() => decodePolicy(big), TooLargeError);
  });

  it('trailing bytes -> DecodeError', () => {
    const b = new Uint8Array(f.policy.bytes.length + 1);
    b.set(f.policy.bytes);
    expect(outcome(() => decodePolicy(b))).toBe('DecodeError');
  });

  it('wrong tag, and a record of another type -> DecodeError', () => {
    expectThrow(
      () => decodePolicy(forge('policz', rawBody(), f.owner.signer)),
      DecodeError,
      /wrong type tag/,
    );
    expectThrow(() => decodePolicy(f.assignments[0].bytes), DecodeError, /wrong type tag/);
    // Over the assignment's 512-byte cap before its tag is even read.
    expect(outcome(() => assignmentType.decode(f.policy.bytes))).toMatch(/DecodeError|TooLargeError/);
    expectThrow(() => decodePolicy(f.map.bytes), DecodeError);
  });

  it('wrong major version -> UnsupportedVersionError; a newer minor decodes', () => {
    expectThrow(() => decodePolicy(forge('policy', rawBody(), f.owner.signer, 2)), UnsupportedVersionError);
    expectThrow(() => decodePolicy(forge('policy', rawBody(), f.owner.signer, 0)), UnsupportedVersionError);
    const newer = forge('policy', { ...rawBody(), future: 'field' }, f.owner.signer, 1, 3);
    expect(verifyPolicy(newer, { now: NOW }).body).not.toHaveProperty('future');
  });

  it('not an envelope -> DecodeError', () => {
    for (const v of [1, 'x', [], ['policy', 1, 0], ['policy', 1, 0, 'x'], ['policy', 1, 0, [1, 2]]]) {
      expect(outcome(() => decodePolicy(pack(v)))).toBe('DecodeError');
    }
    expect(outcome(() => decodePolicy(pack(['policy', 1, 0, [pack(rawBody()), new Uint8Array(63)]])))).toBe(
      'DecodeError',
    );
  });

  const fields = Object.keys(f.policy.body);
  it.each(fields)('wrong types in %s -> DecodeError', (field) => {
    for (const bad of WRONG_VALUES) {
      const body = { ...rawBody(), [field]: bad };
      expect(
        outcome(() => decodePolicy(forge('policy', body, f.owner.signer))),
        `${field}=${String(bad)}`,
      ).toBe('DecodeError');
    }
    const { [field]: _, ...missing } = rawBody();
    expect(outcome(() => decodePolicy(forge('policy', missing, f.owner.signer)))).toBe('DecodeError');
  });

  it.each<[string, Partial<Record<keyof PolicyBody, unknown>>]>([
    ['m > n', { m: 6 }],
    ['m = 0', { m: 0 }],
    ['n = 256', { n: 256 }],
    ['fewer nodes than n', { nodes: f.nodeIds.slice(0, 4) }],
    ['repeated node', { nodes: [...f.nodeIds.slice(0, 4), f.nodeIds[1]] }],
    ['node id not a point', { nodes: [new Uint8Array(33).fill(5), ...f.nodeIds.slice(1)] }],
    ['precursor not a point', { precursor: new Uint8Array(33).fill(5) }],
    ['expiry = notBefore', { expiry: NOW }],
    ['unknown pre', { alg: { pre: 'umbral-secp256k1-v0.9', aead: 1 } }],
    ['unknown aead', { alg: { pre: PRE_ALGORITHM, aead: 3 } }],
    ['card version 2', { owner: Uint8Array.of(2, ...f.owner.card.bytes.subarray(1)) }],
    ['15-byte id', { id: new Uint8Array(15) }],
    ['negative epoch', { epoch: -1 }],
  ])('rule broken: %s -> DecodeError', (_, patch) => {
    expect(outcome(() => decodePolicy(forge('policy', { ...rawBody(), ...patch }, f.owner.signer)))).toBe(
      'DecodeError',
    );
  });

  it('bad signature -> SignatureError', () => {
    const b = f.policy.bytes.slice();
    b[b.length - 10] ^= 1; // inside the signature's s
    expect(outcome(() => verifyPolicy(b, { now: NOW }))).toMatch(/SignatureError|DecodeError/);
    const body = f.policy.bytes.slice();
    const at = body.indexOf(0x6d); // a byte early in the body
    body[at + 30] ^= 1;
    expect(outcome(() => verifyPolicy(body, { now: NOW }))).toMatch(/SignatureError|DecodeError/);
  });

  it('a body re-signed by another key -> SignatureError', () => {
    expectThrow(
      () => verifyPolicy(forge('policy', rawBody(), f.stranger.signer), { now: NOW }),
      SignatureError,
    );
    // Signed by the stranger and naming the stranger as owner: valid, but not the expected owner.
    const own = forge('policy', { ...rawBody(), owner: f.stranger.card.bytes }, f.stranger.signer);
    expect(verifyPolicy(own, { now: NOW }).owner.equals(f.stranger.card)).toBe(true);
    expectThrow(() => verifyPolicy(own, { now: NOW, owner: f.owner.card }), RecordMismatchError);
  });

  it('a signature of another record type does not pass', () => {
    // The assignment's signature over the same body bytes under another tag.
    const bodyBytes = pack(rawBody());
    const sig = f.owner.signer.sign(
      new Uint8Array([...new TextEncoder().encode('thresh/v1/assignment\0'), ...bodyBytes]),
    );
    const bytes = pack(['policy', 1, 0, [bodyBytes, sig.toBEBytes()]]);
    expectThrow(() => verifyPolicy(bytes, { now: NOW }), SignatureError);
  });
});

describe('policy: time and context', () => {
  it('expired -> ExpiredError; valid up to the last second', () => {
    const exp = f.policy.body.expiry;
    expect(verifyPolicy(f.policy.bytes, { now: exp - 1 })).toBeInstanceOf(VerifiedPolicy);
    const e = expectThrow(() => verifyPolicy(f.policy.bytes, { now: exp }), ExpiredError) as ExpiredError;
    expect(e.code).toBe('ERR_EXPIRED');
    expect(e.expiry).toBe(exp);
  });

  it('not yet valid beyond the 300 s skew -> NotYetValidError', () => {
    const nb = f.policy.body.notBefore;
    expect(verifyPolicy(f.policy.bytes, { now: nb - MAX_CLOCK_SKEW_SECONDS })).toBeInstanceOf(VerifiedPolicy);
    const e = expectThrow(
      () => verifyPolicy(f.policy.bytes, { now: nb - MAX_CLOCK_SKEW_SECONDS - 1 }),
      NotYetValidError,
    ) as NotYetValidError;
    expect(e.code).toBe('ERR_NOT_YET_VALID');
    const later = forge('policy', { ...rawBody(), notBefore: NOW + DAY }, f.owner.signer);
    expectThrow(() => verifyPolicy(later, { now: NOW }), NotYetValidError);
    expect(verifyPolicy(later, { now: NOW + DAY })).toBeInstanceOf(VerifiedPolicy);
  });

  it('a policy that does not name the node, or another reader -> RecordMismatchError', () => {
    expect(verifyPolicy(f.policy, { now: NOW, nodeId: f.nodeIds[4] }).designates(f.nodeIds[4])).toBe(true);
    expectThrow(
      () => verifyPolicy(f.policy, { now: NOW, nodeId: nodeIdOf(f.stranger.card) }),
      RecordMismatchError,
      /not designated/,
    );
    expectThrow(() => verifyPolicy(f.policy, { now: NOW, reader: f.stranger.card }), RecordMismatchError);
    expectThrow(() => verifyPolicy(f.policy, { now: NOW, nodeId: new Uint8Array(33) }), InvalidArgumentError);
  });

  it('verifier guards its arguments', () => {
    expectThrow(() => verifyPolicy(f.assignments[0] as never, { now: NOW }), InvalidArgumentError);
    expectThrow(() => verifyPolicy('x' as never), InvalidArgumentError);
    expectThrow(() => verifyPolicy(f.policy, { now: 1.5 }), InvalidArgumentError);
    expectThrow(() => new VerifiedPolicy(Symbol('x') as never, f.policy), InvalidArgumentError);
  });

  it('policyType is the tag "policy"', () => {
    expect(policyType.tag).toBe('policy');
  });
});
