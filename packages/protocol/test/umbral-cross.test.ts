/**
 * Random (non-deterministic) cross round trips between our Umbral core and
 * @nucypher/umbral-pre 0.10.0, in both directions, for every step: keys, capsules and
 * ciphertexts, kfrags, cfrags (also mixed), signatures and SecretKeyFactory outputs. Run on
 * every available curve backend.
 */

import * as peer from '@nucypher/umbral-pre';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  availableBackends,
  Capsule,
  CapsuleFrag,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  KeyFrag,
  KeyFragVerificationError,
  PublicKey,
  reencrypt,
  SecretKey,
  SecretKeyFactory,
  Signature,
  Signer,
  setCurveBackend,
  type VerifiedCapsuleFrag,
  type VerifiedKeyFrag,
} from '../src/index.js';
import { hex, randomBytes, randomInt, utf8 } from './helpers/bytes.js';
import { Bin, umbralPreVersion } from './helpers/umbral-pre.js';

const ITERATIONS = 3;
const SHAPES: [number, number][] = [
  [1, 1],
  [2, 3],
  [3, 5],
];
const FLAGS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const PLAINTEXT_SIZES = [0, 1, 37, 1000, 70_000];

const bin = new Bin();

/** A key pair known to both implementations; made by either side at random. */
interface Party {
  sk: SecretKey;
  pk: PublicKey;
  peerSk: peer.SecretKey;
  peerPk: peer.PublicKey;
}

function party(madeByPeer: boolean): Party {
  let sk: SecretKey;
  let peerSk: peer.SecretKey;
  if (madeByPeer) {
    peerSk = bin.add(peer.SecretKey.random());
    sk = SecretKey.fromBEBytes(peerSk.toBEBytes());
  } else {
    sk = SecretKey.random();
    peerSk = bin.add(peer.SecretKey.fromBEBytes(sk.toBEBytes()));
  }
  const pk = sk.publicKey();
  const peerPk = bin.add(peerSk.publicKey());
  expect(hex(pk.toCompressedBytes()), 'public keys agree').toBe(hex(peerPk.toCompressedBytes()));
  return { sk, pk, peerSk, peerPk };
}

/** Alice (delegating), Bob (receiving) and the kfrag signer, with both implementations' handles. */
function parties(i: number) {
  const alice = party(i % 2 === 0);
  const bob = party(i % 2 === 1);
  const signing = party(i % 2 === 0);
  return {
    alice,
    bob,
    signing,
    signer: new Signer(signing.sk),
    peerSigner: bin.add(new peer.Signer(signing.peerSk)),
  };
}

const toPeerCapsule = (c: Capsule) => bin.add(peer.Capsule.fromBytes(c.toBytes()));
const toOurCapsule = (c: peer.Capsule) => Capsule.fromBytes(c.toBytes());

function toPeerCfrags(
  cfrags: VerifiedCapsuleFrag[],
  capsule: peer.Capsule,
  p: ReturnType<typeof parties>,
): peer.VerifiedCapsuleFrag[] {
  return cfrags.map((c) => {
    const cf = bin.add(peer.CapsuleFrag.fromBytes(c.toBytes()));
    return bin.add(cf.verify(capsule, p.signing.peerPk, p.alice.peerPk, p.bob.peerPk));
  });
}

function toOurCfrags(
  cfrags: peer.VerifiedCapsuleFrag[],
  capsule: Capsule,
  p: ReturnType<typeof parties>,
): VerifiedCapsuleFrag[] {
  return cfrags.map((c) => {
    const b = c.toBytes();
    const cf = CapsuleFrag.fromBytes(b);
    expect(hex(cf.toBytes()), 'cfrag re-serializes identically').toBe(hex(b));
    expect(hex(cf.toBytesSimple()), 'cfrag simple form').toBe(hex(c.toBytesSimple()));
    return cf.verify(capsule, p.signing.pk, p.alice.pk, p.bob.pk);
  });
}

/** Picks `k` distinct indices out of `n`, in random order. */
function pick(n: number, k: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, k);
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

describe('umbral-pre peer', () => {
  it('is version 0.10.0', () => {
    expect(umbralPreVersion()).toBe('0.10.0');
  });
});

for (const backend of availableBackends()) {
  describe(`cross round trips with umbral-pre [${backend}]`, () => {
    beforeEach(() => {
      setCurveBackend(backend);
    });
    afterEach(() => {
      bin.free();
    });

    it('secret and public keys', () => {
      for (let i = 0; i < 4; i++) {
        const a = party(i % 2 === 0);
        expect(hex(a.sk.toBEBytes())).toBe(hex(a.peerSk.toBEBytes()));
        const ourPk = PublicKey.fromCompressedBytes(a.peerPk.toCompressedBytes());
        expect(ourPk.equals(a.pk)).toBe(true);
        const peerPk = bin.add(peer.PublicKey.fromCompressedBytes(a.pk.toCompressedBytes()));
        expect(peerPk.equals(a.peerPk)).toBe(true);
      }
    });

    it('encrypt by umbral-pre, decryptOriginal by ours', () => {
      for (const size of PLAINTEXT_SIZES) {
        const { alice } = parties(size);
        const plaintext = randomBytes(size);
        const [peerCapsule, ct] = peer.encrypt(alice.peerPk, plaintext);
        bin.add(peerCapsule);
        const capsule = toOurCapsule(peerCapsule);
        expect(hex(capsule.toBytes())).toBe(hex(peerCapsule.toBytes()));
        expect(hex(capsule.toBytesSimple())).toBe(hex(peerCapsule.toBytesSimple()));
        expect(sameBytes(decryptOriginal(alice.sk, capsule, ct), plaintext), `size ${size}`).toBe(true);
      }
    });

    it('encrypt by ours, decryptOriginal by umbral-pre', () => {
      for (const size of PLAINTEXT_SIZES) {
        const { alice } = parties(size);
        const plaintext = randomBytes(size);
        const [capsule, ct] = encrypt(alice.pk, plaintext);
        expect(ct.length).toBe(size + 40);
        const peerCapsule = toPeerCapsule(capsule);
        expect(hex(peerCapsule.toBytes())).toBe(hex(capsule.toBytes()));
        expect(hex(peerCapsule.toBytesSimple())).toBe(hex(capsule.toBytesSimple()));
        const pt = peer.decryptOriginal(alice.peerSk, peerCapsule, ct);
        expect(sameBytes(pt, plaintext), `size ${size}`).toBe(true);
      }
    });

    it('kfrags by umbral-pre: ours verify, reencrypt and decrypt; umbral-pre decrypts our cfrags', () => {
      for (let i = 0; i < ITERATIONS; i++) {
        for (const [threshold, shares] of SHAPES) {
          const [sdk, srk] = FLAGS[randomInt(FLAGS.length)]!;
          const p = parties(i);
          const plaintext = randomBytes(1 + randomInt(200));
          const [peerCapsule, ct] = peer.encrypt(p.alice.peerPk, plaintext);
          bin.add(peerCapsule);
          const capsule = toOurCapsule(peerCapsule);
          const peerKfrags = bin.addAll(
            peer.generateKFrags(p.alice.peerSk, p.bob.peerPk, p.peerSigner, threshold, shares, sdk, srk),
          );
          const what = `${threshold}-of-${shares} sdk=${sdk} srk=${srk}`;
          const kfrags: VerifiedKeyFrag[] = peerKfrags.map((k) => {
            const b = k.toBytes();
            const kfrag = KeyFrag.fromBytes(b);
            expect(hex(kfrag.toBytes()), `${what}: kfrag re-serializes`).toBe(hex(b));
            const v = kfrag.verify(p.signing.pk, sdk ? p.alice.pk : null, srk ? p.bob.pk : null);
            expect(hex(v.toBytes())).toBe(hex(b));
            return v;
          });
          const chosen = pick(shares, threshold);
          const cfrags = chosen.map((j) => reencrypt(capsule, kfrags[j]!));
          // ours combine our cfrags made from their kfrags
          const verified = cfrags.map((c) =>
            CapsuleFrag.fromBytes(c.toBytes()).verify(capsule, p.signing.pk, p.alice.pk, p.bob.pk),
          );
          const pt = decryptReencrypted(p.bob.sk, p.alice.pk, capsule, verified, ct);
          expect(sameBytes(pt, plaintext), `${what}: ours decrypt`).toBe(true);
          // umbral-pre verifies and combines them
          const peerCfrags = toPeerCfrags(cfrags, peerCapsule, p);
          const peerPt = peer.decryptReencrypted(p.bob.peerSk, p.alice.peerPk, peerCapsule, peerCfrags, ct);
          expect(sameBytes(peerPt, plaintext), `${what}: umbral-pre decrypts`).toBe(true);
        }
      }
    });

    it('kfrags by ours: umbral-pre verifies, reencrypts; ours verify their cfrags and decrypt', () => {
      for (let i = 0; i < ITERATIONS; i++) {
        for (const [threshold, shares] of SHAPES) {
          const [sdk, srk] = FLAGS[randomInt(FLAGS.length)]!;
          const p = parties(i + 1);
          const plaintext = randomBytes(1 + randomInt(200));
          const [capsule, ct] = encrypt(p.alice.pk, plaintext);
          const peerCapsule = toPeerCapsule(capsule);
          const kfrags = generateKFrags(p.alice.sk, p.bob.pk, p.signer, threshold, shares, sdk, srk);
          expect(kfrags.length).toBe(shares);
          const what = `${threshold}-of-${shares} sdk=${sdk} srk=${srk}`;
          const peerKfrags = kfrags.map((k) => {
            const kf = bin.add(peer.KeyFrag.fromBytes(k.toBytes()));
            expect(hex(kf.toBytes()), `${what}: kfrag parsed by umbral-pre`).toBe(hex(k.toBytes()));
            return bin.add(
              kf.verify(p.signing.peerPk, sdk ? p.alice.peerPk : null, srk ? p.bob.peerPk : null),
            );
          });
          const chosen = pick(shares, threshold);
          const peerCfrags = bin.addAll(chosen.map((j) => peer.reencrypt(peerCapsule, peerKfrags[j]!)));
          const cfrags = toOurCfrags(peerCfrags, capsule, p);
          const pt = decryptReencrypted(p.bob.sk, p.alice.pk, capsule, cfrags, ct);
          expect(sameBytes(pt, plaintext), `${what}: ours decrypt`).toBe(true);
          const peerPt = peer.decryptReencrypted(p.bob.peerSk, p.alice.peerPk, peerCapsule, peerCfrags, ct);
          expect(sameBytes(peerPt, plaintext), `${what}: umbral-pre decrypts`).toBe(true);
        }
      }
    });

    it('cfrags by umbral-pre combined by ours, and ours by umbral-pre (all umbral-pre kfrags)', () => {
      for (let i = 0; i < ITERATIONS; i++) {
        const p = parties(i);
        const [threshold, shares] = SHAPES[1 + (i % 2)]!;
        const plaintext = randomBytes(100);
        const [peerCapsule, ct] = peer.encrypt(p.alice.peerPk, plaintext);
        bin.add(peerCapsule);
        const capsule = toOurCapsule(peerCapsule);
        const peerKfrags = bin.addAll(
          peer.generateKFrags(p.alice.peerSk, p.bob.peerPk, p.peerSigner, threshold, shares, true, true),
        );
        const peerCfrags = bin.addAll(
          pick(shares, threshold).map((j) => peer.reencrypt(peerCapsule, peerKfrags[j]!)),
        );
        const cfrags = toOurCfrags(peerCfrags, capsule, p);
        expect(sameBytes(decryptReencrypted(p.bob.sk, p.alice.pk, capsule, cfrags, ct), plaintext)).toBe(
          true,
        );
        // and back: our parsed cfrags, re-serialized, go to umbral-pre
        const back = toPeerCfrags(cfrags, peerCapsule, p);
        const pt = peer.decryptReencrypted(p.bob.peerSk, p.alice.peerPk, peerCapsule, back, ct);
        expect(sameBytes(pt, plaintext)).toBe(true);
      }
    });

    it('mixed: cfrags from umbral-pre and from ours combined together, by both', () => {
      for (let i = 0; i < ITERATIONS; i++) {
        for (const [threshold, shares] of [
          [2, 3],
          [4, 6],
        ] as [number, number][]) {
          const p = parties(i);
          const plaintext = randomBytes(64);
          const ourSide = i % 2 === 0;
          // capsule and kfrags from one side, alternating
          let capsule: Capsule;
          let peerCapsule: peer.Capsule;
          let ct: Uint8Array;
          if (ourSide) {
            [capsule, ct] = encrypt(p.alice.pk, plaintext);
            peerCapsule = toPeerCapsule(capsule);
          } else {
            [peerCapsule, ct] = peer.encrypt(p.alice.peerPk, plaintext);
            bin.add(peerCapsule);
            capsule = toOurCapsule(peerCapsule);
          }
          const kfragBytes = ourSide
            ? generateKFrags(p.alice.sk, p.bob.pk, p.signer, threshold, shares, false, true).map((k) =>
                k.toBytes(),
              )
            : bin
                .addAll(
                  peer.generateKFrags(
                    p.alice.peerSk,
                    p.bob.peerPk,
                    p.peerSigner,
                    threshold,
                    shares,
                    false,
                    true,
                  ),
                )
                .map((k) => k.toBytes());
          // re-encrypt each chosen kfrag on one side or the other, at least one of each
          const chosen = pick(shares, threshold);
          const mixedBytes = chosen.map((j, n) => {
            const byPeer = n % 2 === 0;
            if (byPeer) {
              const kf = bin.add(peer.KeyFrag.fromBytes(kfragBytes[j]!));
              const vkf = bin.add(kf.verify(p.signing.peerPk, null, p.bob.peerPk));
              return bin.add(peer.reencrypt(peerCapsule, vkf)).toBytes();
            }
            const vkf = KeyFrag.fromBytes(kfragBytes[j]!).verify(p.signing.pk, null, p.bob.pk);
            return reencrypt(capsule, vkf).toBytes();
          });
          const ours = mixedBytes.map((b) =>
            CapsuleFrag.fromBytes(b).verify(capsule, p.signing.pk, p.alice.pk, p.bob.pk),
          );
          const what = `${threshold}-of-${shares}, capsule and kfrags by ${ourSide ? 'ours' : 'umbral-pre'}`;
          expect(
            sameBytes(decryptReencrypted(p.bob.sk, p.alice.pk, capsule, ours, ct), plaintext),
            `${what}: ours`,
          ).toBe(true);
          const theirs = mixedBytes.map((b) =>
            bin.add(
              bin
                .add(peer.CapsuleFrag.fromBytes(b))
                .verify(peerCapsule, p.signing.peerPk, p.alice.peerPk, p.bob.peerPk),
            ),
          );
          const pt = peer.decryptReencrypted(p.bob.peerSk, p.alice.peerPk, peerCapsule, theirs, ct);
          expect(sameBytes(pt, plaintext), `${what}: umbral-pre`).toBe(true);
        }
      }
    });

    it('KeyFrag.verify accepts and rejects exactly as umbral-pre', () => {
      const p = parties(0);
      const other = party(true);
      for (const [sdk, srk] of FLAGS) {
        const bytes = generateKFrags(p.alice.sk, p.bob.pk, p.signer, 2, 2, sdk, srk)[0]!.toBytes();
        const choices: [string, PublicKey | null, peer.PublicKey | null][][] = [
          [
            ['none', null, null],
            ['right', p.alice.pk, p.alice.peerPk],
            ['wrong', other.pk, other.peerPk],
          ],
          [
            ['none', null, null],
            ['right', p.bob.pk, p.bob.peerPk],
            ['wrong', other.pk, other.peerPk],
          ],
        ];
        for (const [dName, dOurs, dPeer] of choices[0]!) {
          for (const [rName, rOurs, rPeer] of choices[1]!) {
            let peerOk = true;
            try {
              bin.add(bin.add(peer.KeyFrag.fromBytes(bytes)).verify(p.signing.peerPk, dPeer, rPeer));
            } catch {
              peerOk = false;
            }
            let oursOk = true;
            try {
              KeyFrag.fromBytes(bytes).verify(p.signing.pk, dOurs, rOurs);
            } catch (e) {
              expect(e).toBeInstanceOf(KeyFragVerificationError);
              oursOk = false;
            }
            expect(oursOk, `sdk=${sdk} srk=${srk} delegating=${dName} receiving=${rName}`).toBe(peerOk);
          }
        }
      }
    });

    it('signatures both ways (BE and DER)', () => {
      for (let i = 0; i < 4; i++) {
        const s = party(i % 2 === 0);
        const signer = new Signer(s.sk);
        const peerSigner = bin.add(new peer.Signer(s.peerSk));
        const vk = signer.verifyingKey();
        const peerVk = bin.add(peerSigner.verifyingKey());
        expect(hex(vk.toCompressedBytes())).toBe(hex(peerVk.toCompressedBytes()));
        const message = randomBytes(randomInt(300));
        const wrong = utf8('another message');

        // umbral-pre signs, ours verifies
        const peerSig = bin.add(peerSigner.sign(message));
        const fromBE = Signature.fromBEBytes(peerSig.toBEBytes());
        const fromDer = Signature.fromDerBytes(peerSig.toDerBytes());
        expect(fromBE.verify(vk, message)).toBe(true);
        expect(fromDer.verify(vk, message)).toBe(true);
        expect(fromBE.verify(vk, wrong)).toBe(false);
        expect(hex(fromBE.toDerBytes())).toBe(hex(peerSig.toDerBytes()));
        expect(hex(fromDer.toBEBytes())).toBe(hex(peerSig.toBEBytes()));
        expect(fromBE.equals(fromDer)).toBe(true);

        // ours signs, umbral-pre verifies
        const sig = signer.sign(message);
        const theirBE = bin.add(peer.Signature.fromBEBytes(sig.toBEBytes()));
        const theirDer = bin.add(peer.Signature.fromDerBytes(sig.toDerBytes()));
        expect(theirBE.verify(peerVk, message)).toBe(true);
        expect(theirDer.verify(peerVk, message)).toBe(true);
        expect(theirBE.verify(peerVk, wrong)).toBe(false);
        expect(hex(theirBE.toDerBytes())).toBe(hex(sig.toDerBytes()));
        expect(hex(theirDer.toBEBytes())).toBe(hex(sig.toBEBytes()));
        expect(sig.verify(vk, message)).toBe(true);
      }
    });

    it('SecretKeyFactory: same outputs for the same seed and label', () => {
      expect(SecretKeyFactory.seedSize()).toBe(peer.SecretKeyFactory.seedSize());
      for (let i = 0; i < 3; i++) {
        const seed = randomBytes(SecretKeyFactory.seedSize());
        const ours = SecretKeyFactory.fromSecureRandomness(seed);
        const theirs = bin.add(peer.SecretKeyFactory.fromSecureRandomness(seed));
        for (const label of [new Uint8Array(0), utf8(`label ${i}`), randomBytes(1 + randomInt(100))]) {
          const l = hex(label);
          expect(hex(ours.makeKey(label).toBEBytes()), `makeKey(${l})`).toBe(
            hex(bin.add(theirs.makeKey(label)).toBEBytes()),
          );
          expect(hex(ours.makeSecret(label)), `makeSecret(${l})`).toBe(hex(theirs.makeSecret(label)));
          const ourChild = ours.makeFactory(label);
          const theirChild = bin.add(theirs.makeFactory(label));
          const grandLabel = randomBytes(8);
          expect(hex(ourChild.makeKey(grandLabel).toBEBytes()), `makeFactory(${l}).makeKey`).toBe(
            hex(bin.add(theirChild.makeKey(grandLabel)).toBEBytes()),
          );
          expect(hex(ourChild.makeSecret(grandLabel)), `makeFactory(${l}).makeSecret`).toBe(
            hex(theirChild.makeSecret(grandLabel)),
          );
        }
      }
    });
  });
}
