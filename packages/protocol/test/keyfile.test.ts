import { createHash, scrypt as nodeScryptCb } from 'node:crypto';
import { promisify } from 'node:util';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { describe, expect, it } from 'vitest';
import {
  CorruptKeyFileError,
  DecodeError,
  InvalidArgumentError,
  isThreshError,
  TooLargeError,
  UnsupportedVersionError,
  WrongPassphraseError,
} from '../src/errors.js';
import { Card } from '../src/identity/card.js';
import { Identity } from '../src/identity/identity.js';
import {
  FROM_PASSPHRASE_SCRYPT,
  identityFromPassphrase,
  KEY_FILE_SCRYPT,
  type KeyFileScryptParams,
  openKeyFile,
  readKeyFileCard,
  sealKeyFile,
} from '../src/identity/keyfile.js';
import { scrypt as nobleScrypt } from '../src/identity/scrypt-noble.js';
import { scrypt as nodeScrypt } from '../src/identity/scrypt-node.js';
import { counterStreamBytes, hex, unhex, utf8 } from './helpers/bytes.js';
import { replayRng } from './helpers/rng.js';

const referenceScrypt = promisify(nodeScryptCb) as (
  password: Uint8Array,
  salt: Uint8Array,
  keylen: number,
  opts: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** Cheap parameters for most tests (the explicit test option). */
const FAST: KeyFileScryptParams = { logN: 4, r: 8, p: 1 };
const SEED = unhex('01'.repeat(32));
const alice = Identity.fromSeed(SEED);
const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

const fastSeal = (passphrase = 'correct horse battery staple', name = 'alice') =>
  sealKeyFile(alice, passphrase, { name, scryptParams: FAST, now: NOW });

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<unknown> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

type KeyFileJson = {
  type: string;
  version: number;
  name: string;
  card: string;
  created: number;
  kdf: { name: string; logN: number; r: number; p: number; salt: string };
  aead: { name: string; nonce: string; ciphertext: string };
  checksum: string;
};

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** H of keyfile.ts's format comment, rebuilt independently from the documented layout. */
function documentedHeader(f: KeyFileJson): Buffer {
  const name = Buffer.from(f.name, 'utf8');
  const created = Buffer.alloc(8);
  created.writeBigUInt64BE(BigInt(f.created));
  const nameLen = Buffer.alloc(2);
  nameLen.writeUInt16BE(name.length);
  return Buffer.concat([
    Buffer.from('thresh/v1/key-file\u0000'),
    Buffer.from([1]),
    Buffer.from('scrypt\u0000'),
    u32(f.kdf.logN),
    u32(f.kdf.r),
    u32(f.kdf.p),
    b64(f.kdf.salt),
    Buffer.from('xchacha20-poly1305\u0000'),
    b64(f.aead.nonce),
    created,
    Card.parse(f.card).bytes,
    nameLen,
    name,
  ]);
}

const documentedChecksum = (f: KeyFileJson): string =>
  createHash('sha256')
    .update(documentedHeader(f))
    .update(b64(f.aead.ciphertext))
    .digest()
    .subarray(0, 8)
    .toString('hex');

/** Applies `edit` to the parsed file and recomputes its checksum: a forgery, not damage. */
function forge(text: string, edit: (f: KeyFileJson) => void): string {
  const f = JSON.parse(text) as KeyFileJson;
  edit(f);
  f.checksum = documentedChecksum(f);
  return JSON.stringify(f);
}

describe('scrypt implementations', () => {
  // RFC 7914 §12.
  it.each([
    [
      '',
      '',
      16,
      1,
      1,
      '77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906',
    ],
    [
      'password',
      'NaCl',
      1024,
      8,
      16,
      'fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640',
    ],
  ])('RFC 7914 vector P=%j S=%j N=%i', async (pw, salt, N, r, p, expected) => {
    const params = { N, r, p, dkLen: 64 };
    expect(hex(await nodeScrypt(utf8(pw), utf8(salt), params))).toBe(expected);
    expect(hex(await nobleScrypt(utf8(pw), utf8(salt), params))).toBe(expected);
  });

  it('node and noble give identical bytes', async () => {
    for (const [logN, r, p, dkLen] of [
      [1, 1, 1, 32],
      [4, 8, 1, 32],
      [6, 3, 2, 17],
      [10, 8, 1, 32],
      [8, 16, 4, 64],
    ]) {
      const pw = counterStreamBytes(utf8(`pw${logN}`), 20 + logN);
      const salt = counterStreamBytes(utf8(`salt${logN}`), 16);
      const params = { N: 2 ** logN, r, p, dkLen };
      const a = await nodeScrypt(pw, salt, params);
      const b = await nobleScrypt(pw, salt, params);
      expect(hex(a)).toBe(hex(b));
      expect(a.length).toBe(dkLen);
    }
  });

  it.each([
    ['N not a power of two', { N: 1000, r: 8, p: 1, dkLen: 32 }],
    ['N = 1', { N: 1, r: 8, p: 1, dkLen: 32 }],
    ['r = 0', { N: 16, r: 0, p: 1, dkLen: 32 }],
    ['p = 0', { N: 16, r: 8, p: 0, dkLen: 32 }],
    ['dkLen = 0', { N: 16, r: 8, p: 1, dkLen: 0 }],
  ])('both reject %s with InvalidArgumentError', async (_, params) => {
    for (const f of [nodeScrypt, nobleScrypt]) {
      expect(await errorOf(f(utf8('a'), utf8('b'), params))).toBeInstanceOf(InvalidArgumentError);
    }
  });
});

describe('sealKeyFile / openKeyFile', () => {
  it('round-trips an identity, and shows name and card without the passphrase', async () => {
    const text = await fastSeal();
    const opened = await openKeyFile(text, 'correct horse battery staple');
    expect(hex(opened.exportSeed())).toBe(hex(SEED));
    expect(opened.card.equals(alice.card)).toBe(true);
    const shown = readKeyFileCard(text);
    expect(shown.name).toBe('alice');
    expect(shown.card.equals(alice.card)).toBe(true);
    // Bytes work as well as text.
    expect((await openKeyFile(utf8(text), 'correct horse battery staple')).card.equals(alice.card)).toBe(
      true,
    );
  });

  it('never holds the seed in the clear', async () => {
    const text = await fastSeal();
    expect(text).not.toContain(hex(SEED));
    expect(text).not.toContain(Buffer.from(SEED).toString('base64'));
  });

  it('uses a fresh salt and nonce every time', async () => {
    const a = JSON.parse(await fastSeal()) as KeyFileJson;
    const b = JSON.parse(await fastSeal()) as KeyFileJson;
    expect(a.kdf.salt).not.toBe(b.kdf.salt);
    expect(a.aead.nonce).not.toBe(b.aead.nonce);
    expect(a.aead.ciphertext).not.toBe(b.aead.ciphertext);
  });

  it('writes exactly the documented layout (known answer)', async () => {
    const { rng } = replayRng(counterStreamBytes(utf8('keyfile-kat'), 40));
    const text = await sealKeyFile(alice, 'correct horse battery staple', {
      name: 'alice',
      scryptParams: { logN: 10, r: 8, p: 1 },
      now: NOW,
      rng,
    });
    const f = JSON.parse(text) as KeyFileJson;
    expect(Object.keys(f)).toEqual(['type', 'version', 'name', 'card', 'created', 'kdf', 'aead', 'checksum']);
    expect(f).toMatchObject({
      type: 'thresh-key-file',
      version: 1,
      name: 'alice',
      card: alice.card.toString(),
      created: NOW,
      kdf: { name: 'scrypt', logN: 10, r: 8, p: 1 },
      aead: { name: 'xchacha20-poly1305' },
    });
    expect(text.endsWith('}\n')).toBe(true);
    // The checksum and the AEAD follow the documented formulas, recomputed here independently.
    expect(f.checksum).toBe(documentedChecksum(f));
    const key = await referenceScrypt(utf8('correct horse battery staple'), b64(f.kdf.salt), 32, {
      N: 1024,
      r: 8,
      p: 1,
      maxmem: 64 * 1024 * 1024,
    });
    const seed = xchacha20poly1305(key, b64(f.aead.nonce), documentedHeader(f)).decrypt(
      b64(f.aead.ciphertext),
    );
    expect(hex(seed)).toBe(hex(SEED));
    // Frozen: a change here is a format change (bump the version, update docs/PROTOCOL.md).
    expect({
      salt: f.kdf.salt,
      nonce: f.aead.nonce,
      ciphertext: f.aead.ciphertext,
      checksum: f.checksum,
    }).toEqual(KEYFILE_KAT);
  });

  it('opens with the real default parameters (N = 2^17)', async () => {
    const text = await sealKeyFile(alice, 'a real passphrase', { name: 'default' });
    const f = JSON.parse(text) as KeyFileJson;
    expect(f.kdf).toMatchObject({ logN: KEY_FILE_SCRYPT.logN, r: KEY_FILE_SCRYPT.r, p: KEY_FILE_SCRYPT.p });
    expect(KEY_FILE_SCRYPT).toEqual({ logN: 17, r: 8, p: 1 });
    expect((await openKeyFile(text, 'a real passphrase')).card.equals(alice.card)).toBe(true);
  });

  it('a wrong passphrase is a WrongPassphraseError', async () => {
    const text = await fastSeal();
    for (const wrong of ['correct horse battery stapler', 'Correct horse battery staple', ' ']) {
      expect(await errorOf(openKeyFile(text, wrong))).toBeInstanceOf(WrongPassphraseError);
    }
  });

  it('normalizes passphrases with NFKC', async () => {
    // Full-width letters (compatibility) and a combining accent (canonical) both fold.
    const text = await fastSeal('ｐａｓｓ cafe\u0301');
    expect((await openKeyFile(text, 'pass café')).card.equals(alice.card)).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['not a string', 42 as unknown as string],
    ['an unpaired surrogate', 'pass\ud800word'],
  ])('rejects a passphrase that is %s', async (_, passphrase) => {
    expect(await errorOf(sealKeyFile(alice, passphrase, { scryptParams: FAST }))).toBeInstanceOf(
      InvalidArgumentError,
    );
    const text = await fastSeal();
    expect(await errorOf(openKeyFile(text, passphrase))).toBeInstanceOf(InvalidArgumentError);
  });

  it.each([
    ['a control character', 'ali\u001bce'],
    ['a C1 control character', 'ali\u009bce'],
    ['too long', 'x'.repeat(257)],
    ['not a string', 7 as unknown as string],
  ])('rejects a name with %s', async (_, name) => {
    expect(await errorOf(sealKeyFile(alice, 'pw', { name, scryptParams: FAST }))).toBeInstanceOf(
      InvalidArgumentError,
    );
  });

  it('accepts an empty name (the default) and a Unicode one', async () => {
    const t1 = await sealKeyFile(alice, 'pw', { scryptParams: FAST });
    expect(readKeyFileCard(t1).name).toBe('');
    const t2 = await sealKeyFile(alice, 'pw', { name: 'Zoë 日本 😀', scryptParams: FAST });
    expect(readKeyFileCard(t2).name).toBe('Zoë 日本 😀');
    expect((await openKeyFile(t2, 'pw')).card.equals(alice.card)).toBe(true);
  });

  it.each([
    [{ logN: 21, r: 8, p: 1 }],
    [{ logN: 17, r: 17, p: 1 }],
    [{ logN: 17, r: 8, p: 5 }],
    [{ logN: 0, r: 8, p: 1 }],
    [{ logN: 4.5, r: 8, p: 1 }],
  ])('refuses to write scrypt parameters outside the caps: %j', async (scryptParams) => {
    expect(await errorOf(sealKeyFile(alice, 'pw', { scryptParams }))).toBeInstanceOf(InvalidArgumentError);
  });

  it('rejects a non-Identity', async () => {
    expect(await errorOf(sealKeyFile({} as Identity, 'pw', { scryptParams: FAST }))).toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

describe('reading damaged and hostile key files', () => {
  it('any damaged character gives a typed error, never WrongPassphraseError, without running scrypt', async () => {
    const text = await fastSeal();
    let corrupt = 0;
    for (let i = 0; i < text.length; i++) {
      if (/\s/.test(text[i])) continue; // whitespace between JSON tokens is not content
      const replacement = text[i] === 'A' ? 'B' : 'A';
      const damaged = text.slice(0, i) + replacement + text.slice(i + 1);
      const e = await errorOf(openKeyFile(damaged, 'correct horse battery staple'));
      expect(isThreshError(e), `position ${i}: ${String(e)}`).toBe(true);
      expect(e).not.toBeInstanceOf(WrongPassphraseError);
      if (e instanceof CorruptKeyFileError) corrupt++;
    }
    expect(corrupt).toBeGreaterThan(0);
  });

  it.each<[string, (f: KeyFileJson) => void]>([
    ['the ciphertext', (f) => (f.aead.ciphertext = `B${f.aead.ciphertext.slice(1)}`)],
    ['the salt', (f) => (f.kdf.salt = `B${f.kdf.salt.slice(1)}`)],
    ['the nonce', (f) => (f.aead.nonce = `B${f.aead.nonce.slice(1)}`)],
    ['the name', (f) => (f.name = 'mallory')],
    ['the creation time', (f) => (f.created += 1)],
    ['logN', (f) => (f.kdf.logN += 1)],
    ['r', (f) => (f.kdf.r -= 1)],
    ['the checksum', (f) => (f.checksum = `${f.checksum[0] === '0' ? '1' : '0'}${f.checksum.slice(1)}`)],
  ])('a changed field (%s) with the old checksum is a CorruptKeyFileError', async (_, edit) => {
    const f = JSON.parse(await fastSeal()) as KeyFileJson;
    edit(f);
    const text = JSON.stringify(f);
    expect(await errorOf(openKeyFile(text, 'correct horse battery staple'))).toBeInstanceOf(
      CorruptKeyFileError,
    );
    expect(await errorOf(() => readKeyFileCard(text))).toBeInstanceOf(CorruptKeyFileError);
  });

  it.each<[string, (f: KeyFileJson) => void]>([
    ['the name', (f) => (f.name = 'mallory')],
    ['the creation time', (f) => (f.created += 1)],
    ['logN', (f) => (f.kdf.logN = 5)],
    ['r', (f) => (f.kdf.r = 4)],
  ])(
    'a forged header field (%s, checksum recomputed) fails the AEAD: parameters cannot be swapped',
    async (_, edit) => {
      const text = forge(await fastSeal(), edit);
      expect(await errorOf(openKeyFile(text, 'correct horse battery staple'))).toBeInstanceOf(
        WrongPassphraseError,
      );
    },
  );

  it("a forged card is caught (the AEAD binds it), and cannot borrow another identity's card", async () => {
    const bob = Identity.fromSeed(unhex('02'.repeat(32)));
    const text = forge(await fastSeal(), (f) => (f.card = bob.card.toString()));
    expect(readKeyFileCard(text).card.equals(bob.card)).toBe(true); // shown, but ...
    expect(await errorOf(openKeyFile(text, 'correct horse battery staple'))).toBeInstanceOf(
      WrongPassphraseError,
    );
  });

  it.each<[string, (f: KeyFileJson) => void, string]>([
    ['logN > 20', (f) => (f.kdf.logN = 21), 'key file.kdf.logN'],
    ['logN = 31', (f) => (f.kdf.logN = 31), 'key file.kdf.logN'],
    ['r > 16', (f) => (f.kdf.r = 17), 'key file.kdf.r'],
    ['p > 4', (f) => (f.kdf.p = 5), 'key file.kdf.p'],
    ['p = 0', (f) => (f.kdf.p = 0), 'key file.kdf.p'],
  ])('caps hostile scrypt parameters (%s) with DecodeError, before any work', async (_, edit, field) => {
    const text = forge(await fastSeal(), edit);
    const started = Date.now();
    const e = await errorOf(openKeyFile(text, 'correct horse battery staple'));
    expect(e).toBeInstanceOf(DecodeError);
    expect((e as DecodeError).field).toBe(field);
    expect(Date.now() - started).toBeLessThan(500);
    expect(await errorOf(() => readKeyFileCard(text))).toBeInstanceOf(DecodeError);
  });

  it.each<[string, (f: Record<string, unknown> & KeyFileJson) => void, new (...a: never[]) => Error]>([
    ['another type', (f) => (f.type = 'ssh-key'), DecodeError],
    ['version 2', (f) => (f.version = 2), UnsupportedVersionError],
    ['a string version', (f) => ((f as Record<string, unknown>).version = '1'), DecodeError],
    ['an unknown key', (f) => (f.extra = 1), DecodeError],
    ['a missing key', (f) => delete (f as Partial<KeyFileJson>).checksum, DecodeError],
    ['another kdf', (f) => (f.kdf.name = 'argon2id'), DecodeError],
    ['another aead', (f) => (f.aead.name = 'aes-256-gcm'), DecodeError],
    ['a short salt', (f) => (f.kdf.salt = Buffer.alloc(15).toString('base64')), DecodeError],
    ['a long nonce', (f) => (f.aead.nonce = Buffer.alloc(25).toString('base64')), DecodeError],
    ['a short ciphertext', (f) => (f.aead.ciphertext = Buffer.alloc(47).toString('base64')), DecodeError],
    ['unpadded base64', (f) => (f.kdf.salt = f.kdf.salt.replace(/=+$/, '')), DecodeError],
    ['non-canonical base64', (f) => (f.kdf.salt = `${f.kdf.salt.slice(0, 21)}B==`), DecodeError],
    ['a bad card', (f) => (f.card = `${f.card.slice(0, -1)}x`), DecodeError],
    ['a card with spaces', (f) => (f.card = ` ${f.card}`), DecodeError],
    [
      'an uppercase checksum',
      (f) => (f.checksum = f.checksum.toUpperCase().replace(/^[0-9]/, 'A')),
      DecodeError,
    ],
    ['a negative time', (f) => (f.created = -1), DecodeError],
    ['a control character in the name', (f) => (f.name = '\u0007'), DecodeError],
  ])('rejects a file with %s', async (_, edit, E) => {
    const f = JSON.parse(await fastSeal()) as Record<string, unknown> & KeyFileJson;
    edit(f);
    const text = JSON.stringify(f);
    expect(await errorOf(openKeyFile(text, 'correct horse battery staple'))).toBeInstanceOf(E);
    expect(await errorOf(() => readKeyFileCard(text))).toBeInstanceOf(E);
  });

  it.each<[string, string | Uint8Array, new (...a: never[]) => Error]>([
    ['empty text', '', DecodeError],
    ['not JSON', 'thresh-key-file', DecodeError],
    ['a JSON array', '[]', DecodeError],
    ['JSON null', 'null', DecodeError],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), DecodeError],
    ['oversize text', ' '.repeat(16 * 1024 + 1), TooLargeError],
    ['oversize bytes', new Uint8Array(16 * 1024 + 1).fill(0x20), TooLargeError],
    ['a number', 42 as unknown as string, InvalidArgumentError],
  ])('rejects %s', async (_, contents, E) => {
    expect(await errorOf(openKeyFile(contents, 'pw'))).toBeInstanceOf(E);
    expect(await errorOf(() => readKeyFileCard(contents))).toBeInstanceOf(E);
  });

  it('tolerates reformatting (the checksum covers values, not whitespace)', async () => {
    const text = JSON.stringify(JSON.parse(await fastSeal()));
    expect((await openKeyFile(text, 'correct horse battery staple')).card.equals(alice.card)).toBe(true);
  });
});

describe('identityFromPassphrase', () => {
  it('derives the documented seed with the real parameters (known answer: the same on every machine)', async () => {
    expect(FROM_PASSPHRASE_SCRYPT).toEqual({ logN: 18, r: 8, p: 1 });
    const id = await identityFromPassphrase('correct horse battery staple', 'alice');
    const seed = await referenceScrypt(
      utf8('correct horse battery staple'),
      utf8('thresh/v1/from-passphrase/alice'),
      32,
      {
        N: 2 ** 18,
        r: 8,
        p: 1,
        maxmem: 512 * 1024 * 1024,
      },
    );
    expect(hex(id.exportSeed())).toBe(hex(seed));
    expect(id.card.toString()).toBe(FROM_PASSPHRASE_KAT_CARD);
  });

  it.each([
    ['an empty name', 'pw', ''],
    ['a name with a control character', 'pw', 'a\nb'],
    ['a non-string name', 'pw', undefined as unknown as string],
    ['an empty passphrase', '', 'alice'],
  ])('rejects %s', async (_, passphrase, name) => {
    expect(await errorOf(identityFromPassphrase(passphrase, name))).toBeInstanceOf(InvalidArgumentError);
  });
});

// Generated once by this code (seed 01 x 32, rng = sha256-counter("keyfile-kat"), logN 10).
const KEYFILE_KAT = {
  salt: 'Z7iFH2N+a0ppxKRkBIM1Xw==',
  nonce: 'L9NtjrawdbmXnD/ahzPQ4bTuICssgf4j',
  ciphertext: 'rVyCinXOsq4OdXDx3Lqd/1MzUdoS3fsCtPE+bp75ryjv7q4i0UoFK9mB6LGDrm2y',
  checksum: '2faafb7cb61cb66e',
};
// identityFromPassphrase('correct horse battery staple', 'alice'), generated once by this code.
const FROM_PASSPHRASE_KAT_CARD =
  'thresh1CQN2sQAWYnq2AaFeCp2sHUJUuPBi86urM2w8WEeCS14CMUkgHfLMizcvn2xVveLeVoLsuC6do8xUg3EADVsKEKdZ2Dw4LiAp';
