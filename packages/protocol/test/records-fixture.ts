/** A 3-of-5 grant with every record, shared by the records-*.test.ts files. */
import { expect } from 'vitest';
import { pack, signingMessage } from '../src/codec/index.js';
import { Identity } from '../src/identity/identity.js';
import { generateKFrags, SecretKey, type Signer, ThreshError } from '../src/index.js';
import { pathHashSecret } from '../src/pathkeys.js';
import {
  kfragPrecursor,
  makeAssignments,
  makeGrant,
  makePolicy,
  makePolicyMap,
  nodeIdOf,
  sealKFrag,
} from '../src/records/index.js';

export const NOW = 1_767_225_600;
export const DAY = 86_400;

export function fixture(opts: { m?: number; n?: number } = {}) {
  const m = opts.m ?? 3;
  const n = opts.n ?? 5;
  const owner = Identity.generate();
  const reader = Identity.generate();
  const stranger = Identity.generate();
  const nodes = Array.from({ length: n }, () => Identity.generate());
  const nodeIds = nodes.map((x) => nodeIdOf(x.card));
  const levelKey = SecretKey.random();
  const kfrags = generateKFrags(levelKey, reader.card.encryptingKey, owner.signer, m, n, false, true);
  const pathHash = pathHashSecret(
    owner.encryptingKey,
    owner.card.encryptingKey,
    reader.card.encryptingKey,
  ).hash('/projects/x', 2);
  const policy = makePolicy(
    owner,
    {
      reader: reader.card,
      pathHash,
      epoch: 2,
      threshold: m,
      shares: n,
      expiry: NOW + 30 * DAY,
      precursor: kfragPrecursor(kfrags[0]),
      nodeIds,
    },
    { now: NOW },
  );
  const assignments = makeAssignments(owner, policy, kfrags);
  const sealed = kfrags.map((k, i) => sealKFrag(k, policy.digest(), nodeIds[i], nodes[i].card.encryptingKey));
  const map = makePolicyMap(
    owner,
    { policy, assignments, levelKey: levelKey.publicKey(), prefix: '/projects/x' },
    { now: NOW },
  );
  const grant = makeGrant(map, reader.card);
  return {
    m,
    n,
    owner,
    reader,
    stranger,
    nodes,
    nodeIds,
    levelKey,
    kfrags,
    pathHash,
    policy,
    assignments,
    sealed,
    map,
    grant,
  };
}

/** A record with any body at all, correctly signed: for the wrong-type matrices. */
export function forge(tag: string, body: unknown, signer: Signer, major = 1, minor = 0): Uint8Array {
  const bodyBytes = pack(body);
  const sig = signer.sign(signingMessage(tag, bodyBytes));
  return pack([tag, major, minor, [bodyBytes, sig.toBEBytes()]]);
}

/** Runs `fn`; returns the ThreshError class name, or 'ok'. Any other throw fails the test. */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ThreshError)) throw new Error(`untyped throw: ${String(e)}`, { cause: e });
    return e.name;
  }
}

/** Expects `fn` to throw a ThreshError of class `cls` (and, if given, matching `re`). */
export function expectThrow(fn: () => unknown, cls: abstract new (...a: never[]) => Error, re?: RegExp) {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a throw').toBeInstanceOf(cls);
  if (re) expect((err as Error).message).toMatch(re);
  return err as Error;
}

/** Wrong-typed stand-ins for a field. */
export const WRONG_VALUES: readonly unknown[] = [
  null,
  'text',
  -1,
  1.5,
  2 ** 60,
  true,
  [],
  {},
  new Uint8Array(0),
  new Uint8Array(1),
  new Uint8Array(34),
];

export function truncations(bytes: Uint8Array): Uint8Array[] {
  const cuts = [0, 1, 2, 5, 10, bytes.length >> 1, bytes.length - 65, bytes.length - 1];
  return [...new Set(cuts.filter((c) => c >= 0 && c < bytes.length))].map((c) => bytes.slice(0, c));
}

/** Byte equality that ignores extra properties (msgpackr caches a `dataView` on arrays it reads). */
export function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
