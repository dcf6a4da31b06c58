/**
 * DHT values (DESIGN.md "DHT records"): every value thresh puts in the DHT is a signed
 * "dht-record": envelope ["dht-record", 1, 0, [body bytes, signature (64)]], the body a
 * MessagePack map
 *
 * | key       | type                    | meaning                                           |
 * |-----------|-------------------------|---------------------------------------------------|
 * | namespace | str, a DhtNamespace     | node, revocation, policy-map, handoff             |
 * | signer    | bin 33 (point)          | the signer's signing key                          |
 * | id        | bin, the namespace's id length (0, 16, 32 or 64)                            |
 * | seq       | uint (safe integer)     | the signer's ordering of its values for this key |
 * | record    | bin 1..namespace cap    | the record's own bytes (signed, or sealed)        |
 *
 * signed by `signer` over SHA-256("thresh/v1/dht-record" || 0x00 || body bytes).
 *
 * Why the value is signed as a whole, not only the record inside: (1) seq decides which value
 * wins (selectNewest), so it must be the signer's, or anyone could re-put an old record with a
 * huge seq and pin it; (2) the policy map travels sealed to the reader, so no DHT peer could
 * check an inner signature, and anyone could squat its key; (3) the id is bound too, so a valid
 * record cannot be moved under another id of the same signer. Third parties (nodes keeping a
 * revocation's tombstone) republish the signer's value bytes unchanged.
 *
 * seq by namespace (what signers should use; verifiers may check it against the record):
 * node -> the node record's own seq; revocation -> 0 (every valid revocation is final and
 * equivalent); policy-map -> the map's creation time; handoff -> the certificate's time.
 */
import { SignedType } from '../codec/envelope.js';
import { parseWith, safeUint, z } from '../codec/schema.js';
import { DecodeError, InvalidArgumentError, SignatureError } from '../errors.js';
import { PublicKey } from '../umbral/keys.js';
import type { Signer } from '../umbral/signature.js';
import {
  DHT_NAMESPACE_RULES,
  DHT_NAMESPACES,
  type DhtNamespace,
  dhtKeyHash,
  makeDhtKey,
  parseDhtKey,
} from './dht-keys.js';
import { bin, toHex, WIRE_SIZES } from './fields.js';

export const DHT_RECORD_TAG = 'dht-record';
/** Largest DHT value: a sealed policy map plus the value's own fields and signature. */
export const DHT_VALUE_MAX_BYTES = WIRE_SIZES.maxSealedMap + 4 * 1024;

function isPoint(b: Uint8Array): boolean {
  try {
    PublicKey.fromCompressedBytes(b);
    return true;
  } catch {
    return false;
  }
}

export const dhtRecordSchema = z
  .object({
    namespace: z.enum(DHT_NAMESPACES),
    signer: bin(WIRE_SIZES.publicKey).refine(isPoint, { message: 'not a compressed secp256k1 point' }),
    id: bin({ max: 64 }),
    seq: safeUint,
    record: bin({ min: 1, max: WIRE_SIZES.maxSealedMap }),
  })
  .superRefine((v, ctx) => {
    const rule = DHT_NAMESPACE_RULES[v.namespace];
    if (v.id.length !== rule.idBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['id'],
        message: `a ${v.namespace} id has ${rule.idBytes} bytes, got ${v.id.length}`,
      });
    }
    if (v.record.length > rule.maxRecordBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['record'],
        message: `a ${v.namespace} record has at most ${rule.maxRecordBytes} bytes, got ${v.record.length}`,
      });
    }
  });
export type DhtRecordBody = z.infer<typeof dhtRecordSchema>;

export const dhtRecordType = new SignedType<DhtRecordBody>(
  DHT_RECORD_TAG,
  dhtRecordSchema,
  0,
  DHT_VALUE_MAX_BYTES,
);

export interface DhtValueInit {
  namespace: DhtNamespace;
  id: Uint8Array;
  seq: number;
  record: Uint8Array;
}

/** Signs and encodes a DHT value; the signer's key is the `signer` field. Put it at `dhtValueKey`. */
export function encodeDhtValue(init: DhtValueInit, signer: Signer): Uint8Array {
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError('dht value', 'expected an object');
  if (!signer || typeof (signer as Signer).verifyingKey !== 'function') {
    throw new InvalidArgumentError('signer', 'expected a Signer');
  }
  const body = {
    namespace: init.namespace,
    signer: signer.verifyingKey().toCompressedBytes(),
    id: init.id,
    seq: init.seq,
    record: init.record,
  };
  let checked: DhtRecordBody;
  try {
    checked = parseWith(dhtRecordSchema, body, DHT_RECORD_TAG);
  } catch (e) {
    if (e instanceof DecodeError) throw new InvalidArgumentError(e.field, e.message, { cause: e });
    throw e;
  }
  return dhtRecordType.sign(checked, signer).bytes;
}

/** Decodes a DHT value: structure and caps only, the signature is NOT checked (validateDhtRecord does). */
export function decodeDhtValue(bytes: Uint8Array): DhtRecordBody {
  return dhtRecordType.decode(bytes).body;
}

/** The key a DHT value belongs under, from its own fields (not verified). */
export function dhtValueKey(body: Pick<DhtRecordBody, 'namespace' | 'signer' | 'id'>): Uint8Array {
  return makeDhtKey(body.namespace, body.signer, body.id);
}

/**
 * Checks the record inside a value (its own signature by `signer`, expiry, that it matches `id`
 * and `seq`); throws to reject. The node wires the records' verifiers in per namespace.
 */
export type DhtInnerVerifier = (
  namespace: DhtNamespace,
  signer: PublicKey,
  record: Uint8Array,
  meta: { readonly id: Uint8Array; readonly seq: number },
) => void;

/** A DHT value that passed validateDhtRecord. */
export interface ValidDhtRecord {
  readonly namespace: DhtNamespace;
  readonly signer: PublicKey;
  readonly id: Uint8Array;
  readonly seq: number;
  readonly record: Uint8Array;
}

/**
 * The DHT validator: decodes `value` (caps, envelope version), checks that `key` is the key of
 * its namespace, signer and id, that the signer signed it, and then runs `verifyInner`. Throws a
 * DecodeError (wrong key, bad bytes), UnsupportedVersionError, TooLargeError or SignatureError,
 * or whatever `verifyInner` throws.
 */
export function validateDhtRecord(
  key: Uint8Array,
  value: Uint8Array,
  verifyInner: DhtInnerVerifier,
): ValidDhtRecord {
  if (typeof verifyInner !== 'function') throw new InvalidArgumentError('verifyInner', 'expected a function');
  const parsedKey = parseDhtKey(key);
  const signed = dhtRecordType.decode(value);
  const body = signed.body;
  if (body.namespace !== parsedKey.namespace) {
    throw new DecodeError(
      'dht-record.namespace',
      `a ${body.namespace} value under a ${parsedKey.namespace} key`,
    );
  }
  if (toHex(dhtKeyHash(body.namespace, body.signer, body.id)) !== parsedKey.hash) {
    throw new DecodeError('dht-record', 'the key is not H(namespace, signer, id) of the value');
  }
  const signer = PublicKey.fromCompressedBytes(body.signer);
  if (!signed.verify(signer)) throw new SignatureError(`${DHT_RECORD_TAG}: signature does not verify`);
  verifyInner(body.namespace, signer, body.record, { id: body.id, seq: body.seq });
  return { namespace: body.namespace, signer, id: body.id, seq: body.seq, record: body.record };
}

/**
 * The index of the newest value: the highest seq, the first of equals. For values that were
 * validated (kad-dht validates before it selects): it decodes, it does not check signatures.
 * A value that does not decode is never chosen over one that does; with none, index 0.
 */
export function selectNewest(values: readonly Uint8Array[]): number {
  let best = 0;
  let bestSeq = -1;
  values.forEach((v, i) => {
    let seq: number;
    try {
      seq = decodeDhtValue(v).seq;
    } catch {
      return;
    }
    if (seq > bestSeq) {
      best = i;
      bestSeq = seq;
    }
  });
  return best;
}

/** A kad-dht ValidateFn for `validators: { [DHT_KEY_PREFIX]: dhtValidator(verifyInner) }`. */
export function dhtValidator(
  verifyInner: DhtInnerVerifier,
): (key: Uint8Array, value: Uint8Array) => Promise<void> {
  return async (key, value) => {
    validateDhtRecord(key, value, verifyInner);
  };
}

/** A kad-dht SelectFn for `selectors: { [DHT_KEY_PREFIX]: dhtSelector }`. */
export function dhtSelector(_key: Uint8Array, values: Uint8Array[]): number {
  return selectNewest(values);
}
