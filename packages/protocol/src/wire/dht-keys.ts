/**
 * DHT record keys (DESIGN.md "Nodes", "DHT records"): the key is H(namespace || signer public
 * key || id) and the value carries the signer's key and the id (dht-record.ts), so a validator
 * recomputes the key from the value and nobody can squat or overwrite another signer's record.
 *
 * Key bytes: UTF-8 of "/thresh/" + namespace + "/" + hex(SHA-256(namespace || 0x00 || signer
 * public key (33) || id)). The hash input is unambiguous: the namespace holds no 0x00 and the key
 * has a fixed length; each namespace fixes its id length.
 *
 * Layout and @libp2p/kad-dht (v16, src/record/validators.ts and selectors.ts): it splits the
 * key's UTF-8 text on "/" and looks its validator and selector up by the FIRST segment
 * (parts[1]; "/pk/..." -> "pk"), and requires at least three parts. All our keys therefore
 * share the first segment "thresh" (DHT_KEY_PREFIX): the node registers one validator and one
 * selector under it (`validators: { thresh }`, `selectors: { thresh }`), and ours dispatch on
 * the second segment, the namespace. One registration covers namespaces added later.
 *
 * Namespaces (signer; id; record):
 * - node:       the node;  empty;                           its signed node record
 * - revocation: the owner; policy id (16);                  the signed revocation
 * - policy-map: the owner; policyMapDhtId(reader, level) (32); the map sealed to the reader
 * - handoff:    the old node; policy digest || kfrag id (64); the handoff certificate
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { DecodeError, InvalidArgumentError } from '../errors.js';
import { PublicKey } from '../umbral/keys.js';
import { toHex, WIRE_SIZES } from './fields.js';

/** First segment of every thresh DHT key: the name to register the validator and selector under. */
export const DHT_KEY_PREFIX = 'thresh';

export const DHT_NAMESPACES = ['node', 'revocation', 'policy-map', 'handoff'] as const;
export type DhtNamespace = (typeof DHT_NAMESPACES)[number];

export interface DhtNamespaceRule {
  /** Exact id length. */
  readonly idBytes: number;
  /** Largest record (the signed or sealed object the value carries). */
  readonly maxRecordBytes: number;
}

export const DHT_NAMESPACE_RULES: { readonly [K in DhtNamespace]: DhtNamespaceRule } = {
  node: { idBytes: 0, maxRecordBytes: WIRE_SIZES.maxNodeRecord },
  revocation: { idBytes: WIRE_SIZES.policyId, maxRecordBytes: WIRE_SIZES.maxRevocation },
  'policy-map': { idBytes: 32, maxRecordBytes: WIRE_SIZES.maxSealedMap },
  handoff: {
    idBytes: WIRE_SIZES.digest + WIRE_SIZES.kfragId,
    maxRecordBytes: WIRE_SIZES.maxHandoffCertificate,
  },
};

const HASH_HEX_CHARS = 64;
/** Longest key: "/thresh/" + the longest namespace + "/" + 64 hex digits. */
export const DHT_KEY_MAX_BYTES = 1 + DHT_KEY_PREFIX.length + 1 + 'policy-map'.length + 1 + HASH_HEX_CHARS;

const utf8 = new TextEncoder();

export function isDhtNamespace(v: unknown): v is DhtNamespace {
  return typeof v === 'string' && (DHT_NAMESPACES as readonly string[]).includes(v);
}

function assertNamespace(namespace: unknown): asserts namespace is DhtNamespace {
  if (!isDhtNamespace(namespace)) {
    throw new InvalidArgumentError('namespace', `expected one of ${DHT_NAMESPACES.join(', ')}`);
  }
}

function signerBytes(signer: PublicKey | Uint8Array): Uint8Array {
  if (signer instanceof PublicKey) return signer.toCompressedBytes();
  if (!(signer instanceof Uint8Array))
    throw new InvalidArgumentError('signer', 'expected a PublicKey or bytes');
  if (signer.length !== WIRE_SIZES.publicKey || (signer[0] !== 2 && signer[0] !== 3)) {
    throw new InvalidArgumentError('signer', 'expected a 33-byte compressed public key');
  }
  return signer;
}

function assertId(namespace: DhtNamespace, id: unknown): asserts id is Uint8Array {
  if (!(id instanceof Uint8Array)) throw new InvalidArgumentError('id', 'expected a Uint8Array');
  const want = DHT_NAMESPACE_RULES[namespace].idBytes;
  if (id.length !== want) {
    throw new InvalidArgumentError('id', `a ${namespace} id has ${want} bytes, got ${id.length}`);
  }
}

/** SHA-256(namespace || 0x00 || signer public key || id). */
export function dhtKeyHash(
  namespace: DhtNamespace,
  signer: PublicKey | Uint8Array,
  id: Uint8Array,
): Uint8Array {
  assertNamespace(namespace);
  const pk = signerBytes(signer);
  assertId(namespace, id);
  const ns = utf8.encode(namespace);
  const input = new Uint8Array(ns.length + 1 + pk.length + id.length);
  input.set(ns);
  input.set(pk, ns.length + 1);
  input.set(id, ns.length + 1 + pk.length);
  return sha256(input);
}

/** The DHT key of the record of `signer` with `id` in `namespace`. */
export function makeDhtKey(
  namespace: DhtNamespace,
  signer: PublicKey | Uint8Array,
  id: Uint8Array,
): Uint8Array {
  const hash = dhtKeyHash(namespace, signer, id);
  return utf8.encode(`/${DHT_KEY_PREFIX}/${namespace}/${toHex(hash)}`);
}

const KEY_PATTERN = /^\/thresh\/([a-z-]{1,32})\/([0-9a-f]{64})$/;

/** Splits a key into namespace and hash; anything but a thresh key in canonical form is a DecodeError. */
export function parseDhtKey(key: Uint8Array): { namespace: DhtNamespace; hash: string } {
  if (!(key instanceof Uint8Array)) throw new DecodeError('dht key', 'expected a Uint8Array');
  if (key.length > DHT_KEY_MAX_BYTES) throw new DecodeError('dht key', `over ${DHT_KEY_MAX_BYTES} bytes`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(key);
  } catch (cause) {
    throw new DecodeError('dht key', 'not UTF-8', { cause });
  }
  const m = KEY_PATTERN.exec(text);
  if (!m) throw new DecodeError('dht key', 'not of the form /thresh/<namespace>/<64 hex digits>');
  if (!isDhtNamespace(m[1])) throw new DecodeError('dht key', `unknown namespace ${JSON.stringify(m[1])}`);
  return { namespace: m[1], hash: m[2] };
}

// ---------------------------------------------------------------------------- ids

const POLICY_MAP_ID_DOMAIN = utf8.encode('thresh/v1/dht/policy-map\u0000');

/**
 * The id of a policy map: SHA-256("thresh/v1/dht/policy-map" || 0x00 || reader encrypting key
 * (33) || the level's path hash (32)). Owner and reader both compute it, from the owner card,
 * the reader card and the path (DESIGN.md "Decrypt": the reader finds its map by owner card
 * and path); nobody else can, since the path hash is keyed by their shared secret. Hashed, not
 * concatenated, because the id is public in the DHT value: the reader's key and the path hash
 * stay out of it, so the DHT does not show whom an owner grants to. One key per owner, reader,
 * level and epoch: a newer map for the same level replaces the older one (higher seq).
 */
export function policyMapDhtId(
  readerEncryptingKey: PublicKey | Uint8Array,
  pathHash: Uint8Array,
): Uint8Array {
  let reader: Uint8Array;
  try {
    reader = signerBytes(readerEncryptingKey);
  } catch {
    throw new InvalidArgumentError('reader encrypting key', 'expected a PublicKey or 33 bytes');
  }
  if (!(pathHash instanceof Uint8Array) || pathHash.length !== WIRE_SIZES.pathHash) {
    throw new InvalidArgumentError('path hash', `expected ${WIRE_SIZES.pathHash} bytes`);
  }
  const input = new Uint8Array(POLICY_MAP_ID_DOMAIN.length + reader.length + pathHash.length);
  input.set(POLICY_MAP_ID_DOMAIN);
  input.set(reader, POLICY_MAP_ID_DOMAIN.length);
  input.set(pathHash, POLICY_MAP_ID_DOMAIN.length + reader.length);
  return sha256(input);
}

/** The id of a handoff: policy digest (32) || kfrag id (32). Readers know both from their map. */
export function handoffDhtId(policyDigest: Uint8Array, kfragId: Uint8Array): Uint8Array {
  if (!(policyDigest instanceof Uint8Array) || policyDigest.length !== WIRE_SIZES.digest) {
    throw new InvalidArgumentError('policy digest', `expected ${WIRE_SIZES.digest} bytes`);
  }
  if (!(kfragId instanceof Uint8Array) || kfragId.length !== WIRE_SIZES.kfragId) {
    throw new InvalidArgumentError('kfrag id', `expected ${WIRE_SIZES.kfragId} bytes`);
  }
  const id = new Uint8Array(WIRE_SIZES.digest + WIRE_SIZES.kfragId);
  id.set(policyDigest);
  id.set(kfragId, WIRE_SIZES.digest);
  return id;
}

/** The id of a revocation: the policy id. */
export function revocationDhtId(policyId: Uint8Array): Uint8Array {
  if (!(policyId instanceof Uint8Array) || policyId.length !== WIRE_SIZES.policyId) {
    throw new InvalidArgumentError('policy id', `expected ${WIRE_SIZES.policyId} bytes`);
  }
  return policyId.slice();
}

/** The id of a node record: empty (one record per node). */
export function nodeRecordDhtId(): Uint8Array {
  return new Uint8Array(0);
}
