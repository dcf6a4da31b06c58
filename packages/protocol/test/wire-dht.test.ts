import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { pack, unpack } from '../src/codec/msgpack.js';
import { SecretKey, Signer } from '../src/umbral/index.js';
import {
  DHT_KEY_PREFIX,
  DHT_NAMESPACE_RULES,
  DHT_NAMESPACES,
  type DhtInnerVerifier,
  type DhtNamespace,
  decodeDhtValue,
  dhtSelector,
  dhtValidator,
  dhtValueKey,
  encodeDhtValue,
  handoffDhtId,
  makeDhtKey,
  nodeRecordDhtId,
  parseDhtKey,
  policyMapDhtId,
  revocationDhtId,
  selectNewest,
  validateDhtRecord,
} from '../src/wire/index.js';
import { filled, outcome } from './wire-fixture.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const newSigner = () => new Signer(SecretKey.random());
const pkOf = (s: Signer) => s.verifyingKey().toCompressedBytes();
const idFor = (ns: DhtNamespace, seed = 1) => filled(DHT_NAMESPACE_RULES[ns].idBytes, seed);
const accept: DhtInnerVerifier = () => {};

function value(
  signer: Signer,
  ns: DhtNamespace,
  over: { id?: Uint8Array; seq?: number; record?: Uint8Array } = {},
) {
  const id = over.id ?? idFor(ns);
  const bytes = encodeDhtValue(
    { namespace: ns, id, seq: over.seq ?? 1, record: over.record ?? filled(100) },
    signer,
  );
  return { key: makeDhtKey(ns, pkOf(signer), id), bytes, id };
}

/** Re-packs a value with a modified body and the original signature. */
function tamper(bytes: Uint8Array, change: (body: Record<string, unknown>) => void): Uint8Array {
  const [tag, major, minor, [bodyBytes, sig]] = unpack(bytes, 'test', 1e6) as [
    string,
    number,
    number,
    [Uint8Array, Uint8Array],
  ];
  const body = unpack(bodyBytes, 'test', 1e6) as Record<string, unknown>;
  change(body);
  return pack([tag, major, minor, [pack(body), sig]]);
}

describe('DHT keys', () => {
  it('is /thresh/<namespace>/hex(SHA-256(namespace || 0 || signer || id))', () => {
    const s = newSigner();
    for (const ns of DHT_NAMESPACES) {
      const id = idFor(ns, 3);
      const want = createHash('sha256')
        .update(Buffer.concat([utf8(ns), Buffer.of(0), pkOf(s), id]))
        .digest('hex');
      const key = makeDhtKey(ns, s.verifyingKey(), id);
      expect(text(key)).toBe(`/thresh/${ns}/${want}`);
      expect(makeDhtKey(ns, pkOf(s), id)).toEqual(key);
      expect(parseDhtKey(key)).toEqual({ namespace: ns, hash: want });
    }
  });

  it("is found by kad-dht's lookup: the first path segment names the validator", () => {
    // @libp2p/kad-dht record/validators.ts: key.split('/'), parts.length >= 3, validators[parts[1]]
    const parts = text(makeDhtKey('handoff', pkOf(newSigner()), idFor('handoff'))).split('/');
    expect(parts.length).toBeGreaterThanOrEqual(3);
    expect(parts[1]).toBe(DHT_KEY_PREFIX);
  });

  it('differs by namespace, signer and id', () => {
    const a = pkOf(newSigner());
    const b = pkOf(newSigner());
    const keys = [
      makeDhtKey('revocation', a, filled(16, 1)),
      makeDhtKey('revocation', a, filled(16, 2)),
      makeDhtKey('revocation', b, filled(16, 1)),
      makeDhtKey('node', a, nodeRecordDhtId()),
      makeDhtKey('node', b, nodeRecordDhtId()),
    ];
    expect(new Set(keys.map(hex)).size).toBe(keys.length);
  });

  it('rejects bad arguments', () => {
    const pk = pkOf(newSigner());
    expect(outcome(() => makeDhtKey('nodes' as DhtNamespace, pk, new Uint8Array(0)))).toBe(
      'InvalidArgumentError',
    );
    expect(outcome(() => makeDhtKey('node', pk, filled(1)))).toBe('InvalidArgumentError');
    expect(outcome(() => makeDhtKey('revocation', pk, filled(32)))).toBe('InvalidArgumentError');
    expect(outcome(() => makeDhtKey('revocation', pk.subarray(1), filled(16)))).toBe('InvalidArgumentError');
    expect(outcome(() => makeDhtKey('revocation', 'pk' as unknown as Uint8Array, filled(16)))).toBe(
      'InvalidArgumentError',
    );
  });

  it('parseDhtKey accepts only the canonical form', () => {
    const good = text(makeDhtKey('node', pkOf(newSigner()), nodeRecordDhtId()));
    const h = good.split('/')[3];
    for (const k of [
      `/pk/${h}`,
      `/thresh/nodes/${h}`,
      `/thresh/node/${h.toUpperCase()}`,
      `/thresh/node/${h.slice(1)}`,
      `/thresh/node/${h}/`,
      `thresh/node/${h}`,
      `/thresh/node/${h}0`,
      '',
    ]) {
      expect(outcome(() => parseDhtKey(utf8(k)))).toBe('DecodeError');
    }
    expect(outcome(() => parseDhtKey(Uint8Array.of(0x2f, 0xff, 0xfe)))).toBe('DecodeError');
    expect(outcome(() => parseDhtKey(new Uint8Array(4096)))).toBe('DecodeError');
  });

  it('ids', () => {
    const reader = SecretKey.random().publicKey();
    const other = SecretKey.random().publicKey();
    const ph = filled(32, 1);
    const id = policyMapDhtId(reader, ph);
    expect(id).toHaveLength(32);
    expect(policyMapDhtId(reader.toCompressedBytes(), ph)).toEqual(id);
    expect(policyMapDhtId(other, ph)).not.toEqual(id);
    expect(policyMapDhtId(reader, filled(32, 2))).not.toEqual(id);
    expect(outcome(() => policyMapDhtId(reader, filled(31)))).toBe('InvalidArgumentError');
    expect(outcome(() => policyMapDhtId(filled(33), ph))).toBe('InvalidArgumentError');

    const digest = filled(32, 3);
    const kid = filled(32, 4);
    expect(handoffDhtId(digest, kid)).toEqual(new Uint8Array([...digest, ...kid]));
    expect(outcome(() => handoffDhtId(digest, filled(31)))).toBe('InvalidArgumentError');
    const pid = filled(16, 5);
    const rid = revocationDhtId(pid);
    expect(rid).toEqual(pid);
    expect(rid).not.toBe(pid);
    expect(outcome(() => revocationDhtId(filled(17)))).toBe('InvalidArgumentError');
    expect(nodeRecordDhtId()).toHaveLength(0);
  });
});

describe('DHT values', () => {
  it('round-trip and validate in every namespace', () => {
    const s = newSigner();
    for (const ns of DHT_NAMESPACES) {
      const record = filled(Math.min(300, DHT_NAMESPACE_RULES[ns].maxRecordBytes), 7);
      const { key, bytes, id } = value(s, ns, { seq: 42, record });
      const body = decodeDhtValue(bytes);
      expect(body).toEqual({ namespace: ns, signer: pkOf(s), id, seq: 42, record });
      expect(dhtValueKey(body)).toEqual(key);
      const inner = vi.fn<DhtInnerVerifier>();
      const valid = validateDhtRecord(key, bytes, inner);
      expect(inner).toHaveBeenCalledOnce();
      const [gotNs, gotSigner, gotRecord, meta] = inner.mock.calls[0];
      expect(gotNs).toBe(ns);
      expect(gotSigner.equals(s.verifyingKey())).toBe(true);
      expect(gotRecord).toEqual(record);
      expect(meta).toEqual({ id, seq: 42 });
      expect(valid.seq).toBe(42);
      expect(valid.namespace).toBe(ns);
    }
  });

  it('a sealed policy map at its cap fits', () => {
    const s = newSigner();
    const max = DHT_NAMESPACE_RULES['policy-map'].maxRecordBytes;
    const { key, bytes } = value(s, 'policy-map', { record: filled(max) });
    expect(() => validateDhtRecord(key, bytes, accept)).not.toThrow();
    expect(outcome(() => value(s, 'policy-map', { record: filled(max + 1) }))).toBe('InvalidArgumentError');
    expect(outcome(() => value(s, 'revocation', { record: filled(513) }))).toBe('InvalidArgumentError');
  });

  it('rejects a value under the key of another signer, id or namespace', () => {
    const a = newSigner();
    const b = newSigner();
    const { bytes, id } = value(a, 'revocation');
    const check = (key: Uint8Array) => outcome(() => validateDhtRecord(key, bytes, accept));
    expect(check(makeDhtKey('revocation', pkOf(a), id))).toBe('ok');
    expect(check(makeDhtKey('revocation', pkOf(b), id))).toBe('DecodeError'); // wrong signer
    expect(check(makeDhtKey('revocation', pkOf(a), filled(16, 9)))).toBe('DecodeError'); // wrong id
    expect(check(makeDhtKey('handoff', pkOf(a), filled(64)))).toBe('DecodeError'); // wrong namespace
    const sameHashOtherNs = utf8(
      text(makeDhtKey('revocation', pkOf(a), id)).replace('/revocation/', '/handoff/'),
    );
    expect(check(sameHashOtherNs)).toBe('DecodeError');
    // a valid value moved to another valid value's key
    const other = value(a, 'revocation', { id: filled(16, 5) });
    expect(check(other.key)).toBe('DecodeError');
    expect(outcome(() => validateDhtRecord(other.key, other.bytes, accept))).toBe('ok');
  });

  it('rejects forged or altered values: the signature covers signer, id, seq and record', () => {
    const a = newSigner();
    const b = newSigner();
    const { key, bytes, id } = value(a, 'node', { seq: 5 });
    const forgedSeq = tamper(bytes, (body) => {
      body.seq = 2 ** 40;
    });
    expect(outcome(() => validateDhtRecord(key, forgedSeq, accept))).toBe('SignatureError');
    const forgedRecord = tamper(bytes, (body) => {
      body.record = filled(100, 99);
    });
    expect(outcome(() => validateDhtRecord(key, forgedRecord, accept))).toBe('SignatureError');
    // claim b's identity with a's signature: the key matches b, the signature does not
    const squat = tamper(bytes, (body) => {
      body.signer = pkOf(b);
    });
    expect(outcome(() => validateDhtRecord(makeDhtKey('node', pkOf(b), id), squat, accept))).toBe(
      'SignatureError',
    );
    const moved = tamper(value(a, 'revocation').bytes, (body) => {
      body.id = filled(16, 77);
    });
    expect(
      outcome(() => validateDhtRecord(makeDhtKey('revocation', pkOf(a), filled(16, 77)), moved, accept)),
    ).toBe('SignatureError');
  });

  it('rejects malformed bodies with DecodeError', () => {
    const a = newSigner();
    const { key, bytes } = value(a, 'revocation');
    const cases: ((b: Record<string, unknown>) => void)[] = [
      (b) => {
        b.id = filled(15);
      },
      (b) => {
        b.namespace = 'nodes';
      },
      (b) => {
        b.signer = filled(33);
      },
      (b) => {
        b.seq = -1;
      },
      (b) => {
        b.seq = 1.5;
      },
      (b) => {
        b.record = new Uint8Array(0);
      },
      (b) => {
        b.record = filled(513);
      },
      (b) => {
        delete b.record;
      },
    ];
    for (const change of cases) {
      expect(outcome(() => validateDhtRecord(key, tamper(bytes, change), accept))).toBe('DecodeError');
    }
    expect(outcome(() => validateDhtRecord(key, pack(['dht-record', 2, 0, []]), accept))).toBe(
      'UnsupportedVersionError',
    );
    expect(outcome(() => validateDhtRecord(key, pack(['revocation', 1, 0, []]), accept))).toBe('DecodeError');
  });

  it('encode rejects bad inputs', () => {
    const s = newSigner();
    const base = { namespace: 'revocation' as const, id: filled(16), seq: 1, record: filled(10) };
    expect(outcome(() => encodeDhtValue({ ...base, id: filled(17) }, s))).toBe('InvalidArgumentError');
    expect(outcome(() => encodeDhtValue({ ...base, seq: -1 }, s))).toBe('InvalidArgumentError');
    expect(outcome(() => encodeDhtValue({ ...base, seq: 2 ** 53 }, s))).toBe('InvalidArgumentError');
    expect(outcome(() => encodeDhtValue({ ...base, namespace: 'x' as DhtNamespace }, s))).toBe(
      'InvalidArgumentError',
    );
    expect(outcome(() => encodeDhtValue(base, {} as Signer))).toBe('InvalidArgumentError');
  });

  it('propagates what the inner verifier throws, after the outer checks', async () => {
    const s = newSigner();
    const { key, bytes } = value(s, 'handoff');
    const boom = new Error('inner says no');
    expect(() =>
      validateDhtRecord(key, bytes, () => {
        throw boom;
      }),
    ).toThrow(boom);
    const inner = vi.fn<DhtInnerVerifier>();
    expect(
      outcome(() => validateDhtRecord(makeDhtKey('handoff', pkOf(newSigner()), filled(64)), bytes, inner)),
    ).toBe('DecodeError');
    expect(inner).not.toHaveBeenCalled();
    const validator = dhtValidator(() => {
      throw boom;
    });
    await expect(validator(key, bytes)).rejects.toBe(boom);
    await expect(dhtValidator(accept)(key, bytes)).resolves.toBeUndefined();
  });
});

describe('selectNewest', () => {
  const s = newSigner();
  const at = (seq: number, seed = 1) => value(s, 'node', { seq, record: filled(50, seed) }).bytes;

  it('picks the highest seq, the first of equals', () => {
    expect(selectNewest([at(1), at(3), at(2)])).toBe(1);
    expect(selectNewest([at(5, 1), at(5, 2), at(4)])).toBe(0);
    expect(selectNewest([at(4), at(5, 1), at(5, 2)])).toBe(1);
    expect(selectNewest([at(0)])).toBe(0);
    expect(selectNewest([at(2 ** 53 - 1), at(0)])).toBe(0);
    expect(dhtSelector(new Uint8Array(0), [at(1), at(9)])).toBe(1);
  });

  it('never prefers a value that does not decode', () => {
    expect(selectNewest([filled(40), at(1)])).toBe(1);
    expect(selectNewest([at(0), new Uint8Array(0), pack(['dht-record', 1, 0, 'x'])])).toBe(0);
    expect(selectNewest([filled(40), filled(10)])).toBe(0);
    expect(selectNewest([])).toBe(0);
  });
});
