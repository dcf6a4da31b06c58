/**
 * Generates known-answer vectors for our Umbral core from the reference implementation
 * `@nucypher/umbral-pre` 0.10.0 (a devDependency; GPL-3.0, used only here and in tests).
 *
 *   npm run vectors     (= tsc -b && node scripts/dist/gen-vectors.js)
 *
 * writes packages/protocol/test/vectors/umbral-pre-0.10.0.json. The output is a pure function
 * of this script: running it twice gives identical files.
 *
 * How it works: the WASM build draws every random byte through
 * `globalThis.crypto.getRandomValues` (getrandom's Web Crypto path; Node's `crypto` module is
 * never consulted because `globalThis.crypto` exists). It looks the method up on the cached
 * `crypto` object at every call, so we replace the method on that object with one that fills
 * from a deterministic stream and records every byte handed out. Each operation's recorded
 * bytes are stored with its outputs; our implementation is fed the same bytes through its
 * `{ rng }` option and must produce identical outputs, consuming every byte and no more.
 *
 * Deterministic stream: block i = SHA-256(seed || u32be(i)), concatenated; a stream is
 * consumed sequentially. Each vector group has its own seed (an ASCII label), so adding a
 * case does not change the others.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as umbral from '@nucypher/umbral-pre';

const UMBRAL_PRE_VERSION = '0.10.0';
const OUTPUT = fileURLToPath(
  new URL(`../../packages/protocol/test/vectors/umbral-pre-${UMBRAL_PRE_VERSION}.json`, import.meta.url),
);

// secp256k1 group order n.
const CURVE_ORDER_HEX = 'fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141';

// ---------------------------------------------------------------------------------------------
// Bytes

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const sha256 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};
const u32be = (i: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, i, false);
  return b;
};
const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
};
const equalBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** SHA-256(seed || u32be(0)) || SHA-256(seed || u32be(1)) || ..., read sequentially. */
class CounterStream {
  private counter = 0;
  private buffer: Uint8Array = new Uint8Array(0);
  constructor(readonly seed: Uint8Array) {}
  next(n: number): Uint8Array {
    while (this.buffer.length < n) {
      this.buffer = concat([this.buffer, sha256(this.seed, u32be(this.counter++))]);
    }
    const out = this.buffer.slice(0, n);
    this.buffer = this.buffer.slice(n);
    return out;
  }
}

/** The first `length` bytes of the counter stream for `seed` (the recipe for large plaintexts). */
function counterStreamBytes(seed: Uint8Array, length: number): Uint8Array {
  return new CounterStream(seed).next(length);
}

// ---------------------------------------------------------------------------------------------
// Hooking the WASM's randomness

/**
 * The source of the bytes of the current operation: the group's stream, except that a draw
 * (counted per operation, one count per getRandomValues call) listed in `overrides` gets the
 * given bytes instead, without advancing the stream. Overrides inject invalid scalars to
 * record the rejection sampling.
 */
interface ActiveDraw {
  stream: CounterStream;
  overrides: Map<number, Uint8Array>;
  calls: number;
  chunks: Uint8Array[];
  callSizes: number[];
}

let active: ActiveDraw | null = null;
const observedCallSizes = new Map<number, number>();

function installHook(): void {
  const webCrypto = globalThis.crypto;
  if (typeof webCrypto?.getRandomValues !== 'function') {
    throw new Error('globalThis.crypto.getRandomValues is missing: Node 20+ is required');
  }
  const hooked = <T extends ArrayBufferView | null>(array: T): T => {
    if (!(array instanceof Uint8Array)) {
      throw new Error('getRandomValues hook: expected a Uint8Array');
    }
    if (active === null) {
      throw new Error('getRandomValues hook: a random draw happened outside a recorded operation');
    }
    const index = active.calls++;
    const override = active.overrides.get(index);
    let bytes: Uint8Array;
    if (override !== undefined) {
      if (override.length !== array.length) {
        throw new Error(`override for draw ${index} has ${override.length} bytes, wanted ${array.length}`);
      }
      bytes = override;
    } else {
      bytes = active.stream.next(array.length);
    }
    array.set(bytes);
    active.chunks.push(bytes.slice());
    active.callSizes.push(array.length);
    observedCallSizes.set(array.length, (observedCallSizes.get(array.length) ?? 0) + 1);
    return array;
  };
  webCrypto.getRandomValues = hooked;
  // If the WASM ever took Node's crypto module instead, we would silently record nothing:
  // make that path fail loudly.
  const req = createRequire(import.meta.url);
  const nodeCrypto = req('node:crypto') as { randomFillSync: unknown };
  nodeCrypto.randomFillSync = () => {
    throw new Error('umbral-pre used node:crypto randomFillSync: hook that instead');
  };
}

/** Runs `fn` with randomness from `stream`; returns its result and the bytes it drew. */
function draw<T>(
  stream: CounterStream,
  fn: () => T,
  overrides: Map<number, Uint8Array> = new Map(),
): [T, Uint8Array, number[]] {
  if (active !== null) throw new Error('nested draw');
  active = { stream, overrides, calls: 0, chunks: [], callSizes: [] };
  try {
    const result = fn();
    for (const i of overrides.keys()) {
      if (i >= active.calls) throw new Error(`override for draw ${i} unused (${active.calls} draws)`);
    }
    return [result, concat(active.chunks), active.callSizes];
  } finally {
    active = null;
  }
}

/** Runs `fn`, which must draw no randomness (the hook throws if it does). */
function noDraw<T>(fn: () => T): T {
  if (active !== null) throw new Error('nested draw');
  return fn();
}

// ---------------------------------------------------------------------------------------------
// umbral-pre objects are not garbage collected: everything allocated goes in a bin.

interface Freeable {
  free(): void;
}
class Bin {
  private items: Freeable[] = [];
  add<T extends Freeable>(o: T): T {
    this.items.push(o);
    return o;
  }
  addAll<T extends Freeable>(os: T[]): T[] {
    for (const o of os) this.add(o);
    return os;
  }
  free(): void {
    for (const o of this.items.splice(0)) {
      // verify() consumes its receiver (its pointer becomes 0); free() would then throw.
      if ((o as unknown as { __wbg_ptr: number }).__wbg_ptr !== 0) o.free();
    }
  }
}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`self-check failed: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Vector groups

const seedOf = (label: string): Uint8Array => utf8(`thresh/umbral-pre-${UMBRAL_PRE_VERSION}/${label}`);

function secretKeyRandomVectors() {
  const n = unhex(CURVE_ORDER_HEX);
  const nMinus1 = n.slice();
  nMinus1[31] = (nMinus1[31] ?? 0) - 1;
  const zero = new Uint8Array(32);
  const ones = new Uint8Array(32).fill(0xff);
  const cases: { name: string; overrides: Uint8Array[] }[] = [
    { name: 'stream', overrides: [] },
    { name: 'reject 0xff..ff', overrides: [ones] },
    { name: 'reject n', overrides: [n] },
    { name: 'reject 0', overrides: [zero] },
    { name: 'reject 0, n, 0xff..ff', overrides: [zero, n, ones] },
    { name: 'accept n-1', overrides: [nMinus1] },
  ];
  return cases.map(({ name, overrides }) => {
    const bin = new Bin();
    try {
      const stream = new CounterStream(seedOf(`SecretKey.random/${name}`));
      const [sk, rng] = draw(
        stream,
        () => bin.add(umbral.SecretKey.random()),
        new Map(overrides.map((b, i) => [i, b])),
      );
      const pk = bin.add(sk.publicKey());
      return {
        name,
        rng: hex(rng),
        secretKey: hex(sk.toBEBytes()),
        publicKey: hex(pk.toCompressedBytes()),
      };
    } finally {
      bin.free();
    }
  });
}

function publicKeyVectors() {
  const n = BigInt(`0x${CURVE_ORDER_HEX}`);
  const scalarBytes = (x: bigint) => unhex(x.toString(16).padStart(64, '0'));
  const stream = new CounterStream(seedOf('PublicKey'));
  const scalars = [1n, 2n, 3n, n - 1n, n - 2n, (n - 1n) / 2n];
  const secrets = [...scalars.map(scalarBytes), ...Array.from({ length: 6 }, () => stream.next(32))];
  return secrets.map((s) => {
    const bin = new Bin();
    try {
      const sk = bin.add(umbral.SecretKey.fromBEBytes(s));
      const pk = bin.add(sk.publicKey());
      const bytes = pk.toCompressedBytes();
      const back = bin.add(umbral.PublicKey.fromCompressedBytes(bytes));
      check(back.equals(pk), 'PublicKey round trip');
      return { secretKey: hex(s), publicKey: hex(bytes) };
    } finally {
      bin.free();
    }
  });
}

function signatureVectors() {
  const messages: { name: string; message: Uint8Array }[] = [
    { name: 'empty', message: new Uint8Array(0) },
    { name: 'abc', message: utf8('abc') },
    { name: '37 bytes', message: counterStreamBytes(seedOf('Signer.sign/message/37'), 37) },
    { name: '1000 bytes', message: counterStreamBytes(seedOf('Signer.sign/message/1000'), 1000) },
  ];
  const out = [];
  for (let keyIndex = 0; keyIndex < 3; keyIndex++) {
    for (const { name, message } of messages) {
      const bin = new Bin();
      try {
        const label = `Signer.sign/key ${keyIndex}/${name}`;
        const stream = new CounterStream(seedOf(label));
        const [sk, skRng] = draw(stream, () => bin.add(umbral.SecretKey.random()));
        check(equalBytes(skRng, sk.toBEBytes()), 'SecretKey.random draws exactly its bytes');
        const signer = bin.add(new umbral.Signer(sk));
        const [sig, rng, sizes] = draw(stream, () => bin.add(signer.sign(message)));
        check(sizes.length === 1 && sizes[0] === 32, 'sign draws one 32-byte hedge');
        const vk = bin.add(signer.verifyingKey());
        const be = sig.toBEBytes();
        const der = sig.toDerBytes();
        check(
          noDraw(() => sig.verify(vk, message)),
          'signature verifies',
        );
        const fromDer = bin.add(umbral.Signature.fromDerBytes(der));
        check(equalBytes(fromDer.toBEBytes(), be), 'DER round trip');
        out.push({
          name: `key ${keyIndex}, message ${name}`,
          secretKey: hex(sk.toBEBytes()),
          verifyingKey: hex(vk.toCompressedBytes()),
          message: hex(message),
          rng: hex(rng),
          signature: hex(be),
          signatureDer: hex(der),
        });
      } finally {
        bin.free();
      }
    }
  }
  return out;
}

function secretKeyFactoryVectors() {
  const labels = [
    new Uint8Array(0),
    utf8('a'),
    utf8('label-1'),
    utf8('/thresh/path/keys/\u043a\u043b\u044e\u0447'),
    counterStreamBytes(seedOf('SecretKeyFactory/label'), 64),
  ];
  const childLabels = [utf8('child'), new Uint8Array([0, 1, 2, 255])];
  const seedSize = umbral.SecretKeyFactory.seedSize();
  const out = [];
  for (let i = 0; i < 3; i++) {
    const bin = new Bin();
    try {
      let factory: umbral.SecretKeyFactory;
      let rng: Uint8Array | null = null;
      let seed: Uint8Array;
      if (i === 0) {
        // SecretKeyFactory.random(): the seed is the drawn bytes.
        [factory, rng] = draw(new CounterStream(seedOf('SecretKeyFactory.random')), () =>
          bin.add(umbral.SecretKeyFactory.random()),
        );
        seed = rng;
      } else {
        seed =
          i === 1 ? new Uint8Array(seedSize) : counterStreamBytes(seedOf('SecretKeyFactory/seed'), seedSize);
        factory = bin.add(umbral.SecretKeyFactory.fromSecureRandomness(seed));
      }
      const entries = labels.map((label) => {
        const key = bin.add(factory.makeKey(label));
        const secret = factory.makeSecret(label);
        const child = bin.add(factory.makeFactory(label));
        return {
          label: hex(label),
          key: hex(key.toBEBytes()),
          secret: hex(secret),
          factory: childLabels.map((cl) => ({
            label: hex(cl),
            key: hex(bin.add(child.makeKey(cl)).toBEBytes()),
            secret: hex(child.makeSecret(cl)),
          })),
        };
      });
      out.push({ ...(rng === null ? {} : { rng: hex(rng) }), seed: hex(seed), labels: entries });
    } finally {
      bin.free();
    }
  }
  return { seedSize, vectors: out };
}

type PlaintextKind = 'empty' | 'small' | '1MiB';

interface PreCase {
  name: string;
  threshold: number;
  shares: number;
  signDelegatingKey: boolean;
  signReceivingKey: boolean;
  plaintext: PlaintextKind;
  /** Draw indices (per operation) that get an invalid scalar instead of stream bytes. */
  rejections?: { encrypt: number[]; generateKFrags: number[]; reencrypt: number[] };
}

function preCases(): PreCase[] {
  const cases: PreCase[] = [];
  const shapes: [number, number][] = [
    [1, 1],
    [2, 3],
    [3, 5],
    [10, 20],
  ];
  const allFlags: [boolean, boolean][] = [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ];
  for (const [threshold, shares] of shapes) {
    const flagSets: [boolean, boolean][] = threshold === 2 ? allFlags : [[false, true]];
    for (const [signDelegatingKey, signReceivingKey] of flagSets) {
      for (const plaintext of ['empty', 'small', '1MiB'] as const) {
        cases.push({
          name: `${threshold}-of-${shares} sdk=${signDelegatingKey} srk=${signReceivingKey} ${plaintext}`,
          threshold,
          shares,
          signDelegatingKey,
          signReceivingKey,
          plaintext,
        });
      }
    }
  }
  // Scalar rejection sampling inside the operations. encrypt draws: r (rejected), r, u
  // (rejected), u, nonce. generateKFrags: x_A (rejected), x_A, coefficient (rejected),
  // coefficient, then ids and hedges. reencrypt: t (rejected), t.
  cases.push({
    name: '3-of-4 sdk=true srk=true small, invalid scalars redrawn',
    threshold: 3,
    shares: 4,
    signDelegatingKey: true,
    signReceivingKey: true,
    plaintext: 'small',
    rejections: { encrypt: [0, 2], generateKFrags: [0, 2, 4], reencrypt: [0] },
  });
  return cases;
}

function invalidScalar(i: number): Uint8Array {
  const kinds = [new Uint8Array(32).fill(0xff), unhex(CURVE_ORDER_HEX), new Uint8Array(32)];
  return kinds[i % kinds.length]!;
}

function overridesFor(indices: number[] | undefined): Map<number, Uint8Array> {
  return new Map((indices ?? []).map((d, i) => [d, invalidScalar(i)]));
}

function preVector(c: PreCase) {
  const bin = new Bin();
  try {
    const stream = new CounterStream(seedOf(`pre/${c.name}`));
    const keyOf = () => {
      const [sk, rng] = draw(stream, () => bin.add(umbral.SecretKey.random()));
      check(equalBytes(rng, sk.toBEBytes()), 'SecretKey.random draws exactly its bytes');
      return sk;
    };
    const delegatingSk = keyOf();
    const receivingSk = keyOf();
    const signingSk = keyOf();
    const delegatingPk = bin.add(delegatingSk.publicKey());
    const receivingPk = bin.add(receivingSk.publicKey());
    const signer = bin.add(new umbral.Signer(signingSk));
    const verifyingPk = bin.add(signer.verifyingKey());

    let plaintext: Uint8Array;
    let plaintextJson: Record<string, unknown>;
    if (c.plaintext === 'empty') {
      plaintext = new Uint8Array(0);
      plaintextJson = { hex: '' };
    } else if (c.plaintext === 'small') {
      plaintext = counterStreamBytes(seedOf(`plaintext/${c.name}`), 37);
      plaintextJson = { hex: hex(plaintext) };
    } else {
      const seed = seedOf('plaintext/1MiB');
      plaintext = counterStreamBytes(seed, 1 << 20);
      plaintextJson = {
        recipe: 'sha256-counter: SHA-256(seed || u32be(0)) || SHA-256(seed || u32be(1)) || ..., truncated',
        seed: hex(seed),
        length: plaintext.length,
        sha256: hex(sha256(plaintext)),
      };
    }
    const large = c.plaintext === '1MiB';

    // encrypt
    const [[capsule, ciphertext], encRng, encSizes] = draw(
      stream,
      () => umbral.encrypt(delegatingPk, plaintext),
      overridesFor(c.rejections?.encrypt),
    );
    bin.add(capsule);
    check(
      encSizes.length === 3 + (c.rejections?.encrypt.length ?? 0) && encSizes.at(-1) === 24,
      'encrypt draws r, u, nonce',
    );
    check(ciphertext.length === plaintext.length + 40, 'ciphertext length');
    check(
      equalBytes(
        noDraw(() => umbral.decryptOriginal(delegatingSk, capsule, ciphertext)),
        plaintext,
      ),
      'decryptOriginal',
    );

    // generateKFrags
    const [kfrags, kfRng, kfSizes] = draw(
      stream,
      () =>
        bin.addAll(
          umbral.generateKFrags(
            delegatingSk,
            receivingPk,
            signer,
            c.threshold,
            c.shares,
            c.signDelegatingKey,
            c.signReceivingKey,
          ),
        ),
      overridesFor(c.rejections?.generateKFrags),
    );
    check(
      kfSizes.length === c.threshold + 3 * c.shares + (c.rejections?.generateKFrags.length ?? 0),
      'generateKFrags draw count',
    );
    const kfragBytes = kfrags.map((k) => k.toBytes());
    for (const b of kfragBytes) {
      check(b.length === 310, 'kfrag length');
      const kf = bin.add(umbral.KeyFrag.fromBytes(b));
      const v = bin.add(
        noDraw(() =>
          kf.verify(
            verifyingPk,
            c.signDelegatingKey ? delegatingPk : null,
            c.signReceivingKey ? receivingPk : null,
          ),
        ),
      );
      check(equalBytes(v.toBytes(), b), 'verified kfrag bytes');
    }

    // reencrypt, with each kfrag
    const reencryptions = kfrags.map((kfrag, i) => {
      const [cfrag, rng] = draw(
        stream,
        () => bin.add(umbral.reencrypt(capsule, kfrag)),
        overridesFor(i === 0 ? c.rejections?.reencrypt : undefined),
      );
      return { cfrag, rng };
    });
    const cfragBytes = reencryptions.map(({ cfrag }) => cfrag.toBytes());
    for (const b of cfragBytes) {
      check(b.length === 381, 'cfrag length');
      const cf = bin.add(umbral.CapsuleFrag.fromBytes(b));
      const v = bin.add(noDraw(() => cf.verify(capsule, verifyingPk, delegatingPk, receivingPk)));
      check(equalBytes(v.toBytes(), b), 'verified cfrag bytes');
    }

    // decryptReencrypted with the first `threshold` cfrags
    const chosen = reencryptions.slice(0, c.threshold).map(({ cfrag }) => cfrag);
    const decrypted = noDraw(() =>
      umbral.decryptReencrypted(receivingSk, delegatingPk, capsule, chosen, ciphertext),
    );
    check(equalBytes(decrypted, plaintext), 'decryptReencrypted');

    return {
      name: c.name,
      threshold: c.threshold,
      shares: c.shares,
      signDelegatingKey: c.signDelegatingKey,
      signReceivingKey: c.signReceivingKey,
      delegatingSecretKey: hex(delegatingSk.toBEBytes()),
      delegatingPublicKey: hex(delegatingPk.toCompressedBytes()),
      receivingSecretKey: hex(receivingSk.toBEBytes()),
      receivingPublicKey: hex(receivingPk.toCompressedBytes()),
      signingSecretKey: hex(signingSk.toBEBytes()),
      verifyingKey: hex(verifyingPk.toCompressedBytes()),
      plaintext: plaintextJson,
      encrypt: {
        rng: hex(encRng),
        capsule: hex(capsule.toBytes()),
        capsuleSimple: hex(capsule.toBytesSimple()),
        ...(large
          ? { ciphertextLength: ciphertext.length, ciphertextSha256: hex(sha256(ciphertext)) }
          : { ciphertext: hex(ciphertext) }),
      },
      generateKFrags: { rng: hex(kfRng), kfrags: kfragBytes.map(hex) },
      reencrypt: reencryptions.map(({ cfrag, rng }, i) => ({
        kfrag: i,
        rng: hex(rng),
        cfrag: hex(cfragBytes[i]!),
        cfragSimple: hex(cfrag.toBytesSimple()),
      })),
    };
  } finally {
    bin.free();
  }
}

// ---------------------------------------------------------------------------------------------

function main(): void {
  const req = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(req.resolve('@nucypher/umbral-pre/package.json'), 'utf8')) as {
    version: string;
  };
  if (pkg.version !== UMBRAL_PRE_VERSION) {
    throw new Error(`@nucypher/umbral-pre is ${pkg.version}, expected ${UMBRAL_PRE_VERSION}`);
  }
  installHook();

  const vectors = {
    description:
      `Known-answer vectors generated by scripts/gen-vectors.ts from @nucypher/umbral-pre ${UMBRAL_PRE_VERSION}. ` +
      'All byte strings are hex. "rng" is the exact byte sequence the operation drew from ' +
      'globalThis.crypto.getRandomValues, in order; feed it to the same operation of ours ' +
      'through { rng } and it must be consumed exactly. Keys of pre cases were made by ' +
      'SecretKey.random() (their bytes are the draws). reencrypt[i] re-encrypts ' +
      'generateKFrags.kfrags[i]; decryptReencrypted uses the first `threshold` cfrags.',
    umbralPreVersion: UMBRAL_PRE_VERSION,
    curveOrder: CURVE_ORDER_HEX,
    secretKeyRandom: secretKeyRandomVectors(),
    publicKeys: publicKeyVectors(),
    signatures: signatureVectors(),
    secretKeyFactory: secretKeyFactoryVectors(),
    pre: preCases().map(preVector),
  };
  check(
    [...observedCallSizes.keys()].every((n) => n === 32 || n === 24),
    'getRandomValues is called with 32- or 24-byte arrays only',
  );

  const json = `${JSON.stringify(vectors, null, 1)}\n`;
  mkdirSync(dirname(OUTPUT), { recursive: true });
  writeFileSync(OUTPUT, json);
  const calls = [...observedCallSizes].map(([n, k]) => `${k} x ${n} B`).join(', ');
  console.log(`wrote ${OUTPUT} (${json.length} bytes); getRandomValues calls: ${calls}`);
}

main();
