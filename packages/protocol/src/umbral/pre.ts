import { InvalidArgumentError } from '../errors.js';
import { Capsule } from './capsule.js';
import { CapsuleFrag, VerifiedCapsuleFrag } from './capsule-frag.js';
import { demDecrypt, demEncrypt } from './dem.js';
import { makeKeyFrags, VerifiedKeyFrag } from './key-frag.js';
import { assertPublicKey, type PublicKey, type SecretKey, secretScalar } from './keys.js';
import type { RngOptions } from './rng.js';
import { Signer } from './signature.js';
import { abytes } from './util.js';

/** The PRE functions, with umbral-pre's names and argument order (and an optional `{ rng }`). */

/** Encrypts `plaintext` to `delegatingPk`: returns the capsule and the DEM ciphertext. */
export function encrypt(
  delegatingPk: PublicKey,
  plaintext: Uint8Array,
  opts: RngOptions = {},
): [Capsule, Uint8Array] {
  assertPublicKey(delegatingPk, 'delegating key');
  abytes(plaintext, 'plaintext', InvalidArgumentError);
  const [capsule, keySeed] = Capsule.fromPublicKey(delegatingPk, opts.rng);
  try {
    return [capsule, demEncrypt(keySeed, plaintext, capsule.toBytesSimple(), opts.rng)];
  } finally {
    keySeed.fill(0);
  }
}

export function decryptOriginal(
  delegatingSk: SecretKey,
  capsule: Capsule,
  ciphertext: Uint8Array,
): Uint8Array {
  secretScalar(delegatingSk);
  assertCapsule(capsule);
  abytes(ciphertext, 'ciphertext', InvalidArgumentError);
  const keySeed = capsule.openOriginal(delegatingSk);
  try {
    return demDecrypt(keySeed, ciphertext, capsule.toBytesSimple());
  } finally {
    keySeed.fill(0);
  }
}

/** Splits the re-encryption key from delegatingSk to receivingPk into `shares` kfrags, `threshold` needed. */
export function generateKFrags(
  delegatingSk: SecretKey,
  receivingPk: PublicKey,
  signer: Signer,
  threshold: number,
  shares: number,
  signDelegatingKey: boolean,
  signReceivingKey: boolean,
  opts: RngOptions = {},
): VerifiedKeyFrag[] {
  secretScalar(delegatingSk);
  assertPublicKey(receivingPk, 'receiving key');
  if (!(signer instanceof Signer)) throw new InvalidArgumentError('signer', 'expected a Signer');
  if (!Number.isSafeInteger(threshold) || threshold < 1) {
    throw new InvalidArgumentError('threshold', 'must be an integer >= 1');
  }
  if (!Number.isSafeInteger(shares) || shares < threshold || shares > 0xffff) {
    throw new InvalidArgumentError('shares', 'must be an integer with threshold <= shares <= 65535');
  }
  if (typeof signDelegatingKey !== 'boolean' || typeof signReceivingKey !== 'boolean') {
    throw new InvalidArgumentError('sign flags', 'signDelegatingKey and signReceivingKey must be booleans');
  }
  return makeKeyFrags(
    delegatingSk,
    receivingPk,
    signer,
    threshold,
    shares,
    signDelegatingKey,
    signReceivingKey,
    opts,
  );
}

/** Re-encrypts a capsule with a verified kfrag: the node's one operation. */
export function reencrypt(
  capsule: Capsule,
  kfrag: VerifiedKeyFrag,
  opts: RngOptions = {},
): VerifiedCapsuleFrag {
  assertCapsule(capsule);
  if (!(kfrag instanceof VerifiedKeyFrag)) {
    throw new InvalidArgumentError('kfrag', 'expected a VerifiedKeyFrag (call KeyFrag.verify first)');
  }
  return VerifiedCapsuleFrag.fromReencryption(CapsuleFrag.reencrypted(capsule, kfrag, opts));
}

/** Combines verified cfrags (at least the threshold) and decrypts. */
export function decryptReencrypted(
  receivingSk: SecretKey,
  delegatingPk: PublicKey,
  capsule: Capsule,
  verifiedCfrags: readonly VerifiedCapsuleFrag[],
  ciphertext: Uint8Array,
): Uint8Array {
  secretScalar(receivingSk);
  assertPublicKey(delegatingPk, 'delegating key');
  assertCapsule(capsule);
  if (!Array.isArray(verifiedCfrags) || !verifiedCfrags.every((c) => c instanceof VerifiedCapsuleFrag)) {
    throw new InvalidArgumentError(
      'cfrags',
      'expected an array of VerifiedCapsuleFrag (call CapsuleFrag.verify first)',
    );
  }
  abytes(ciphertext, 'ciphertext', InvalidArgumentError);
  const keySeed = capsule.openReencrypted(
    receivingSk,
    delegatingPk,
    verifiedCfrags.map((c) => c.cfrag),
  );
  try {
    return demDecrypt(keySeed, ciphertext, capsule.toBytesSimple());
  } finally {
    keySeed.fill(0);
  }
}

function assertCapsule(c: unknown): asserts c is Capsule {
  if (!(c instanceof Capsule)) throw new InvalidArgumentError('capsule', 'expected a Capsule');
}
