import { createHmac, hkdfSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidPathError } from '../src/errors.js';
import { Identity } from '../src/identity/identity.js';
import {
  levelKeys,
  PathHashSecret,
  pathHashes,
  pathHashSecret,
  pathKey,
  pathPublicKey,
} from '../src/pathkeys.js';
import { SecretKey } from '../src/umbral/keys.js';
import { hex, unhex, utf8 } from './helpers/bytes.js';

const owner = Identity.fromSeed(unhex('01'.repeat(32)));
const reader = Identity.fromSeed(unhex('02'.repeat(32)));
const other = Identity.fromSeed(unhex('03'.repeat(32)));
const PATH = '/projects/x/report.pdf';
const PREFIXES = ['/', '/projects', '/projects/x', '/projects/x/report.pdf'];

const pk = (id: Identity) => id.encryptingKey.publicKey();
const hashesHex = (hs: Uint8Array[]) => hs.map(hex);

describe('path keys', () => {
  it('are the owner path factory key of "thresh/v1/path/<epoch>/<prefix>"', () => {
    const expected = owner.pathKeyFactory().makeKey(utf8('thresh/v1/path/7//projects/x'));
    expect(hex(pathKey(owner, '/projects/x', 7).toBEBytes())).toBe(hex(expected.toBEBytes()));
    expect(pathPublicKey(owner, '/projects/x', 7).equals(expected.publicKey())).toBe(true);
  });

  it('differ per prefix, per epoch and per owner', () => {
    const seen = new Set<string>();
    for (const id of [owner, reader]) {
      for (const epoch of [0, 1, 0xffffffff]) {
        for (const prefix of PREFIXES) seen.add(hex(pathPublicKey(id, prefix, epoch).toCompressedBytes()));
      }
    }
    expect(seen.size).toBe(2 * 3 * PREFIXES.length);
  });

  it('levelKeys gives one entry per prefix, root first, or from a depth', () => {
    const all = levelKeys(owner, PATH, 3);
    expect(all.map((l) => [l.depth, l.prefix, l.epoch])).toEqual(PREFIXES.map((p, i) => [i, p, 3]));
    for (const l of all) {
      expect(hex(l.secretKey.toBEBytes())).toBe(hex(pathKey(owner, l.prefix, 3).toBEBytes()));
      expect(l.publicKey.equals(l.secretKey.publicKey())).toBe(true);
    }
    const deep = levelKeys(owner, PATH, 3, 2);
    expect(deep.map((l) => l.prefix)).toEqual(PREFIXES.slice(2));
    expect(deep.map((l) => l.depth)).toEqual([2, 3]);
    expect(levelKeys(owner, '/', 0).map((l) => l.prefix)).toEqual(['/']);
  });

  it('levelKeys takes an epoch per level', () => {
    const ls = levelKeys(owner, PATH, (prefix, depth) => (prefix === '/projects/x' ? 5 : depth));
    expect(ls.map((l) => l.epoch)).toEqual([0, 1, 5, 3]);
    expect(ls[2].publicKey.equals(pathPublicKey(owner, '/projects/x', 5))).toBe(true);
  });

  it('known answers (frozen format)', () => {
    expect(levelKeys(owner, PATH, 0).map((l) => hex(l.publicKey.toCompressedBytes()))).toEqual(
      PATH_KEY_KAT.epoch0,
    );
    expect(hex(pathPublicKey(owner, PATH, 1).toCompressedBytes())).toBe(PATH_KEY_KAT.leafEpoch1);
  });

  it.each([
    ['a non-canonical prefix', () => pathKey(owner, '/a/', 0), InvalidPathError],
    ['an NFD prefix', () => pathKey(owner, '/e\u0301', 0), InvalidPathError],
    ['a relative prefix', () => pathKey(owner, 'a', 0), InvalidPathError],
    ['a negative epoch', () => pathKey(owner, '/a', -1), InvalidArgumentError],
    ['an epoch over u32', () => pathKey(owner, '/a', 2 ** 32), InvalidArgumentError],
    ['a fractional epoch', () => pathKey(owner, '/a', 1.5), InvalidArgumentError],
    ['a non-Identity owner', () => pathKey({} as Identity, '/a', 0), InvalidArgumentError],
    ['fromDepth past the path', () => levelKeys(owner, '/a', 0, 2), InvalidArgumentError],
    ['a negative fromDepth', () => levelKeys(owner, '/a', 0, -1), InvalidArgumentError],
    ['a bad per-level epoch', () => levelKeys(owner, '/a', () => -1), InvalidArgumentError],
  ])('rejects %s', (_, fn, E) => {
    expect(fn).toThrow(E);
  });
});

describe('path hashes', () => {
  const ownerSide = () => pathHashSecret(owner.encryptingKey, pk(owner), pk(reader));
  const readerSide = () => pathHashSecret(reader.encryptingKey, pk(owner), pk(reader));

  it('owner and reader compute the same hashes', () => {
    for (const epoch of [0, 9]) {
      expect(hashesHex(pathHashes(ownerSide(), PATH, epoch))).toEqual(
        hashesHex(pathHashes(readerSide(), PATH, epoch)),
      );
    }
  });

  it('follow the documented formula', () => {
    // Independent recomputation with node:crypto.
    const shared = pk(reader)
      .point.mul(BigInt(`0x${hex(owner.encryptingKey.toBEBytes())}`), false)
      .toBytes();
    const info = Buffer.concat([
      utf8('thresh/v1/path-hash'),
      pk(owner).toCompressedBytes(),
      pk(reader).toCompressedBytes(),
    ]);
    const S = Buffer.from(hkdfSync('sha256', shared, Buffer.alloc(0), info, 32));
    const expected = PREFIXES.map((prefix) => {
      const epoch = Buffer.alloc(4);
      epoch.writeUInt32BE(258);
      return createHmac('sha256', S).update(epoch).update(prefix, 'utf8').digest('hex');
    });
    expect(hashesHex(pathHashes(readerSide(), PATH, 258))).toEqual(expected);
  });

  it('every level and every epoch differs', () => {
    const s = ownerSide();
    const all = [...pathHashes(s, PATH, 0), ...pathHashes(s, PATH, 1)].map(hex);
    expect(new Set(all).size).toBe(2 * PREFIXES.length);
    for (const h of pathHashes(s, PATH, 0)) expect(h.length).toBe(32);
  });

  it('any other pair gets other hashes: another reader, another owner, swapped roles', () => {
    const mine = new Set(hashesHex(pathHashes(ownerSide(), PATH, 0)));
    const others = [
      pathHashSecret(owner.encryptingKey, pk(owner), pk(other)), // another reader
      pathHashSecret(other.encryptingKey, pk(other), pk(reader)), // another owner
      pathHashSecret(reader.encryptingKey, pk(reader), pk(owner)), // roles swapped
      pathHashSecret(owner.encryptingKey, pk(owner), pk(owner)), // the owner as its own reader
    ];
    for (const s of others) for (const h of pathHashes(s, PATH, 0)) expect(mine.has(hex(h))).toBe(false);
  });

  it('from a depth, and with an epoch per level', () => {
    const s = ownerSide();
    const full = hashesHex(pathHashes(s, PATH, 4));
    expect(hashesHex(pathHashes(s, PATH, 4, 2))).toEqual(full.slice(2));
    expect(hex(s.hash('/projects', 4))).toBe(full[1]);
    const mixed = hashesHex(pathHashes(s, PATH, (_, depth) => (depth === 3 ? 1 : 4)));
    expect(mixed.slice(0, 3)).toEqual(full.slice(0, 3));
    expect(mixed[3]).toBe(hex(s.hash(PATH, 1)));
  });

  it('known answers (frozen format)', () => {
    expect(hashesHex(pathHashes(ownerSide(), PATH, 0))).toEqual(PATH_HASH_KAT.epoch0);
    expect(hashesHex(pathHashes(ownerSide(), PATH, 1, 3))).toEqual(PATH_HASH_KAT.leafEpoch1);
  });

  it('the secret never prints, and wipe() clears it', () => {
    const s = ownerSide();
    expect(String(s)).toBe('PathHashSecret:...');
    expect(JSON.stringify({ s })).toBe('{"s":"PathHashSecret:..."}');
    const before = hex(s.hash('/', 0));
    s.wipe();
    expect(hex(s.hash('/', 0))).not.toBe(before);
    expect(s).toBeInstanceOf(PathHashSecret);
  });

  it.each([
    [
      'a key of neither party',
      () => pathHashSecret(other.encryptingKey, pk(owner), pk(reader)),
      InvalidArgumentError,
    ],
    ['a non-SecretKey', () => pathHashSecret({} as SecretKey, pk(owner), pk(reader)), InvalidArgumentError],
    [
      'a non-PublicKey',
      () => pathHashSecret(owner.encryptingKey, pk(owner), {} as never),
      InvalidArgumentError,
    ],
    ['a non-secret', () => pathHashes({} as PathHashSecret, PATH, 0), InvalidArgumentError],
    ['a non-canonical path', () => pathHashes(ownerSide(), '/a//b', 0), InvalidPathError],
    ['a bad epoch', () => pathHashes(ownerSide(), PATH, 2 ** 32), InvalidArgumentError],
  ])('rejects %s', (_, fn, E) => {
    expect(fn).toThrow(E);
  });

  it('works with a random reader', () => {
    const r = SecretKey.random();
    const a = pathHashes(pathHashSecret(owner.encryptingKey, pk(owner), r.publicKey()), PATH, 0);
    const b = pathHashes(pathHashSecret(r, pk(owner), r.publicKey()), PATH, 0);
    expect(hashesHex(a)).toEqual(hashesHex(b));
  });
});

// Generated once by this code: owner = Identity.fromSeed(01 x 32), reader = fromSeed(02 x 32).
// Path keys: public keys of PATH's levels; path hashes: between owner and reader.
const PATH_KEY_KAT = {
  epoch0: [
    '031223b5d18073214edcc0398a752511f75a39df78869ef7c86353ace6397c00c6',
    '03112ce1baed8b3e21fcd7b39039c3159f2c64069e7c955d08a1b3c7d8a927c761',
    '03433470aca4840dab530ebecf1bf5555cdcfd1d27017b98de27d8f5321fbd5817',
    '02c595f9309d9348c221921beb6036753b721d3a9c5792089c201843564ffa7ceb',
  ],
  leafEpoch1: '03887462a434abcfb3a257f27aae21b488f6d99e82d182101c8f72d6c86c3a3c69',
};
const PATH_HASH_KAT = {
  epoch0: [
    'eba72b6833c2921477bb95d4c5352b9481f3282f09c47c699d2607ce465b1a4e',
    '53f221580ffd70be2873607440104fe8e326bc1a29a5e23ebb43fa69bf534e8c',
    '79c96f10d27c25f2e540a1772f911cf0ca6c5d87a7ec705f4dcc945926cd5eec',
    '5ef556bf4003ae22ed8e8df8f34926b754794daf8bb1098eb8528a1a77c53471',
  ],
  leafEpoch1: ['a942a991f0de278a558abfb5b647c78ca2f55066f8d4120c0ef6e6639362b338'],
};
