// The crypto pool's workers load @thresh/protocol from its build (packages/protocol/dist), not
// from src/ as vitest does: `npx tsc -b packages/protocol` must have run (`npm test` runs
// `tsc -b` first).
import {
  availableBackends,
  type BackendName,
  Capsule,
  CapsuleFrag,
  curveBackendName,
  DecodeError,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  InvalidArgumentError,
  type PublicKey,
  SecretKey,
  Signer,
  setCurveBackend,
} from '@thresh/protocol';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CryptoPool,
  CryptoPoolError,
  type CryptoPoolInit,
  type ReencryptItem,
  type ReencryptResult,
} from '../src/crypto/index.js';
import { crashWorkerForTests, failWorkerStartsForTests } from '../src/crypto/pool.js';

const enc = new TextEncoder();

interface Fixture {
  owner: SecretKey;
  reader: SecretKey;
  ownerPk: PublicKey;
  readerPk: PublicKey;
  verifyingPk: PublicKey;
  /** 2-of-3 kfrags, serialized as the node stores them. */
  kfrags: Uint8Array[];
  messages: { capsule: Uint8Array; ciphertext: Uint8Array; plaintext: Uint8Array }[];
}

function makeFixture(count: number): Fixture {
  const owner = SecretKey.random();
  const reader = SecretKey.random();
  const signer = new Signer(SecretKey.random());
  const kfrags = generateKFrags(owner, reader.publicKey(), signer, 2, 3, true, true).map((k) => k.toBytes());
  const messages = Array.from({ length: count }, (_, i) => {
    const plaintext = enc.encode(`message ${i}`);
    const [capsule, ciphertext] = encrypt(owner.publicKey(), plaintext);
    return { capsule: capsule.toBytes(), ciphertext, plaintext };
  });
  return {
    owner,
    reader,
    ownerPk: owner.publicKey(),
    readerPk: reader.publicKey(),
    verifyingPk: signer.verifyingKey(),
    kfrags,
    messages,
  };
}

/** Two items per message (kfrags 0 and 1, interleaved), so a reordering fails verification. */
function pairItems(f: Fixture): ReencryptItem[] {
  return f.messages.flatMap((m) => [
    { capsule: m.capsule, kfrag: f.kfrags[0] },
    { capsule: m.capsule, kfrag: f.kfrags[1] },
  ]);
}

function cfragOf(r: ReencryptResult | undefined): Uint8Array {
  if (r === undefined || !('cfrag' in r)) throw new Error(`expected a cfrag, got ${JSON.stringify(r)}`);
  return r.cfrag;
}

/** Every pair verifies against its own capsule and decrypts to its own message. */
function expectPairsDecrypt(f: Fixture, results: ReencryptResult[], messages = f.messages): void {
  expect(results).toHaveLength(2 * messages.length);
  messages.forEach((m, j) => {
    const capsule = Capsule.fromBytes(m.capsule);
    const verified = [results[2 * j], results[2 * j + 1]].map((r) =>
      CapsuleFrag.fromBytes(cfragOf(r)).verify(capsule, f.verifyingPk, f.ownerPk, f.readerPk),
    );
    expect(decryptReencrypted(f.reader, f.ownerPk, capsule, verified, m.ciphertext)).toEqual(m.plaintext);
  });
}

describe('CryptoPool', () => {
  let fx: Fixture;
  const pools: CryptoPool[] = [];
  const initialBackend: BackendName = curveBackendName();

  beforeAll(() => {
    fx = makeFixture(50);
  });

  afterEach(async () => {
    setCurveBackend(initialBackend);
    await Promise.all(pools.splice(0).map((p) => p.stop()));
  });

  async function started(init: CryptoPoolInit): Promise<CryptoPool> {
    const pool = new CryptoPool(init);
    pools.push(pool);
    await pool.start();
    return pool;
  }

  it('splits a batch of 100 over 2 workers and keeps its order', async () => {
    const pool = await started({ workers: 2 });
    expect(pool.stats()).toMatchObject({ workers: 2, ready: 2, busy: 0, queuedJobs: 0 });
    const pending = pool.reencryptBatch(pairItems(fx));
    expect(pool.stats().busy).toBe(2);
    expectPairsDecrypt(fx, await pending);
  });

  it('runs inline with workers: 0, with the same results', async () => {
    const pool = await started({ workers: 0 });
    expect(pool.stats()).toMatchObject({ workers: 0, backends: [curveBackendName()] });
    expectPairsDecrypt(fx, await pool.reencryptBatch(pairItems(fx)));
  });

  describe('bad items fail alone', () => {
    const good = () => fx.messages[0].capsule;
    // Capsule layout (msgpack): 0x93, then bin8 headers (2 bytes) before E [3, 36), V [38, 71), s [73, 105).
    const offCurve = () => {
      const c = good().slice();
      c.fill(0xff, 4, 36); // x >= p: not a point
      return c;
    };
    const badSelfCheck = () => {
      const c = good().slice();
      c[104] ^= 1; // s changed: s*G != V + h*E
      return c;
    };
    const badKfrag = () => {
      const k = fx.kfrags[0].slice();
      k[4] ^= 0xff; // inside params.U
      return k;
    };

    it('the malformed inputs are what they claim', () => {
      for (const c of [offCurve(), badSelfCheck(), good().subarray(0, 104)]) {
        expect(() => Capsule.fromBytes(c)).toThrow(DecodeError);
      }
    });

    it.each([0, 2])('workers: %i', async (workers) => {
      const pool = await started({ workers });
      const items: ReencryptItem[] = [
        { capsule: good(), kfrag: fx.kfrags[0] },
        { capsule: good().subarray(0, 104), kfrag: fx.kfrags[0] },
        { capsule: offCurve(), kfrag: fx.kfrags[0] },
        { capsule: new Uint8Array(105), kfrag: fx.kfrags[0] },
        { capsule: badSelfCheck(), kfrag: fx.kfrags[0] },
        { capsule: good(), kfrag: badKfrag() },
        { capsule: good(), kfrag: fx.kfrags[0].subarray(1) },
        { capsule: new Uint8Array(4096), kfrag: fx.kfrags[0] },
        { capsule: good(), kfrag: fx.kfrags[1] },
      ];
      const results = await pool.reencryptBatch(items);
      expect(results.map((r) => ('error' in r ? r.error : 'ok'))).toEqual([
        'ok',
        'BAD_CAPSULE',
        'BAD_CAPSULE',
        'BAD_CAPSULE',
        'BAD_CAPSULE',
        'BAD_KFRAG',
        'BAD_KFRAG',
        'BAD_CAPSULE',
        'ok',
      ]);
      expectPairsDecrypt(fx, [results[0], results[8]], fx.messages.slice(0, 1));
    });
  });

  it('serves 10 concurrent batches, each in order', async () => {
    const pool = await started({ workers: 2 });
    const slices = Array.from({ length: 10 }, (_, b) => fx.messages.slice(b * 5, b * 5 + 5));
    const all = await Promise.all(
      slices.map((messages) => pool.reencryptBatch(pairItems({ ...fx, messages }))),
    );
    all.forEach((results, b) => {
      expectPairsDecrypt(fx, results, slices[b]);
    });
    expect(pool.stats()).toMatchObject({ busy: 0, queuedJobs: 0 });
  });

  it('copies the caller buffers: nothing is detached or changed', async () => {
    const pool = await started({ workers: 2 });
    const items = pairItems(fx).slice(0, 4);
    const before = items.map((i) => [i.capsule.slice(), i.kfrag.slice()]);
    const results = await pool.reencryptBatch(items);
    items.forEach((i, n) => {
      expect(i.capsule).toEqual(before[n][0]);
      expect(i.kfrag).toEqual(before[n][1]);
    });
    for (const r of results) expect(cfragOf(r).buffer.byteLength).toBe(381);
  });

  it('reports each batch to onBatch', async () => {
    const onBatch = vi.fn();
    const pool = await started({ workers: 2, onBatch });
    await pool.reencryptBatch(pairItems(fx).slice(0, 6));
    expect(await pool.reencryptBatch([])).toEqual([]);
    expect(onBatch).toHaveBeenCalledTimes(1);
    expect(onBatch).toHaveBeenCalledWith(6, expect.any(Number));
  });

  it('rejects calls before start and after stop, and pending batches on stop', async () => {
    const pool = new CryptoPool({ workers: 2 });
    await expect(pool.reencryptBatch([])).rejects.toMatchObject({
      name: 'CryptoPoolError',
      code: 'ERR_CRYPTO_POOL',
      reason: 'not-started',
    });
    await pool.start();
    const running = pool.reencryptBatch(pairItems(fx));
    const queued = pool.reencryptBatch(pairItems(fx));
    expect(pool.stats()).toMatchObject({ busy: 2, queuedJobs: 2 });
    const outcomes = Promise.allSettled([running, queued]);
    await pool.stop();
    for (const outcome of await outcomes) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(CryptoPoolError);
      expect(reason).toMatchObject({ name: 'CryptoPoolError', code: 'ERR_CRYPTO_POOL', reason: 'stopped' });
    }
    await expect(pool.reencryptBatch([])).rejects.toMatchObject({ reason: 'stopped' });
    expect(pool.stats()).toMatchObject({ ready: 0, busy: 0, queuedJobs: 0 });
  });

  describe('started on first use', () => {
    function lazy(init: CryptoPoolInit = {}): CryptoPool {
      const pool = new CryptoPool({ workers: 2, startOnFirstUse: true, ...init });
      pools.push(pool);
      return pool;
    }

    it('starts its workers on the first batch; concurrent first batches share one start', async () => {
      const pool = lazy();
      expect(pool.stats()).toMatchObject({ workers: 2, ready: 0 });
      expect(await pool.reencryptBatch([])).toEqual([]); // nothing to do: nothing started
      expect(pool.stats().ready).toBe(0);
      const [a, b] = await Promise.all([
        pool.reencryptBatch(pairItems(fx)),
        pool.reencryptBatch(pairItems(fx)),
      ]);
      expectPairsDecrypt(fx, a);
      expectPairsDecrypt(fx, b);
      expect(pool.stats()).toMatchObject({ workers: 2, ready: 2 });
    });

    it('a failed start fails that batch; the next batch starts it', async () => {
      const pool = lazy({ workers: 1, testHooks: true });
      failWorkerStartsForTests(pool, 1);
      const messages = fx.messages.slice(0, 2);
      const items = pairItems({ ...fx, messages });
      await expect(pool.reencryptBatch(items)).rejects.toMatchObject({
        name: 'CryptoPoolError',
        reason: 'worker-start',
      });
      expectPairsDecrypt(fx, await pool.reencryptBatch(items), messages);
    });

    it('once stopped (even never started), it does not start again on a batch', async () => {
      const pool = lazy();
      await pool.stop();
      await expect(pool.reencryptBatch(pairItems(fx))).rejects.toMatchObject({ reason: 'stopped' });
      expect(pool.stats().ready).toBe(0);
    });
  });

  it('can start again after stop', async () => {
    const pool = await started({ workers: 1 });
    await pool.stop();
    await pool.start();
    const messages = fx.messages.slice(0, 2);
    expectPairsDecrypt(fx, await pool.reencryptBatch(pairItems({ ...fx, messages })), messages);
  });

  it('replaces a crashed worker; its running items come back INTERNAL', async () => {
    const log = { error: vi.fn() };
    const pool = await started({ workers: 2, testHooks: true, log });
    // The exit message reaches worker 0 before the job, so the job is lost with the worker.
    crashWorkerForTests(pool, 0);
    const items = pairItems(fx).slice(0, 20);
    const first = pool.reencryptBatch(items);
    const second = pool.reencryptBatch(items); // half of it queued behind the lost job
    const errors = (await first).map((r) => ('error' in r ? r.error : 'ok'));
    expect(errors.slice(0, 10)).toEqual(Array(10).fill('INTERNAL'));
    expect(errors.slice(10)).toEqual(Array(10).fill('ok'));
    // the queued half moved to the surviving worker instead of waiting for the replacement
    expectPairsDecrypt(fx, await second, fx.messages.slice(0, 10));
    expect(log.error).toHaveBeenCalledWith(
      expect.objectContaining({ worker: 0, err: expect.any(CryptoPoolError) }),
      expect.any(String),
    );

    await vi.waitFor(() => expect(pool.stats().ready).toBe(2), { timeout: 10_000 });
    const again = pool.reencryptBatch(items);
    expect(pool.stats().busy).toBe(2);
    expectPairsDecrypt(fx, await again, fx.messages.slice(0, 10));
  });

  it('offers the crash hook only to pools created for tests', async () => {
    const pool = await started({ workers: 1 });
    expect(() => crashWorkerForTests(pool, 0)).toThrow(InvalidArgumentError);
  });

  describe('abort', () => {
    it('rejects with the reason of a signal aborted before the call', async () => {
      const pool = await started({ workers: 1 });
      const reason = new Error('caller gone');
      await expect(pool.reencryptBatch(pairItems(fx), AbortSignal.abort(reason))).rejects.toBe(reason);
    });

    it.each([0, 1])('skips slices not yet started (workers: %i)', async (workers) => {
      const onBatch = vi.fn();
      const pool = await started({ workers, onBatch });
      const first = pool.reencryptBatch(pairItems(fx).slice(0, 20));
      const ctl = new AbortController();
      const second = pool.reencryptBatch(pairItems(fx), ctl.signal);
      if (workers > 0) expect(pool.stats().queuedJobs).toBe(1);
      const reason = new Error('deadline');
      ctl.abort(reason);
      await expect(second).rejects.toBe(reason);
      expect(pool.stats().queuedJobs).toBe(0);
      expectPairsDecrypt(fx, await first, fx.messages.slice(0, 10));
      expect(onBatch).toHaveBeenCalledTimes(1);
    });
  });

  it('guards its inputs', async () => {
    const pool = await started({ workers: 0 });
    const bad = [
      'not an array',
      [null],
      [{ capsule: 'hex', kfrag: fx.kfrags[0] }],
      [{ capsule: fx.messages[0].capsule, kfrag: Buffer.from('x').toString() }],
    ];
    for (const items of bad) {
      await expect(pool.reencryptBatch(items as unknown as ReencryptItem[])).rejects.toBeInstanceOf(
        InvalidArgumentError,
      );
    }
    expect(() => new CryptoPool({ workers: -1 })).toThrow(InvalidArgumentError);
    expect(() => new CryptoPool({ workers: 1.5 })).toThrow(InvalidArgumentError);
  });

  it.each(availableBackends())('workers compute with the backend the parent forced: %s', async (name) => {
    setCurveBackend(name);
    const pool = await started({ workers: 2 });
    expect(pool.stats().backends).toEqual([name, name]);
    const messages = fx.messages.slice(0, 3);
    expectPairsDecrypt(fx, await pool.reencryptBatch(pairItems({ ...fx, messages })), messages);
  });
});
