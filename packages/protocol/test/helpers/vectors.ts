/** Types and loading of the known-answer vectors written by scripts/gen-vectors.ts. */

import { readFileSync } from 'node:fs';
import { counterStreamBytes, hex, sha256, unhex } from './bytes.js';

export interface SecretKeyRandomVector {
  name: string;
  rng: string;
  secretKey: string;
  publicKey: string;
}

export interface PublicKeyVector {
  secretKey: string;
  publicKey: string;
}

export interface SignatureVector {
  name: string;
  secretKey: string;
  verifyingKey: string;
  message: string;
  rng: string;
  signature: string;
  signatureDer: string;
}

export interface FactoryLabelVector {
  label: string;
  key: string;
  secret: string;
  /** makeFactory(label), then makeKey / makeSecret of these labels. */
  factory: { label: string; key: string; secret: string }[];
}

export interface SecretKeyFactoryVector {
  /** Present if the factory came from SecretKeyFactory.random(): the bytes it drew (= seed). */
  rng?: string;
  seed: string;
  labels: FactoryLabelVector[];
}

export type PlaintextVector =
  | { hex: string }
  | { recipe: string; seed: string; length: number; sha256: string };

export interface PreVector {
  name: string;
  threshold: number;
  shares: number;
  signDelegatingKey: boolean;
  signReceivingKey: boolean;
  delegatingSecretKey: string;
  delegatingPublicKey: string;
  receivingSecretKey: string;
  receivingPublicKey: string;
  signingSecretKey: string;
  verifyingKey: string;
  plaintext: PlaintextVector;
  encrypt: {
    rng: string;
    capsule: string;
    capsuleSimple: string;
    /** Absent for large plaintexts: then ciphertextLength and ciphertextSha256 are given. */
    ciphertext?: string;
    ciphertextLength?: number;
    ciphertextSha256?: string;
  };
  generateKFrags: { rng: string; kfrags: string[] };
  /** reencrypt[i] re-encrypts generateKFrags.kfrags[kfrag]. */
  reencrypt: { kfrag: number; rng: string; cfrag: string; cfragSimple: string }[];
}

export interface Vectors {
  description: string;
  umbralPreVersion: string;
  curveOrder: string;
  secretKeyRandom: SecretKeyRandomVector[];
  publicKeys: PublicKeyVector[];
  signatures: SignatureVector[];
  secretKeyFactory: { seedSize: number; vectors: SecretKeyFactoryVector[] };
  pre: PreVector[];
}

export const VECTORS_URL = new URL('../vectors/umbral-pre-0.10.0.json', import.meta.url);

export function loadVectors(): Vectors {
  return JSON.parse(readFileSync(VECTORS_URL, 'utf8')) as Vectors;
}

const recipeCache = new Map<string, Uint8Array>();

/**
 * The plaintext of a case, rebuilt from its recipe if it is not stored (checked against its
 * hash; cached, so do not modify the result).
 */
export function plaintextOf(v: PreVector): Uint8Array {
  const p = v.plaintext;
  if ('hex' in p) return unhex(p.hex);
  if (!p.recipe.startsWith('sha256-counter')) throw new Error(`unknown plaintext recipe: ${p.recipe}`);
  const key = `${p.seed}/${p.length}/${p.sha256}`;
  let bytes = recipeCache.get(key);
  if (bytes === undefined) {
    bytes = counterStreamBytes(unhex(p.seed), p.length);
    if (hex(sha256(bytes)) !== p.sha256)
      throw new Error(`plaintext recipe of ${v.name} does not match its sha256`);
    recipeCache.set(key, bytes);
  }
  return bytes;
}
