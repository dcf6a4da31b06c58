import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AEAD_AES_256_GCM, AEAD_XCHACHA20_POLY1305, getAead, nobleAeads } from '../src/aead/index.js';
import { aeads as nodeAeads } from '../src/aead/node.js';
import type { Aead, AeadId } from '../src/aead/types.js';
import { DecodeError, DecryptionError, InvalidArgumentError } from '../src/errors.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

const IDS: AeadId[] = [AEAD_XCHACHA20_POLY1305, AEAD_AES_256_GCM];
const IMPLS: [string, Readonly<Record<AeadId, Aead>>][] = [
  ['node', nodeAeads],
  ['noble', nobleAeads],
];

// draft-irtf-cfrg-xchacha-03, appendix A.3.1.
const XCHACHA_KAT = {
  key: hex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f'),
  nonce: hex('404142434445464748494a4b4c4d4e4f5051525354555657'),
  aad: hex('50515253c0c1c2c3c4c5c6c7'),
  plaintext: new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ),
  sealed:
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39' +
    'ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
    '21f9664c97637da9768812f615c68b13b52e' +
    'c0875924c1c7987947deafd8780acf49',
};

// McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)", test case 16 (AES-256, with AAD).
const GCM_KAT = {
  key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  nonce: hex('cafebabefacedbaddecaf888'),
  aad: hex('feedfacedeadbeeffeedfacedeadbeefabaddad2'),
  plaintext: hex(
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525' +
      'b16aedf5aa0de657ba637b39',
  ),
  sealed:
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838' +
    'c5f61e6393ba7a0abcc9f662' +
    '76fc6ece0f4e1768cddf8853bb2d551b',
};

describe('getAead', () => {
  it('returns the platform AEAD for each id, with its parameters', () => {
    const x = getAead(AEAD_XCHACHA20_POLY1305);
    expect([x.id, x.name, x.keyLength, x.nonceLength, x.tagLength]).toEqual([
      1,
      'XChaCha20-Poly1305',
      32,
      24,
      16,
    ]);
    const g = getAead(AEAD_AES_256_GCM);
    expect([g.id, g.name, g.keyLength, g.nonceLength, g.tagLength]).toEqual([2, 'AES-256-GCM', 32, 12, 16]);
    // Under Node, #aead-platform is the node:crypto set, not the noble one. (Not `toBe(nodeAeads[1])`:
    // vitest may load #aead-platform as a second instance of node.ts, or from dist/.)
    expect(x).not.toBe(nobleAeads[1]);
    expect(g).not.toBe(nobleAeads[2]);
  });

  it.each([0, 3, 255, -1, 1.5, Number.NaN])('rejects unknown id %s with DecodeError', (id) => {
    expect(() => getAead(id)).toThrow(DecodeError);
    expect(() => getAead(id)).toThrow(/aead id/);
  });
});

describe.each(IMPLS)('%s AEADs', (_label, set) => {
  it('matches the XChaCha20-Poly1305 draft vector (A.3.1)', () => {
    const aead = set[1];
    const { key, nonce, aad, plaintext, sealed } = XCHACHA_KAT;
    expect(toHex(aead.seal(key, nonce, plaintext, aad))).toBe(sealed);
    expect(aead.open(key, nonce, hex(sealed), aad)).toEqual(plaintext);
  });

  it('matches the AES-256-GCM vector (McGrew-Viega test case 16)', () => {
    const aead = set[2];
    const { key, nonce, aad, plaintext, sealed } = GCM_KAT;
    expect(toHex(aead.seal(key, nonce, plaintext, aad))).toBe(sealed);
    expect(aead.open(key, nonce, hex(sealed), aad)).toEqual(plaintext);
  });

  describe.each(IDS)('id %i', (id) => {
    const aead = set[id];

    it('treats a missing and an empty AAD alike', () => {
      const key = bytes(32);
      const nonce = bytes(aead.nonceLength);
      const msg = bytes(100);
      const sealed = aead.seal(key, nonce, msg);
      expect(aead.seal(key, nonce, msg, new Uint8Array(0))).toEqual(sealed);
      expect(aead.open(key, nonce, sealed, new Uint8Array(0))).toEqual(msg);
    });

    it('rejects a change to any byte of ciphertext, tag, AAD or nonce, and a wrong key', () => {
      const key = bytes(32);
      const nonce = bytes(aead.nonceLength);
      const aad = bytes(32);
      const msg = bytes(33);
      const sealed = aead.seal(key, nonce, msg, aad);
      for (let i = 0; i < sealed.length; i++) {
        const bad = sealed.slice();
        bad[i] ^= 0x01;
        expect(() => aead.open(key, nonce, bad, aad), `sealed byte ${i}`).toThrow(DecryptionError);
      }
      for (let i = 0; i < aad.length; i++) {
        const bad = aad.slice();
        bad[i] ^= 0x80;
        expect(() => aead.open(key, nonce, sealed, bad), `aad byte ${i}`).toThrow(DecryptionError);
      }
      for (let i = 0; i < nonce.length; i++) {
        const bad = nonce.slice();
        bad[i] ^= 0x01;
        expect(() => aead.open(key, bad, sealed, aad), `nonce byte ${i}`).toThrow(DecryptionError);
      }
      const badKey = key.slice();
      badKey[31] ^= 1;
      expect(() => aead.open(badKey, nonce, sealed, aad)).toThrow(DecryptionError);
      expect(() => aead.open(key, nonce, sealed)).toThrow(DecryptionError);
      expect(() => aead.open(key, nonce, sealed.subarray(0, sealed.length - 1), aad)).toThrow(
        DecryptionError,
      );
      expect(() => aead.open(key, nonce, sealed.subarray(1), aad)).toThrow(DecryptionError);
      expect(aead.open(key, nonce, sealed, aad)).toEqual(msg);
    });

    it('rejects input shorter than the tag with DecryptionError', () => {
      const key = bytes(32);
      const nonce = bytes(aead.nonceLength);
      for (const n of [0, 1, 15]) {
        expect(() => aead.open(key, nonce, new Uint8Array(n))).toThrow(DecryptionError);
      }
      // Exactly a tag is an empty message, and a random tag does not authenticate.
      expect(() => aead.open(key, nonce, bytes(16))).toThrow(DecryptionError);
    });

    it('rejects wrong key and nonce lengths and non-bytes with InvalidArgumentError naming the field', () => {
      const key = bytes(32);
      const nonce = bytes(aead.nonceLength);
      const msg = bytes(10);
      for (const n of [0, 16, 31, 33]) {
        expect(() => aead.seal(bytes(n), nonce, msg)).toThrow(InvalidArgumentError);
        expect(() => aead.open(bytes(n), nonce, bytes(32))).toThrow(/^key:/);
      }
      for (const n of [0, 8, 12, 16, 24, 32].filter((n) => n !== aead.nonceLength)) {
        expect(() => aead.seal(key, bytes(n), msg)).toThrow(/^nonce:/);
        expect(() => aead.open(key, bytes(n), bytes(32))).toThrow(InvalidArgumentError);
      }
      const notBytes = 'hello' as unknown as Uint8Array;
      expect(() => aead.seal(key, nonce, notBytes)).toThrow(/^plaintext:/);
      expect(() => aead.open(key, nonce, notBytes)).toThrow(/^sealed:/);
      expect(() => aead.seal(key, nonce, msg, notBytes)).toThrow(/^aad:/);
      expect(() => aead.seal([...key] as unknown as Uint8Array, nonce, msg)).toThrow(InvalidArgumentError);
    });

    it('accepts inputs that are views at odd offsets (Buffers, subarrays)', () => {
      const backing = bytes(32 + aead.nonceLength + 101 + 3);
      const key = backing.subarray(1, 33);
      const nonce = backing.subarray(33, 33 + aead.nonceLength);
      const msg = Buffer.from(backing.buffer, backing.byteOffset + 2, 101);
      const sealed = aead.seal(key, nonce, msg);
      expect(aead.open(key.slice(), nonce.slice(), sealed)).toEqual(new Uint8Array(msg));
    });
  });
});

describe('node:crypto and @noble/ciphers agree', () => {
  it.each(IDS)('give identical bytes for id %i on random inputs', (id) => {
    const node = nodeAeads[id];
    const noble = nobleAeads[id];
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: node.nonceLength, maxLength: node.nonceLength }),
        fc.uint8Array({ maxLength: 2000 }),
        fc.option(fc.uint8Array({ maxLength: 100 }), { nil: undefined }),
        (key, nonce, msg, aad) => {
          const a = node.seal(key, nonce, msg, aad);
          const b = noble.seal(key, nonce, msg, aad);
          expect(toHex(a)).toBe(toHex(b));
          expect(node.open(key, nonce, b, aad)).toEqual(msg);
          expect(noble.open(key, nonce, a, aad)).toEqual(msg);
        },
      ),
      { numRuns: 200 },
    );
  });

  it.each(IDS)('give identical bytes for id %i at 0 bytes and 1 MiB', (id) => {
    for (const n of [0, 1, 64, 1 << 20]) {
      const key = bytes(32);
      const nonce = bytes(nodeAeads[id].nonceLength);
      const aad = bytes(32);
      const msg = bytes(n);
      const a = nodeAeads[id].seal(key, nonce, msg, aad);
      const b = nobleAeads[id].seal(key, nonce, msg, aad);
      expect(a.length).toBe(n + 16);
      expect(Buffer.compare(a, b)).toBe(0);
      expect(Buffer.compare(nobleAeads[id].open(key, nonce, a, aad), msg)).toBe(0);
      expect(Buffer.compare(nodeAeads[id].open(key, nonce, b, aad), msg)).toBe(0);
    }
  });

  it('returns plain Uint8Arrays that own their memory', () => {
    for (const id of IDS) {
      const key = bytes(32);
      const nonce = bytes(nodeAeads[id].nonceLength);
      const sealed = nodeAeads[id].seal(key, nonce, bytes(5));
      const opened = nodeAeads[id].open(key, nonce, sealed);
      for (const out of [sealed, opened]) {
        expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
        expect(out.buffer.byteLength).toBe(out.length);
      }
    }
  });
});
