import { secp256k1, secp256k1_hasher } from '@noble/curves/secp256k1.js';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  availableBackends,
  Capsule,
  CapsuleFrag,
  CapsuleFragVerificationError,
  DecodeError,
  DecryptionError,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  InvalidArgumentError,
  KeyFrag,
  KeyFragVerificationError,
  OpenReencryptedError,
  PublicKey,
  reencrypt,
  SecretKey,
  Signature,
  Signer,
  setCurveBackend,
  ThreshError,
  U_HEX,
} from '../src/index.js';

const N = secp256k1.Point.Fn.ORDER;
const be32 = (x: bigint) => secp256k1.Point.Fn.toBytes(x);
const flipBit = (b: Uint8Array, i: number, bit = i % 8) => {
  const c = b.slice();
  c[i] ^= 1 << bit;
  return c;
};

/** Runs `fn` and returns the error class name it threw, or 'ok'. Fails on non-ThreshError throws. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ThreshError)) throw new Error(`untyped throw: ${String(e)}`, { cause: e });
    return e.name;
  }
}

function fixture() {
  const alice = SecretKey.random();
  const bob = SecretKey.random();
  const carol = SecretKey.random();
  const signer = new Signer(SecretKey.random());
  const plaintext = new TextEncoder().encode('the quarterly report');
  const [capsule, ciphertext] = encrypt(alice.publicKey(), plaintext);
  const kfrags = generateKFrags(alice, bob.publicKey(), signer, 3, 5, false, true);
  const cfrags = kfrags.map((k) => reencrypt(capsule, k));
  const vk = signer.verifyingKey();
  const verify = (c: CapsuleFrag, cap = capsule) => c.verify(cap, vk, alice.publicKey(), bob.publicKey());
  return { alice, bob, carol, signer, vk, plaintext, capsule, ciphertext, kfrags, cfrags, verify };
}

describe('second generator U', () => {
  it('is RFC 9380 hash_to_curve("POINT_U", DST "PARAMETERS")', () => {
    const te = new TextEncoder();
    const u = secp256k1_hasher.hashToCurve(te.encode('POINT_U'), { DST: te.encode('PARAMETERS') });
    expect(Buffer.from(u.toBytes(true)).toString('hex')).toBe(U_HEX);
  });
});

for (const backend of availableBackends()) {
  describe(`malformed inputs (${backend} backend)`, () => {
    let f: ReturnType<typeof fixture>;
    beforeAll(() => {
      setCurveBackend(backend);
      f = fixture();
    });

    it('secret keys: zero, n, too long, too short are DecodeErrors', () => {
      for (const bad of [
        new Uint8Array(32),
        be32(N - 1n).map((x, i) => (i === 31 ? x + 1 : x)),
        new Uint8Array(33),
        new Uint8Array(31),
      ]) {
        expect(() => SecretKey.fromBEBytes(bad)).toThrow(DecodeError);
      }
      expect(SecretKey.fromBEBytes(be32(N - 1n)).toBEBytes()).toEqual(be32(N - 1n));
      expect(String(f.alice)).toBe('SecretKey:...');
    });

    it('public keys: uncompressed, bad prefix, off-curve x, wrong length are DecodeErrors', () => {
      const pk = f.alice.publicKey();
      const uncompressed = secp256k1.Point.fromBytes(pk.toCompressedBytes()).toBytes(false);
      expect(() => PublicKey.fromCompressedBytes(uncompressed)).toThrow(DecodeError);
      const badPrefix = pk.toCompressedBytes();
      badPrefix[0] = 0x04;
      expect(() => PublicKey.fromCompressedBytes(badPrefix)).toThrow(DecodeError);
      const zero = new Uint8Array(33);
      zero[0] = 2;
      expect(() => PublicKey.fromCompressedBytes(zero)).toThrow(DecodeError); // x = 0 is not on the curve
      const big = new Uint8Array(33).fill(0xff);
      big[0] = 2;
      expect(() => PublicKey.fromCompressedBytes(big)).toThrow(DecodeError); // x >= p
      expect(() => PublicKey.fromCompressedBytes(new Uint8Array(32))).toThrow(DecodeError);
    });

    it('signatures: high-S, zero or out-of-range r and s are DecodeErrors; valid ones verify strictly', () => {
      const msg = new Uint8Array([1, 2, 3]);
      const sig = f.signer.sign(msg);
      const b = sig.toBEBytes();
      const s = BigInt(`0x${Buffer.from(b.subarray(32)).toString('hex')}`);
      const high = b.slice();
      high.set(be32(N - s), 32);
      expect(() => Signature.fromBEBytes(high)).toThrow(DecodeError);
      const zeroR = b.slice();
      zeroR.fill(0, 0, 32);
      expect(() => Signature.fromBEBytes(zeroR)).toThrow(DecodeError);
      const bigS = b.slice();
      bigS.set(
        be32(N - 1n).map(() => 0xff),
        32,
      );
      expect(() => Signature.fromBEBytes(bigS)).toThrow(DecodeError);
      expect(() => Signature.fromBEBytes(b.subarray(0, 63))).toThrow(DecodeError);
      expect(() => Signature.fromDerBytes(new Uint8Array([0x30, 0x01, 0x00]))).toThrow(DecodeError);
      expect(Signature.fromDerBytes(sig.toDerBytes()).equals(sig)).toBe(true);
      expect(sig.verify(f.vk, msg)).toBe(true);
      expect(sig.verify(f.vk, new Uint8Array([1, 2, 4]))).toBe(false);
      expect(sig.verify(f.alice.publicKey(), msg)).toBe(false);
    });

    it('capsules: every truncation, a trailing byte and a flipped bit in every byte are DecodeErrors', () => {
      const bytes = f.capsule.toBytes();
      expect(bytes.length).toBe(105);
      for (let n = 0; n < bytes.length; n++)
        expect(() => Capsule.fromBytes(bytes.subarray(0, n))).toThrow(DecodeError);
      expect(() => Capsule.fromBytes(Uint8Array.of(...bytes, 0))).toThrow(DecodeError);
      for (let i = 0; i < bytes.length; i++)
        expect(outcome(() => Capsule.fromBytes(flipBit(bytes, i)))).toBe('DecodeError');
    });

    it('kfrags: a flipped bit anywhere is caught at parse, at verify, or (signature_for_receiver) at cfrag verify', () => {
      const bytes = f.kfrags[0].toBytes();
      expect(bytes.length).toBe(310);
      const pkB = f.bob.publicKey();
      const counts: Record<string, number> = {};
      for (let i = 0; i < bytes.length; i++) {
        const bad = flipBit(bytes, i);
        let result = outcome(() => KeyFrag.fromBytes(bad));
        if (result === 'ok') result = outcome(() => KeyFrag.fromBytes(bad).verify(f.vk, null, pkB));
        if (result === 'ok') {
          // The kfrag itself never checks signature_for_receiver: the reader does, in the cfrag.
          const vk = KeyFrag.fromBytes(bad).verify(f.vk, null, pkB);
          result = outcome(() => f.verify(reencrypt(f.capsule, vk).unverify()));
          expect(result).toBe('CapsuleFragVerificationError');
          expect(i).toBeGreaterThanOrEqual(1 + 36 + 34 + 34 + 35 + 1 + 35 + 66);
        }
        counts[result] = (counts[result] ?? 0) + 1;
      }
      expect(Object.keys(counts).sort()).toEqual(
        ['CapsuleFragVerificationError', 'DecodeError', 'KeyFragVerificationError']
          .filter((k) => k in counts)
          .sort(),
      );
      for (let n = 0; n < bytes.length; n += 7)
        expect(() => KeyFrag.fromBytes(bytes.subarray(0, n))).toThrow(DecodeError);
    });

    it('kfrags: a wrong U in the params is rejected', () => {
      const bytes = f.kfrags[0].toBytes();
      const g = secp256k1.Point.BASE.toBytes(true);
      const bad = bytes.slice();
      bad.set(g, 4); // array(5), array(1), c4 21, then U
      expect(() => KeyFrag.fromBytes(bad)).toThrow(/U/);
    });

    it('kfrags: another reader, another signer, a missing key are KeyFragVerificationErrors', () => {
      const k = f.kfrags[0].unverify();
      expect(() => k.verify(f.vk, null, f.carol.publicKey())).toThrow(KeyFragVerificationError);
      expect(() => k.verify(f.alice.publicKey(), null, f.bob.publicKey())).toThrow(KeyFragVerificationError);
      expect(() => k.verify(f.vk, null, null)).toThrow(/receiving-key|receiving key/);
      const both = generateKFrags(f.alice, f.bob.publicKey(), f.signer, 1, 1, true, true)[0].unverify();
      expect(() => both.verify(f.vk, null, f.bob.publicKey())).toThrow(KeyFragVerificationError);
      expect(() => both.verify(f.vk, f.carol.publicKey(), f.bob.publicKey())).toThrow(
        KeyFragVerificationError,
      );
      expect(both.verify(f.vk, f.alice.publicKey(), f.bob.publicKey()).toBytes()).toEqual(both.toBytes());
    });

    it('cfrags: a flipped bit in every byte is caught at parse or verify', () => {
      const bytes = f.cfrags[0].toBytes();
      expect(bytes.length).toBe(381);
      for (let i = 0; i < bytes.length; i++) {
        const bad = flipBit(bytes, i);
        let result = outcome(() => CapsuleFrag.fromBytes(bad));
        if (result === 'ok') result = outcome(() => f.verify(CapsuleFrag.fromBytes(bad)));
        expect(['DecodeError', 'CapsuleFragVerificationError'], `byte ${i}`).toContain(result);
      }
    });

    it('cfrags: another capsule, another delegating key, another reader fail verification', () => {
      const c = f.cfrags[0].unverify();
      const [other] = encrypt(f.alice.publicKey(), new Uint8Array(1));
      expect(() => f.verify(c, other)).toThrow(CapsuleFragVerificationError);
      expect(() => c.verify(f.capsule, f.vk, f.carol.publicKey(), f.bob.publicKey())).toThrow(
        CapsuleFragVerificationError,
      );
      expect(() => c.verify(f.capsule, f.vk, f.alice.publicKey(), f.carol.publicKey())).toThrow(
        CapsuleFragVerificationError,
      );
    });

    it('combining: too few, none, repeated, mixed policies, wrong reader each give their typed error', () => {
      const { bob, alice, capsule, ciphertext, cfrags } = f;
      const pkA = alice.publicKey();
      const run = (cs: typeof cfrags, sk = bob) =>
        outcome(() => decryptReencrypted(sk, pkA, capsule, cs, ciphertext));
      expect(run(cfrags.slice(0, 3))).toBe('ok');
      expect(run(cfrags)).toBe('ok');
      expect(run(cfrags.slice(0, 2))).toBe('OpenReencryptedError');
      expect(() => decryptReencrypted(bob, pkA, capsule, [], ciphertext)).toThrow(/no-cfrags|no capsule/);
      expect(() =>
        decryptReencrypted(bob, pkA, capsule, [cfrags[0], cfrags[0], cfrags[1]], ciphertext),
      ).toThrow(OpenReencryptedError);
      const otherPolicy = generateKFrags(alice, bob.publicKey(), f.signer, 3, 5, false, true).map((k) =>
        reencrypt(capsule, k),
      );
      expect(() =>
        decryptReencrypted(bob, pkA, capsule, [...cfrags.slice(0, 2), otherPolicy[0]], ciphertext),
      ).toThrow(/mismatched|different key fragment sets/);
      expect(run(cfrags.slice(0, 3), f.carol)).toBe('OpenReencryptedError');
      const tampered = ciphertext.slice();
      tampered[tampered.length - 1] ^= 1;
      expect(() => decryptReencrypted(bob, pkA, capsule, cfrags.slice(0, 3), tampered)).toThrow(
        DecryptionError,
      );
      expect(() =>
        decryptReencrypted(bob, pkA, capsule, cfrags.slice(0, 3), tampered.subarray(0, 39)),
      ).toThrow(DecryptionError);
    });

    it('unverified fragments and wrong argument types are InvalidArgumentErrors', () => {
      const { bob, alice, capsule, ciphertext, cfrags, kfrags } = f;
      const unverified = cfrags.map((c) => c.unverify()) as unknown as typeof cfrags;
      expect(() => decryptReencrypted(bob, alice.publicKey(), capsule, unverified, ciphertext)).toThrow(
        InvalidArgumentError,
      );
      expect(() => reencrypt(capsule, kfrags[0].unverify() as unknown as (typeof kfrags)[0])).toThrow(
        InvalidArgumentError,
      );
      expect(() => generateKFrags(alice, bob.publicKey(), f.signer, 0, 5, false, true)).toThrow(
        InvalidArgumentError,
      );
      expect(() => generateKFrags(alice, bob.publicKey(), f.signer, 4, 3, false, true)).toThrow(
        InvalidArgumentError,
      );
      expect(() => encrypt(alice.publicKey(), 'text' as unknown as Uint8Array)).toThrow(InvalidArgumentError);
      expect(() => decryptOriginal(bob, capsule, ciphertext)).toThrow(DecryptionError);
    });

    it('random bytes only ever give typed errors (fast-check)', () => {
      const parsers = [
        Capsule.fromBytes,
        KeyFrag.fromBytes,
        CapsuleFrag.fromBytes,
        PublicKey.fromCompressedBytes,
        Signature.fromBEBytes,
        Signature.fromDerBytes,
        SecretKey.fromBEBytes,
      ];
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 400 }),
          fc.integer({ min: 0, max: parsers.length - 1 }),
          (bytes, i) => {
            outcome(() => parsers[i](bytes));
          },
        ),
        { numRuns: 300 },
      );
      // Mutations of valid encodings: any byte set to any value.
      const valid = [f.capsule.toBytes(), f.kfrags[0].toBytes(), f.cfrags[0].toBytes()];
      const decode = [Capsule.fromBytes, KeyFrag.fromBytes, CapsuleFrag.fromBytes];
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 2 }),
          fc.nat(),
          fc.integer({ min: 0, max: 255 }),
          (k, pos, v) => {
            const b = valid[k].slice();
            b[pos % b.length] = v;
            outcome(() => decode[k](b));
          },
        ),
        { numRuns: 300 },
      );
    });

    it('encode/decode round trips (fast-check over keys and plaintexts)', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 64 }),
          (seed, pt) => {
            const bad = seed.every((x) => x === 0) || BigInt(`0x${Buffer.from(seed).toString('hex')}`) >= N;
            fc.pre(!bad);
            const sk = SecretKey.fromBEBytes(seed);
            expect(SecretKey.fromBEBytes(sk.toBEBytes()).toBEBytes()).toEqual(seed);
            const pk = PublicKey.fromCompressedBytes(sk.publicKey().toCompressedBytes());
            expect(pk.equals(sk.publicKey())).toBe(true);
            const [capsule, ct] = encrypt(pk, pt);
            const again = Capsule.fromBytes(capsule.toBytes());
            expect(again.equals(capsule)).toBe(true);
            expect(again.toBytesSimple()).toEqual(capsule.toBytesSimple());
            expect(decryptOriginal(sk, again, ct)).toEqual(pt);
          },
        ),
        { numRuns: backend === 'native' ? 40 : 8 },
      );
      const k = f.kfrags[1];
      expect(KeyFrag.fromBytes(k.toBytes()).toBytes()).toEqual(k.toBytes());
      const c = f.cfrags[1];
      expect(CapsuleFrag.fromBytes(c.toBytes()).toBytes()).toEqual(c.toBytes());
      expect(CapsuleFrag.fromBytes(c.toBytes()).toBytesSimple()).toEqual(c.toBytesSimple());
    });
  });
}
