/**
 * Properties: whatever bytes a peer sends, the wire decoders either return a checked value or
 * throw a typed error (ThreshError subclass); nothing else escapes, and a value that decodes
 * re-encodes to bytes that decode to the same value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pack } from '../src/codec/msgpack.js';
import { SecretKey, Signer } from '../src/umbral/index.js';
import {
  DHT_NAMESPACE_RULES,
  DHT_NAMESPACES,
  decodeDhtValue,
  encodeDhtValue,
  makeDhtKey,
  selectNewest,
  validateDhtRecord,
} from '../src/wire/index.js';
import { cases, outcome } from './wire-fixture.js';

/** Raise for a longer local run: WIRE_FUZZ_RUNS=5000 npx vitest run ... */
const RUNS = Number(process.env.WIRE_FUZZ_RUNS ?? 200);

/** Byte-level mutations of a valid encoding. */
const mutation = (bytes: Uint8Array) =>
  fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(bytes.length - 1), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(bytes.length - 1), to: fc.nat(255) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat(bytes.length - 1) }),
    fc.record({
      kind: fc.constant('insert' as const),
      at: fc.nat(bytes.length),
      what: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    fc.record({
      kind: fc.constant('delete' as const),
      at: fc.nat(bytes.length - 1),
      n: fc.integer({ min: 1, max: 8 }),
    }),
  );

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; to: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; what: Uint8Array }
  | { kind: 'delete'; at: number; n: number };

function apply(bytes: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = bytes.slice();
  for (const m of ms) {
    const at = Math.min(m.at, Math.max(0, b.length - 1));
    if (m.kind === 'flip' && b.length) b[at] ^= 1 << m.bit;
    else if (m.kind === 'set' && b.length) b[at] = m.to;
    else if (m.kind === 'cut') b = b.slice(0, at);
    else if (m.kind === 'insert') b = new Uint8Array([...b.subarray(0, at), ...m.what, ...b.subarray(at)]);
    else if (m.kind === 'delete') b = new Uint8Array([...b.subarray(0, at), ...b.subarray(at + m.n)]);
  }
  return b;
}

/** MessagePack-able trees: what a hostile peer can put in a body with a valid envelope. */
const { tree } = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 2 ** 32, 2 ** 53, -(2 ** 53), Number.NaN),
    fc.integer(),
    fc.string({ maxLength: 20 }),
    fc.constantFrom('items', 'levels', 'error', 'code', 'NOT_FOUND', 'policy', 'receipt', '__proto__'),
    fc.uint8Array({ maxLength: 400 }),
    fc.array(tie('tree'), { maxLength: 5 }),
    fc.dictionary(
      fc.constantFrom(
        'items',
        'id',
        'levels',
        'pathHash',
        'capsule',
        'policyId',
        'cfrag',
        'level',
        'error',
        'code',
        'message',
        'policy',
        'assignment',
        'sealedKFrag',
        'receipt',
        'revocation',
        'published',
        'nodeRecord',
        'status',
        'certificates',
        'x',
      ),
      tie('tree'),
      { maxKeys: 6 },
    ),
  ),
}));

describe('wire decoders only throw typed errors', () => {
  it.each(cases)('$name: random bytes', ({ type }) => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (b) => {
        outcome(() => type.decode(b));
      }),
      { numRuns: RUNS },
    );
  });

  it.each(cases)('$name: mutations of a valid encoding', ({ type, value }) => {
    const valid = type.encode(value);
    fc.assert(
      fc.property(fc.array(mutation(valid), { minLength: 1, maxLength: 4 }), (ms) => {
        const b = apply(valid, ms as Mutation[]);
        let decoded: unknown;
        if (outcome(() => (decoded = type.decode(b))) === 'ok') {
          // whatever decodes is a valid value: it re-encodes and decodes to itself
          expect(type.decode(type.encode(decoded))).toEqual(decoded);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it.each(cases)('$name: hostile bodies in a valid envelope', ({ type }) => {
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 3 }), (body, minor) => {
        let bytes: Uint8Array;
        try {
          bytes = pack([type.tag, 1, minor, body]);
        } catch {
          return; // not packable: not something a peer can send
        }
        outcome(() => type.decode(bytes));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('DHT validation only throws typed errors', () => {
  const signer = new Signer(SecretKey.random());
  const pk = signer.verifyingKey().toCompressedBytes();
  const valid = DHT_NAMESPACES.map((namespace) => {
    const id = new Uint8Array(DHT_NAMESPACE_RULES[namespace].idBytes).fill(3);
    return {
      key: makeDhtKey(namespace, pk, id),
      bytes: encodeDhtValue({ namespace, id, seq: 9, record: new Uint8Array(64).fill(1) }, signer),
    };
  });
  const accept = () => {};

  it('random keys and values', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), fc.uint8Array({ maxLength: 1024 }), (key, value) => {
        expect(outcome(() => validateDhtRecord(key, value, accept))).not.toBe('ok');
        outcome(() => decodeDhtValue(value));
        expect(selectNewest([value])).toBe(0);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutations of valid values never validate under the original key', () => {
    fc.assert(
      fc.property(
        fc
          .nat(valid.length - 1)
          .chain((i) =>
            fc.tuple(fc.constant(i), fc.array(mutation(valid[i].bytes), { minLength: 1, maxLength: 3 })),
          ),
        ([i, ms]) => {
          const b = apply(valid[i].bytes, ms as Mutation[]);
          const r = outcome(() => validateDhtRecord(valid[i].key, b, accept));
          // only a mutation that leaves the signed bytes intact can pass (e.g. none at all)
          if (r === 'ok') expect(decodeDhtValue(b)).toEqual(decodeDhtValue(valid[i].bytes));
          expect(selectNewest([b, valid[i].bytes])).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });
});
