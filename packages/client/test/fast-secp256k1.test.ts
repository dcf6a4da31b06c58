/**
 * The stand-in for noble's secp256k1 that the bundled CLI gives @libp2p/crypto: every answer
 * must be noble's (the same points, signatures, verdicts and errors), only faster. The
 * real-process tests run it for real: every Noise handshake, identify and kad-dht answer of
 * their nodes goes through it.
 */
import { secp256k1 as noble } from '@noble/curves/secp256k1.js';
import { availableBackends } from '@thresh/protocol';
import { describe, expect, it } from 'vitest';
import {
  cachedPointCount,
  secp256k1 as fast,
  POINT_CACHE_SIZE,
  pointFromBytes,
} from '../src/transport/libp2p/fast-secp256k1.js';

const N = noble.Point.CURVE().n;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const digestOf = (i: number) => noble.utils.randomSecretKey(new Uint8Array(48).fill(i + 1)); // 32 bytes

describe('fast-secp256k1', () => {
  it('runs on libsecp256k1 here (the CI machine has the addon)', () => {
    expect(availableBackends()).toContain('native');
  });

  it('decodes points exactly as noble does, compressed and uncompressed, and remembers them', () => {
    for (let i = 0; i < 20; i++) {
      const sk = noble.utils.randomSecretKey();
      for (const compressed of [true, false]) {
        const bytes = noble.getPublicKey(sk, compressed);
        const before = cachedPointCount();
        const p = pointFromBytes(bytes);
        expect(p.equals(noble.Point.fromBytes(bytes))).toBe(true);
        expect(hex(p.toBytes(compressed))).toBe(hex(bytes));
        expect(hex(p.toBytes(!compressed))).toBe(hex(noble.Point.fromBytes(bytes).toBytes(!compressed)));
        expect(cachedPointCount()).toBe(Math.min(POINT_CACHE_SIZE, before + 1));
        expect(pointFromBytes(bytes.slice())).toBe(p); // the same bytes again: the remembered point
        expect(fast.Point.fromBytes(bytes)).toBe(p);
      }
    }
  });

  it("throws noble's error for bytes that are no point, and remembers nothing", () => {
    const offCurve = new Uint8Array(33);
    offCurve[0] = 2;
    offCurve[32] = 5; // x = 5: x^3 + 7 = 132 is not a square mod p
    const cases = [
      offCurve,
      new Uint8Array(33),
      new Uint8Array(32).fill(1),
      new Uint8Array([4, ...new Uint8Array(64)]),
    ];
    for (const bytes of cases) {
      let nobleError: unknown;
      try {
        noble.Point.fromBytes(bytes);
      } catch (e) {
        nobleError = e;
      }
      expect(nobleError).toBeInstanceOf(Error);
      const before = cachedPointCount();
      expect(() => pointFromBytes(bytes)).toThrow((nobleError as Error).message);
      expect(cachedPointCount()).toBe(before);
    }
  });

  it("keeps noble's other Point statics", () => {
    expect(fast.Point.BASE.equals(noble.Point.BASE)).toBe(true);
    expect(fast.Point.ZERO.equals(noble.Point.ZERO)).toBe(true);
    const p = noble.Point.BASE.multiply(7n);
    expect(fast.Point.fromAffine(p.toAffine()).equals(p)).toBe(true);
  });

  it('derives public keys as noble does, and refuses the same secret keys', () => {
    for (let i = 0; i < 10; i++) {
      const sk = noble.utils.randomSecretKey();
      expect(hex(fast.getPublicKey(sk))).toBe(hex(noble.getPublicKey(sk)));
      expect(hex(fast.getPublicKey(sk, false))).toBe(hex(noble.getPublicKey(sk, false)));
    }
    const nBytes = Uint8Array.from(Buffer.from(N.toString(16).padStart(64, '0'), 'hex'));
    for (const bad of [new Uint8Array(32), nBytes, new Uint8Array(31).fill(1)]) {
      expect(() => noble.getPublicKey(bad)).toThrow();
      expect(() => fast.getPublicKey(bad)).toThrow();
    }
  });

  it("signs DER digests byte for byte as noble does (RFC 6979, low-S), and noble's other calls still work", () => {
    const opts = { prehash: false, format: 'der' } as const;
    for (let i = 0; i < 20; i++) {
      const sk = noble.utils.randomSecretKey();
      const digest = digestOf(i);
      const sig = fast.sign(digest, sk, opts);
      expect(hex(sig)).toBe(hex(noble.sign(digest, sk, opts)));
      expect(noble.verify(sig, digest, noble.getPublicKey(sk), opts)).toBe(true);
    }
    // options libsecp256k1 does not take go to noble
    const sk = noble.utils.randomSecretKey();
    const digest = digestOf(99);
    const hedged = fast.sign(digest, sk, { ...opts, extraEntropy: true });
    expect(noble.verify(hedged, digest, noble.getPublicKey(sk), opts)).toBe(true);
    expect(hex(fast.sign(digest, sk, { prehash: false }))).toBe(
      hex(noble.sign(digest, sk, { prehash: false })),
    );
  });

  it('verifies as noble does: valid, tampered, high-S, malformed, wrong key, bad key', () => {
    const opts = { prehash: false, format: 'der' } as const;
    const sk = noble.utils.randomSecretKey();
    const pk = noble.getPublicKey(sk);
    const other = noble.getPublicKey(noble.utils.randomSecretKey());
    const offCurve = new Uint8Array(33);
    offCurve[0] = 2;
    offCurve[32] = 5;
    const digest = digestOf(7);
    const sig = noble.sign(digest, sk, opts);
    const parsed = noble.Signature.fromBytes(sig, 'der');
    const highS = new noble.Signature(parsed.r, N - parsed.s).toBytes('der');
    const tamperedDigest = digest.slice();
    tamperedDigest[0] ^= 1;
    const cases: [Uint8Array, Uint8Array, Uint8Array][] = [
      [sig, digest, pk],
      [sig, digest, noble.getPublicKey(sk, false)],
      [sig, tamperedDigest, pk],
      [highS, digest, pk],
      [sig.subarray(0, sig.length - 1), digest, pk],
      [new Uint8Array(8), digest, pk],
      [sig, digest, other],
    ];
    const verdicts = cases.map(([s, d, k]) => fast.verify(s, d, k, opts));
    expect(verdicts).toEqual(cases.map(([s, d, k]) => noble.verify(s, d, k, opts)));
    expect(verdicts).toEqual([true, true, false, false, false, false, false]);
    // a key that is no point: noble throws; so does the stand-in (it is noble's call)
    const nobleOutcome = (() => {
      try {
        return noble.verify(sig, digest, offCurve, opts);
      } catch {
        return 'throws';
      }
    })();
    const fastOutcome = (() => {
      try {
        return fast.verify(sig, digest, offCurve, opts);
      } catch {
        return 'throws';
      }
    })();
    expect(fastOutcome).toBe(nobleOutcome);
  });
});
