import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  collect,
  decryptFileBody,
  encryptFile,
  encryptFileAsWriter,
  levelIndex,
  readFileHeader,
  unwrapDekAsOwner,
  unwrapDekWithCfrags,
  unwrapDekWithLevelKey,
} from '../src/file/file.js';
import { FileHeaderType, preamble } from '../src/file/header.js';
import {
  Capsule,
  CapsuleFrag,
  DecodeError,
  DecryptionError,
  generateKFrags,
  Identity,
  InvalidArgumentError,
  reencrypt,
  ThreshError,
} from '../src/index.js';
import { pathKey } from '../src/pathkeys.js';
import { issueDirKey } from '../src/records/dir-key.js';

const owner = Identity.generate();
const reader = Identity.generate();
const CHUNK = 4096;

function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Splits bytes into pieces of pseudo-random sizes, as a stream would deliver them. */
function* pieces(b: Uint8Array, seed = 7): Generator<Uint8Array> {
  let o = 0;
  let x = seed;
  while (o < b.length) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (x % 9000);
    yield b.subarray(o, o + n);
    o += n;
  }
}

async function encryptBytes(plain: Uint8Array, path = '/team/reports/q3.pdf', extra = {}) {
  const f = encryptFile(owner, { path, chunkSize: CHUNK, ...extra }, pieces(plain));
  return { header: f.header, file: await collect(f.stream) };
}

async function openAsOwner(file: Uint8Array): Promise<Uint8Array> {
  const h = await readFileHeader(pieces(file, 3));
  return collect(decryptFileBody(h.header, unwrapDekAsOwner(h.header, owner), h.body));
}

describe('encrypted files', () => {
  it('round trips for the owner at every size around chunk boundaries', async () => {
    for (const n of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 5]) {
      const plain = bytesOf(n, n);
      const { file } = await encryptBytes(plain);
      expect(await openAsOwner(file), `size ${n}`).toEqual(plain);
    }
  });

  it('has one level per prefix from the root (or fromDepth) to the file, and the path in the clear', async () => {
    const { header } = await encryptBytes(new Uint8Array(10));
    expect(header.body.p).toBe('/team/reports/q3.pdf');
    expect(header.body.l.map((l) => l.d)).toEqual([0, 1, 2, 3]);
    const deep = await encryptBytes(new Uint8Array(10), '/team/reports/q3.pdf', { fromDepth: 2 });
    expect(deep.header.body.l.map((l) => l.d)).toEqual([2, 3]);
    await expect(encryptBytes(new Uint8Array(1), '/a', { fromDepth: 2 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(encryptBytes(new Uint8Array(1), 'relative/path')).rejects.toThrow(ThreshError);
  });

  it('opens with the path key of any level (the original capsule of that level)', async () => {
    const plain = bytesOf(5000);
    const { file } = await encryptBytes(plain, '/team/reports/q3.pdf', { epochs: 3 });
    const h = await readFileHeader([file]);
    for (const [depth, prefix] of ['/', '/team', '/team/reports', '/team/reports/q3.pdf'].entries()) {
      const dek = unwrapDekWithLevelKey(h.header, levelIndex(h.header, depth), pathKey(owner, prefix, 3));
      expect(
        await collect(decryptFileBody(h.header, dek, [file.subarray(12 + h.header.bytes.length)])),
      ).toEqual(plain);
    }
    // A key of another epoch does not open it.
    expect(() => unwrapDekWithLevelKey(h.header, 1, pathKey(owner, '/team', 0))).toThrow(DecryptionError);
  });

  it('opens for a granted reader through re-encryption of the granted level', async () => {
    const plain = bytesOf(2 * CHUNK + 77);
    const { file } = await encryptBytes(plain);
    const h = await readFileHeader(pieces(file));
    const levelSk = pathKey(owner, '/team', 0);
    const kfrags = generateKFrags(levelSk, reader.encryptingKey.publicKey(), owner.signer, 2, 3, false, true);
    const i = levelIndex(h.header, 1);
    const capsule = Capsule.fromBytes(h.header.body.l[i].c);
    // Two of three nodes re-encrypt; the reader verifies what comes back.
    const cfrags = kfrags
      .slice(1)
      .map((k) =>
        CapsuleFrag.fromBytes(reencrypt(capsule, k).toBytes()).verify(
          capsule,
          owner.signer.verifyingKey(),
          levelSk.publicKey(),
          reader.encryptingKey.publicKey(),
        ),
      );
    const dek = unwrapDekWithCfrags(h.header, i, reader.encryptingKey, levelSk.publicKey(), cfrags);
    expect(await collect(decryptFileBody(h.header, dek, h.body))).toEqual(plain);
  });

  it('detects tampering with any header byte, any chunk byte, truncation and trailing data', async () => {
    const plain = bytesOf(2 * CHUNK + 10);
    const { file, header } = await encryptBytes(plain);
    const headerEnd = 12 + header.bytes.length;
    const positions = [
      0,
      5,
      8,
      11,
      12,
      20,
      headerEnd - 70,
      headerEnd - 1,
      headerEnd,
      headerEnd + CHUNK,
      file.length - 1,
    ];
    for (let p = 12; p < headerEnd; p += 97) positions.push(p);
    for (const p of positions) {
      const bad = file.slice();
      bad[p] ^= 0x10;
      await expect(openAsOwner(bad), `byte ${p}`).rejects.toThrow(ThreshError);
    }
    await expect(openAsOwner(file.subarray(0, file.length - (10 + 16)))).rejects.toThrow(DecryptionError);
    await expect(openAsOwner(Uint8Array.of(...file, 1))).rejects.toThrow(DecryptionError);
    await expect(openAsOwner(file.subarray(0, 30))).rejects.toThrow(DecodeError);
    await expect(openAsOwner(new TextEncoder().encode('hello, not a thresh file'))).rejects.toThrow(
      DecodeError,
    );
  });

  it('refuses another owner and works with AES-256-GCM', async () => {
    const plain = bytesOf(CHUNK * 2);
    const { file } = await encryptBytes(plain, '/x', { aead: 2 });
    const h = await readFileHeader([file]);
    expect(h.header.body.a).toBe(2);
    expect(() => unwrapDekAsOwner(h.header, reader)).toThrow(InvalidArgumentError);
    expect(await openAsOwner(file)).toEqual(plain);
  });

  it('streams 24 MiB through encrypt and decrypt without collecting it', async () => {
    const total = 24 << 20;
    const piece = bytesOf(1 << 20, 9);
    async function* source() {
      for (let o = 0; o < total; o += piece.length) yield piece;
    }
    const f = encryptFile(owner, { path: '/big.bin' }, source());
    const h = await readFileHeader(f.stream);
    const dek = unwrapDekAsOwner(h.header, owner);
    const hash = sha256.create();
    let n = 0;
    for await (const p of decryptFileBody(h.header, dek, h.body)) {
      hash.update(p);
      n += p.length;
    }
    const expected = sha256.create();
    for (let o = 0; o < total; o += piece.length) expected.update(piece);
    expect(n).toBe(total);
    expect(hash.digest()).toEqual(expected.digest());
  });
});

describe('writer files', () => {
  const writer = Identity.generate();
  const now = Math.floor(Date.now() / 1000);
  const dirKey = issueDirKey(owner, '/team/inbox', { expiresAt: now + 3600, writer: writer.card });

  async function writeAsWriter(plain: Uint8Array, path = '/team/inbox/data.csv', w = writer) {
    const f = encryptFileAsWriter(w, dirKey, { path, chunkSize: CHUNK }, pieces(plain));
    return collect(f.stream);
  }

  it('opens for the owner and for a reader granted a directory above the writer directory', async () => {
    const plain = bytesOf(CHUNK + 3);
    const file = await writeAsWriter(plain);
    const h = await readFileHeader([file]);
    expect(h.writerCard?.equals(writer.card)).toBe(true);
    expect(h.header.body.l.map((l) => l.d)).toEqual([0, 1, 2]);
    expect(await openAsOwner(file)).toEqual(plain);
    // A reader granted /team (depth 1) re-encrypts that level's capsule.
    const levelSk = pathKey(owner, '/team', 0);
    const kfrags = generateKFrags(levelSk, reader.encryptingKey.publicKey(), owner.signer, 1, 1, false, true);
    const capsule = Capsule.fromBytes(h.header.body.l[1].c);
    const cfrag = reencrypt(capsule, kfrags[0]);
    const dek = unwrapDekWithCfrags(h.header, 1, reader.encryptingKey, levelSk.publicKey(), [cfrag]);
    expect(await collect(decryptFileBody(h.header, dek, h.body))).toEqual(plain);
    // Nothing below the writer's directory is in the file.
    expect(levelIndex(h.header, 3)).toBe(-1);
  });

  it('refuses paths outside the directory and writers the key was not issued to', async () => {
    await expect(writeAsWriter(new Uint8Array(1), '/team/other.csv')).rejects.toThrow(InvalidArgumentError);
    await expect(writeAsWriter(new Uint8Array(1), '/team/inbox/x', Identity.generate())).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it('rejects, when reading, a writer header that points outside its directory or was signed by someone else', async () => {
    const good = encryptFileAsWriter(writer, dirKey, { path: '/team/inbox/a' }, [new Uint8Array(0)]);
    const outside = FileHeaderType.sign(
      { ...good.header.body, p: '/team/a', l: good.header.body.l },
      writer.signer,
    );
    await expect(readFileHeader([preamble(outside.bytes.length), outside.bytes])).rejects.toThrow(
      ThreshError,
    );
    const stranger = Identity.generate();
    const forged = FileHeaderType.sign(good.header.body, stranger.signer);
    await expect(readFileHeader([preamble(forged.bytes.length), forged.bytes])).rejects.toThrow(ThreshError);
    const wrongEpoch = FileHeaderType.sign(
      { ...good.header.body, l: good.header.body.l.map((l) => ({ ...l, e: 1 })) },
      writer.signer,
    );
    await expect(readFileHeader([preamble(wrongEpoch.bytes.length), wrongEpoch.bytes])).rejects.toThrow(
      DecodeError,
    );
    expect(
      (await readFileHeader([preamble(good.header.bytes.length), good.header.bytes])).writerCard,
    ).toBeDefined();
  });
});
