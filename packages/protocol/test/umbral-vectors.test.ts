/**
 * Known-answer tests against @nucypher/umbral-pre 0.10.0: every operation is fed the exact
 * random bytes umbral-pre drew for it (vectors/umbral-pre-0.10.0.json, made by
 * scripts/gen-vectors.ts) and must produce byte-identical output, drawing every recorded byte
 * and no more. Run on every available curve backend.
 */

import { beforeEach, describe, expect, it } from 'vitest';
import {
  availableBackends,
  Capsule,
  CapsuleFrag,
  curveBackendName,
  decryptOriginal,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  KeyFrag,
  OpenReencryptedError,
  PublicKey,
  reencrypt,
  SecretKey,
  SecretKeyFactory,
  Signature,
  Signer,
  setCurveBackend,
} from '../src/index.js';
import { hex, sha256, unhex } from './helpers/bytes.js';
import { replayRng } from './helpers/rng.js';
import { loadVectors, type PreVector, plaintextOf } from './helpers/vectors.js';

const vectors = loadVectors();

/** Runs `op` with the recorded stream and checks that it was consumed exactly. */
function replay<T>(recorded: string, op: (rng: (n: number) => Uint8Array) => T): T {
  const r = replayRng(recorded);
  const out = op(r.rng);
  expect(r.remaining(), `recorded rng bytes left undrawn (draws: ${r.draws.join(',')})`).toBe(0);
  return out;
}

function keysOf(v: PreVector) {
  const delegatingSk = SecretKey.fromBEBytes(unhex(v.delegatingSecretKey));
  const receivingSk = SecretKey.fromBEBytes(unhex(v.receivingSecretKey));
  const signingSk = SecretKey.fromBEBytes(unhex(v.signingSecretKey));
  return {
    delegatingSk,
    receivingSk,
    signingSk,
    delegatingPk: PublicKey.fromCompressedBytes(unhex(v.delegatingPublicKey)),
    receivingPk: PublicKey.fromCompressedBytes(unhex(v.receivingPublicKey)),
    verifyingPk: PublicKey.fromCompressedBytes(unhex(v.verifyingKey)),
  };
}

const rebuiltCiphertexts = new Map<string, Uint8Array>();

/**
 * The recorded ciphertext; for large plaintexts (stored as a hash) rebuilt with our encrypt
 * (once per backend and case).
 */
function ciphertextOf(v: PreVector, plaintext: Uint8Array): Uint8Array {
  if (v.encrypt.ciphertext !== undefined) return unhex(v.encrypt.ciphertext);
  const key = `${curveBackendName()}/${v.name}`;
  const cached = rebuiltCiphertexts.get(key);
  if (cached !== undefined) return cached;
  const keys = keysOf(v);
  const [, ct] = encrypt(keys.delegatingPk, plaintext, { rng: replayRng(v.encrypt.rng).rng });
  if (hex(sha256(ct)) !== v.encrypt.ciphertextSha256) {
    throw new Error('cannot rebuild the recorded ciphertext: our encrypt differs (see the encrypt test)');
  }
  rebuiltCiphertexts.set(key, ct);
  return ct;
}

/** Byte equality without building huge assertion diffs. */
const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

const backends = availableBackends();

describe('umbral-pre vectors file', () => {
  it('is for umbral-pre 0.10.0 and has the expected cases', () => {
    expect(vectors.umbralPreVersion).toBe('0.10.0');
    expect(vectors.pre.length).toBeGreaterThanOrEqual(21);
    expect(backends.length).toBeGreaterThan(0);
    expect(backends).toContain('noble');
  });
});

for (const backend of backends) {
  describe(`umbral-pre ${vectors.umbralPreVersion} vectors [${backend}]`, () => {
    beforeEach(() => {
      setCurveBackend(backend);
    });

    describe('SecretKey.random', () => {
      for (const v of vectors.secretKeyRandom) {
        it(v.name, () => {
          const sk = replay(v.rng, (rng) => SecretKey.random({ rng }));
          expect(hex(sk.toBEBytes())).toBe(v.secretKey);
          expect(hex(sk.publicKey().toCompressedBytes())).toBe(v.publicKey);
        });
      }
    });

    describe('PublicKey', () => {
      for (const v of vectors.publicKeys) {
        it(`sk ${v.secretKey}`, () => {
          const sk = SecretKey.fromBEBytes(unhex(v.secretKey));
          expect(hex(sk.toBEBytes())).toBe(v.secretKey);
          const pk = sk.publicKey();
          expect(hex(pk.toCompressedBytes())).toBe(v.publicKey);
          const parsed = PublicKey.fromCompressedBytes(unhex(v.publicKey));
          expect(parsed.equals(pk)).toBe(true);
          expect(hex(parsed.toCompressedBytes())).toBe(v.publicKey);
        });
      }
    });

    describe('Signer.sign', () => {
      for (const v of vectors.signatures) {
        it(v.name, () => {
          const signer = new Signer(SecretKey.fromBEBytes(unhex(v.secretKey)));
          expect(hex(signer.verifyingKey().toCompressedBytes())).toBe(v.verifyingKey);
          const message = unhex(v.message);
          const sig = replay(v.rng, (rng) => signer.sign(message, { rng }));
          expect(hex(sig.toBEBytes())).toBe(v.signature);
          expect(hex(sig.toDerBytes())).toBe(v.signatureDer);
          const vk = PublicKey.fromCompressedBytes(unhex(v.verifyingKey));
          expect(sig.verify(vk, message)).toBe(true);
          const fromBE = Signature.fromBEBytes(unhex(v.signature));
          const fromDer = Signature.fromDerBytes(unhex(v.signatureDer));
          expect(fromBE.equals(sig)).toBe(true);
          expect(hex(fromDer.toBEBytes())).toBe(v.signature);
          expect(hex(fromBE.toDerBytes())).toBe(v.signatureDer);
          expect(fromDer.verify(vk, message)).toBe(true);
        });
      }
    });

    describe('SecretKeyFactory', () => {
      it('seedSize', () => {
        expect(SecretKeyFactory.seedSize()).toBe(vectors.secretKeyFactory.seedSize);
      });
      vectors.secretKeyFactory.vectors.forEach((v, i) => {
        const name = v.rng === undefined ? `seed ${v.seed}` : `random() with seed ${v.seed}`;
        it(`#${i}: ${name}`, () => {
          const factory =
            v.rng === undefined
              ? SecretKeyFactory.fromSecureRandomness(unhex(v.seed))
              : replay(v.rng, (rng) => SecretKeyFactory.random({ rng }));
          for (const l of v.labels) {
            const label = unhex(l.label);
            expect(hex(factory.makeKey(label).toBEBytes()), `makeKey(${l.label})`).toBe(l.key);
            expect(hex(factory.makeSecret(label)), `makeSecret(${l.label})`).toBe(l.secret);
            const child = factory.makeFactory(label);
            for (const c of l.factory) {
              const cl = unhex(c.label);
              expect(hex(child.makeKey(cl).toBEBytes()), `makeFactory(${l.label}).makeKey(${c.label})`).toBe(
                c.key,
              );
              expect(hex(child.makeSecret(cl)), `makeFactory(${l.label}).makeSecret(${c.label})`).toBe(
                c.secret,
              );
            }
          }
        });
      });
    });

    for (const v of vectors.pre) {
      describe(`pre ${v.name}`, () => {
        it('keys', () => {
          const k = keysOf(v);
          expect(hex(k.delegatingSk.publicKey().toCompressedBytes())).toBe(v.delegatingPublicKey);
          expect(hex(k.receivingSk.publicKey().toCompressedBytes())).toBe(v.receivingPublicKey);
          expect(hex(new Signer(k.signingSk).verifyingKey().toCompressedBytes())).toBe(v.verifyingKey);
        });

        it('encrypt', () => {
          const { delegatingPk } = keysOf(v);
          const plaintext = plaintextOf(v);
          const [capsule, ct] = replay(v.encrypt.rng, (rng) => encrypt(delegatingPk, plaintext, { rng }));
          expect(hex(capsule.toBytes()), 'capsule').toBe(v.encrypt.capsule);
          expect(hex(capsule.toBytesSimple()), 'capsule (simple)').toBe(v.encrypt.capsuleSimple);
          if (v.encrypt.ciphertext !== undefined) {
            expect(hex(ct), 'ciphertext').toBe(v.encrypt.ciphertext);
          } else {
            expect(ct.length, 'ciphertext length').toBe(v.encrypt.ciphertextLength);
            expect(hex(sha256(ct)), 'ciphertext sha256').toBe(v.encrypt.ciphertextSha256);
          }
        });

        it('Capsule.fromBytes', () => {
          const capsule = Capsule.fromBytes(unhex(v.encrypt.capsule));
          expect(hex(capsule.toBytes())).toBe(v.encrypt.capsule);
          expect(hex(capsule.toBytesSimple())).toBe(v.encrypt.capsuleSimple);
        });

        it('decryptOriginal', () => {
          const { delegatingSk } = keysOf(v);
          const plaintext = plaintextOf(v);
          const capsule = Capsule.fromBytes(unhex(v.encrypt.capsule));
          const pt = decryptOriginal(delegatingSk, capsule, ciphertextOf(v, plaintext));
          expect(pt.length).toBe(plaintext.length);
          expect(sameBytes(pt, plaintext), 'decrypted plaintext').toBe(true);
        });

        it('generateKFrags', () => {
          const { delegatingSk, receivingPk, signingSk } = keysOf(v);
          const signer = new Signer(signingSk);
          const kfrags = replay(v.generateKFrags.rng, (rng) =>
            generateKFrags(
              delegatingSk,
              receivingPk,
              signer,
              v.threshold,
              v.shares,
              v.signDelegatingKey,
              v.signReceivingKey,
              { rng },
            ),
          );
          expect(kfrags.length).toBe(v.shares);
          kfrags.forEach((k, i) => {
            expect(hex(k.toBytes()), `kfrag ${i}`).toBe(v.generateKFrags.kfrags[i]);
          });
        });

        it('KeyFrag.fromBytes + verify', () => {
          const { delegatingPk, receivingPk, verifyingPk } = keysOf(v);
          v.generateKFrags.kfrags.forEach((b, i) => {
            const kfrag = KeyFrag.fromBytes(unhex(b));
            expect(hex(kfrag.toBytes()), `kfrag ${i} round trip`).toBe(b);
            const verified = kfrag.verify(
              verifyingPk,
              v.signDelegatingKey ? delegatingPk : null,
              v.signReceivingKey ? receivingPk : null,
            );
            expect(hex(verified.toBytes()), `verified kfrag ${i}`).toBe(b);
            expect(hex(verified.unverify().toBytes())).toBe(b);
          });
        });

        it('reencrypt', () => {
          const capsule = Capsule.fromBytes(unhex(v.encrypt.capsule));
          for (const r of v.reencrypt) {
            const kfrag = KeyFrag.fromBytes(unhex(v.generateKFrags.kfrags[r.kfrag]!)).skipVerification();
            const cfrag = replay(r.rng, (rng) => reencrypt(capsule, kfrag, { rng }));
            expect(hex(cfrag.toBytes()), `cfrag from kfrag ${r.kfrag}`).toBe(r.cfrag);
            expect(hex(cfrag.toBytesSimple()), `cfrag from kfrag ${r.kfrag} (simple)`).toBe(r.cfragSimple);
          }
        });

        it('CapsuleFrag.fromBytes + verify', () => {
          const { delegatingPk, receivingPk, verifyingPk } = keysOf(v);
          const capsule = Capsule.fromBytes(unhex(v.encrypt.capsule));
          for (const r of v.reencrypt) {
            const cfrag = CapsuleFrag.fromBytes(unhex(r.cfrag));
            expect(hex(cfrag.toBytes()), `cfrag ${r.kfrag} round trip`).toBe(r.cfrag);
            expect(hex(cfrag.toBytesSimple()), `cfrag ${r.kfrag} (simple)`).toBe(r.cfragSimple);
            const verified = cfrag.verify(capsule, verifyingPk, delegatingPk, receivingPk);
            expect(hex(verified.toBytes()), `verified cfrag ${r.kfrag}`).toBe(r.cfrag);
            expect(hex(verified.toBytesSimple())).toBe(r.cfragSimple);
          }
        });

        it('decryptReencrypted with the first threshold cfrags, and the last', () => {
          const { receivingSk, delegatingPk, receivingPk, verifyingPk } = keysOf(v);
          const plaintext = plaintextOf(v);
          const ct = ciphertextOf(v, plaintext);
          const capsule = Capsule.fromBytes(unhex(v.encrypt.capsule));
          const verified = v.reencrypt.map((r) =>
            CapsuleFrag.fromBytes(unhex(r.cfrag)).verify(capsule, verifyingPk, delegatingPk, receivingPk),
          );
          const first = decryptReencrypted(
            receivingSk,
            delegatingPk,
            capsule,
            verified.slice(0, v.threshold),
            ct,
          );
          expect(sameBytes(first, plaintext), 'plaintext from the first cfrags').toBe(true);
          const last = decryptReencrypted(
            receivingSk,
            delegatingPk,
            capsule,
            verified.slice(-v.threshold),
            ct,
          );
          expect(sameBytes(last, plaintext), 'plaintext from the last cfrags').toBe(true);
          if (v.threshold > 1) {
            expect(() =>
              decryptReencrypted(receivingSk, delegatingPk, capsule, verified.slice(0, v.threshold - 1), ct),
            ).toThrow(OpenReencryptedError);
          }
        });
      });
    }
  });
}
