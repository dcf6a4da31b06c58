import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SignedType } from '../src/codec/envelope.js';
import { pack } from '../src/codec/msgpack.js';
import {
  DecodeError,
  ExpiredError,
  InvalidArgumentError,
  InvalidPathError,
  isThreshError,
  NotYetValidError,
  SignatureError,
  TooLargeError,
} from '../src/errors.js';
import { Identity } from '../src/identity/identity.js';
import { pathPublicKey } from '../src/pathkeys.js';
import {
  DIR_KEY_MAX_BYTES,
  type DirKeyBody,
  DirKeyRecord,
  issueDirKey,
  VerifiedDirKey,
  verifyDirKey,
} from '../src/records/dir-key.js';
import { hex, unhex } from './helpers/bytes.js';

const owner = Identity.fromSeed(unhex('01'.repeat(32)));
const writer = Identity.fromSeed(unhex('02'.repeat(32)));
const mallory = Identity.fromSeed(unhex('03'.repeat(32)));
const NOW = 1_767_225_600;
const DAY = 86_400;
const DIR = '/projects/x';

const issue = (opts: Partial<Parameters<typeof issueDirKey>[2]> = {}) =>
  issueDirKey(owner, DIR, { expiresAt: NOW + DAY, now: NOW, ...opts });

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

function fieldOf(fn: () => unknown): string {
  const e = errorOf(fn);
  expect(e).toBeInstanceOf(DecodeError);
  return (e as DecodeError).field;
}

/** A body signed by `signer` as it is, to test what verify (not issue) rejects. */
function signedBody(edit: (b: DirKeyBody) => void, signer = owner): Uint8Array {
  const body = structuredClone(issue().record.body);
  edit(body);
  return DirKeyRecord.sign(body, signer.signer).bytes;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

describe('issueDirKey / verifyDirKey', () => {
  it('round-trips, with one level per prefix holding that level public key', () => {
    const issued = issue({ epochs: 2 });
    expect(issued).toBeInstanceOf(VerifiedDirKey);
    const v = verifyDirKey(issued.bytes, { now: NOW });
    expect(v.directory).toBe(DIR);
    expect(v.owner.equals(owner.card)).toBe(true);
    expect(v.notBefore).toBe(NOW);
    expect(v.expiry).toBe(NOW + DAY);
    expect(v.created).toBe(NOW);
    expect(v.writer).toBeUndefined();
    expect(v.levels.map((l) => [l.depth, l.prefix, l.epoch])).toEqual([
      [0, '/', 2],
      [1, '/projects', 2],
      [2, '/projects/x', 2],
    ]);
    for (const l of v.levels) expect(l.publicKey.equals(pathPublicKey(owner, l.prefix, l.epoch))).toBe(true);
    expect(v.allowsWriter(writer.card)).toBe(true);
    expect(hex(v.record.digest())).toBe(hex(issued.record.digest()));
    // The owner's expected card, when the caller knows it.
    expect(verifyDirKey(issued.bytes, { now: NOW, owner: owner.card }).directory).toBe(DIR);
  });

  it('restricts to one writer, and takes an epoch per level', () => {
    const v = verifyDirKey(
      issue({ writer: writer.card, epochs: (prefix) => (prefix === DIR ? 7 : 0) }).bytes,
      { now: NOW },
    );
    expect(v.writer?.equals(writer.card)).toBe(true);
    expect(v.allowsWriter(writer.card)).toBe(true);
    expect(v.allowsWriter(mallory.card)).toBe(false);
    expect(v.levels.map((l) => l.epoch)).toEqual([0, 0, 7]);
  });

  it('canonicalizes the directory it is given, and covers the root alone', () => {
    expect(issueDirKey(owner, '/projects/x/', { expiresAt: NOW + 1, now: NOW }).directory).toBe(DIR);
    const root = verifyDirKey(issueDirKey(owner, '/', { expiresAt: NOW + 1, now: NOW }).bytes, { now: NOW });
    expect(root.levels.map((l) => l.prefix)).toEqual(['/']);
  });

  it('the deepest, longest directory still fits the size cap', () => {
    // 15 segments of 255 bytes then 49 of 1 byte: depth 64, 3938 bytes: the longest prefixes.
    const dir = `/${[...Array(15).fill('x'.repeat(255)), ...Array(49).fill('y')].join('/')}`;
    const issued = issueDirKey(owner, dir, { expiresAt: NOW + 1, now: NOW, writer: writer.card });
    expect(issued.bytes.length).toBeLessThanOrEqual(DIR_KEY_MAX_BYTES);
    expect(verifyDirKey(issued.bytes, { now: NOW }).levels).toHaveLength(65);
  });

  it.each([
    ['expiry at notBefore', () => issue({ expiresAt: NOW }), InvalidArgumentError],
    [
      'expiry before notBefore',
      () => issue({ notBefore: NOW + 10, expiresAt: NOW + 5 }),
      InvalidArgumentError,
    ],
    ['a fractional time', () => issue({ expiresAt: NOW + 0.5 }), InvalidArgumentError],
    ['a missing expiry', () => issueDirKey(owner, DIR, {} as never), InvalidArgumentError],
    ['a bad directory', () => issueDirKey(owner, 'projects', { expiresAt: NOW + 1 }), InvalidPathError],
    ['a bad epoch', () => issue({ epochs: -1 }), InvalidArgumentError],
    ['a non-Card writer', () => issue({ writer: {} as never }), InvalidArgumentError],
    [
      'a non-Identity owner',
      () => issueDirKey({} as never, DIR, { expiresAt: NOW + 1 }),
      InvalidArgumentError,
    ],
  ])('issue rejects %s', (_, fn, E) => {
    expect(fn).toThrow(E);
  });

  it('judges time by `now`: expired at expiry, not-before up to 300 s ahead', () => {
    const bytes = issue({ notBefore: NOW + 300, expiresAt: NOW + 1000 }).bytes;
    expect(verifyDirKey(bytes, { now: NOW }).notBefore).toBe(NOW + 300);
    expect(() => verifyDirKey(bytes, { now: NOW - 1 })).toThrow(NotYetValidError);
    expect(verifyDirKey(bytes, { now: NOW + 999 }).expiry).toBe(NOW + 1000);
    expect(() => verifyDirKey(bytes, { now: NOW + 1000 })).toThrow(ExpiredError);
    expect(() => verifyDirKey(bytes, { now: NOW + 10 * DAY })).toThrow(ExpiredError);
    // Default clock: a record issued now for a day verifies now.
    expect(
      verifyDirKey(issueDirKey(owner, DIR, { expiresAt: Math.floor(Date.now() / 1000) + DAY }).bytes)
        .directory,
    ).toBe(DIR);
  });
});

describe('verifyDirKey rejects', () => {
  const good = issue({ writer: writer.card });

  it('any changed byte of the signed body', () => {
    const bytes = good.bytes;
    const at = indexOf(bytes, good.record.bodyBytes);
    expect(at).toBeGreaterThan(0);
    for (let i = at; i < at + good.record.bodyBytes.length; i++) {
      const t = bytes.slice();
      t[i] ^= 0x01;
      const e = errorOf(() => verifyDirKey(t, { now: NOW }));
      expect(isThreshError(e), `byte ${i}: ${String(e)}`).toBe(true);
    }
    // A flip inside a field value (not the framing) decodes and is caught by the signature.
    const t = bytes.slice();
    t[at + good.record.bodyBytes.length - 3] ^= 0x01; // inside `created`
    expect(errorOf(() => verifyDirKey(t, { now: NOW }))).toBeInstanceOf(SignatureError);
  });

  it('any changed byte of the signature', () => {
    const bytes = good.bytes;
    const sig = good.record.signature.toBEBytes();
    const at = indexOf(bytes, sig);
    expect(at).toBe(bytes.length - 64);
    for (let i = at; i < bytes.length; i++) {
      const t = bytes.slice();
      t[i] ^= 0x80;
      const e = errorOf(() => verifyDirKey(t, { now: NOW }));
      expect(e instanceof SignatureError || e instanceof DecodeError, `byte ${i}: ${String(e)}`).toBe(true);
    }
  });

  it('a record signed by someone else than the owner card inside it', () => {
    expect(
      errorOf(() =>
        verifyDirKey(
          signedBody(() => {}, mallory),
          { now: NOW },
        ),
      ),
    ).toBeInstanceOf(SignatureError);
    // Mallory's own record is valid, but not the owner the caller expects.
    const own = issueDirKey(mallory, DIR, { expiresAt: NOW + DAY, now: NOW }).bytes;
    expect(verifyDirKey(own, { now: NOW }).owner.equals(mallory.card)).toBe(true);
    expect(errorOf(() => verifyDirKey(own, { now: NOW, owner: owner.card }))).toBeInstanceOf(SignatureError);
  });

  it('a record of another type, or another type signed with the same key', () => {
    const body = issue().record.body;
    const other = new SignedType<DirKeyBody>('policy', DirKeyRecord.schema);
    const asPolicy = other.sign(body, owner.signer);
    expect(errorOf(() => verifyDirKey(asPolicy.bytes, { now: NOW }))).toBeInstanceOf(DecodeError);
    // Same body and signature re-tagged as a dir-key: the signature covers the tag.
    const retagged = pack(['dir-key', 1, 0, [asPolicy.bodyBytes, asPolicy.signature.toBEBytes()]]);
    expect(errorOf(() => verifyDirKey(retagged, { now: NOW }))).toBeInstanceOf(SignatureError);
  });

  it.each<[string, (b: DirKeyBody) => void, string]>([
    ['a missing level', (b) => b.levels.pop(), 'dir-key.levels'],
    ['an extra level', (b) => b.levels.push({ ...b.levels[2], prefix: '/projects/x/y' }), 'dir-key.levels'],
    ['no root level', (b) => b.levels.shift(), 'dir-key.levels'],
    ['levels out of order', (b) => b.levels.reverse(), 'dir-key.levels.0.prefix'],
    ['a wrong prefix', (b) => (b.levels[1].prefix = '/project'), 'dir-key.levels.1.prefix'],
    ['levels of another directory', (b) => (b.directory = '/projects/y'), 'dir-key.levels.2.prefix'],
    ['a non-canonical directory', (b) => (b.directory = '/projects/x/'), 'dir-key.directory'],
    ['an NFD directory', (b) => (b.directory = '/e\u0301'), 'dir-key.directory'],
    ['a relative directory', (b) => (b.directory = 'projects'), 'dir-key.directory'],
    [
      'an invalid level key (x >= p)',
      (b) => (b.levels[0].publicKey = unhex(`02${'ff'.repeat(32)}`)),
      'dir-key.levels.0.publicKey',
    ],
    ['a short level key', (b) => (b.levels[0].publicKey = new Uint8Array(32)), 'dir-key.levels.0.publicKey'],
    ['an epoch over u32', (b) => (b.levels[0].epoch = 2 ** 32), 'dir-key.levels.0.epoch'],
    ['expiry at notBefore', (b) => (b.expiry = b.notBefore), 'dir-key.expiry'],
    ['a bad writer card', (b) => (b.writer = new Uint8Array(67)), 'dir-key.writer'],
    ['no levels', (b) => (b.levels = []), 'dir-key.levels'],
    ['a negative time', (b) => (b.created = -1), 'dir-key.created'],
  ])('%s', (_, edit, field) => {
    // Signed with DirKeyRecord.sign bypassing issueDirKey, or rejected already when signing.
    let bytes: Uint8Array;
    try {
      bytes = signedBody(edit);
    } catch (e) {
      expect(e).toBeInstanceOf(DecodeError);
      expect((e as DecodeError).field).toBe(field);
      return;
    }
    expect(fieldOf(() => verifyDirKey(bytes, { now: NOW }))).toBe(field);
  });

  it('oversize input', () => {
    const big = new Uint8Array(DIR_KEY_MAX_BYTES + 1);
    expect(errorOf(() => verifyDirKey(big, { now: NOW }))).toBeInstanceOf(TooLargeError);
  });

  it.each([
    ['empty input', new Uint8Array(0)],
    ['a bare map', pack({ a: 1 })],
    ['an envelope without a signature', pack(['dir-key', 1, 0, [new Uint8Array(3)]])],
    ['a body that is not msgpack bytes', pack(['dir-key', 1, 0, ['body', new Uint8Array(64)]])],
  ])('%s', (_, bytes) => {
    expect(errorOf(() => verifyDirKey(bytes, { now: NOW }))).toBeInstanceOf(DecodeError);
  });

  it('bad options', () => {
    expect(() => verifyDirKey(good.bytes, { now: -1 })).toThrow(InvalidArgumentError);
    expect(() => verifyDirKey(good.bytes, { now: NOW, owner: {} as never })).toThrow(InvalidArgumentError);
  });
});

describe('verifyDirKey on hostile input only throws typed errors', () => {
  const good = issue({ writer: writer.card }).bytes;
  const typedOnly = (bytes: Uint8Array) => {
    try {
      verifyDirKey(bytes, { now: NOW });
    } catch (e) {
      if (!isThreshError(e)) throw e;
    }
  };

  it('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => typedOnly(b)),
      { numRuns: 2000 },
    );
  });

  it('random changes to a valid record (or the same record back)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        (edits) => {
          const t = good.slice();
          for (const [i, x] of edits) t[i] ^= x;
          try {
            const v = verifyDirKey(t, { now: NOW });
            // Only the unsigned envelope minor version may change and still verify.
            expect(hex(v.record.bodyBytes)).toBe(hex(verifyDirKey(good, { now: NOW }).record.bodyBytes));
          } catch (e) {
            if (!isThreshError(e)) throw e;
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('random envelopes and bodies', () => {
    const value = fc.anything({
      maxDepth: 3,
      withTypedArray: false,
      withBigInt: false,
      withDate: false,
      withMap: false,
      withSet: false,
      withObjectString: false,
      withBoxedValues: false,
      withNullPrototype: false,
      withSparseArray: false,
    });
    fc.assert(
      fc.property(value, fc.uint8Array({ minLength: 64, maxLength: 64 }), (body, sig) => {
        typedOnly(pack(['dir-key', 1, 0, [pack(body), sig]]));
        typedOnly(pack(['dir-key', 1, 0, body]));
      }),
      { numRuns: 500 },
    );
  });
});
