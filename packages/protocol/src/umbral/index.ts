/**
 * Umbral proxy re-encryption on secp256k1, byte-compatible with @nucypher/umbral-pre 0.10.0.
 *
 * @example
 * ```ts
 * const alice = SecretKey.random(), bob = SecretKey.random(), signer = new Signer(SecretKey.random());
 * const [capsule, ct] = encrypt(alice.publicKey(), new TextEncoder().encode('hi'));
 * const kfrags = generateKFrags(alice, bob.publicKey(), signer, 2, 3, false, true);
 * const cfrags = kfrags.slice(0, 2).map((k) => reencrypt(capsule, k));
 * const pt = decryptReencrypted(bob, alice.publicKey(), capsule, cfrags, ct);
 * ```
 */
export { availableBackends, curveBackendName, nativeSecp256k1, setCurveBackend } from './backend/index.js';
export type { NativeSecp256k1 } from './backend/native-binding.js';
export type { BackendName } from './backend/types.js';
export { Capsule } from './capsule.js';
export { CapsuleFrag, VerifiedCapsuleFrag } from './capsule-frag.js';
export { KeyFrag, VerifiedKeyFrag } from './key-frag.js';
export { PublicKey, SecretKey, SecretKeyFactory } from './keys.js';
export { U_HEX } from './params.js';
export { decryptOriginal, decryptReencrypted, encrypt, generateKFrags, reencrypt } from './pre.js';
export type { Rng, RngOptions } from './rng.js';
export { Signature, Signer } from './signature.js';
