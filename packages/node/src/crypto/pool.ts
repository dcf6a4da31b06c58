import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type BackendName, curveBackendName, InvalidArgumentError } from '@thresh/protocol';
import {
  CAPSULE_BYTES,
  type ItemResult,
  KFRAG_BYTES,
  packItems,
  reencryptPacked,
  unpackResults,
} from '../../worker/reencrypt-core.mjs';
import { checkItems, type ReencryptItem, type ReencryptResult, toResult } from './batch.js';
import { CryptoPoolError } from './errors.js';
import { type CryptoPoolInit, type CryptoPoolLog, type CryptoPoolStats, MAX_WORKERS } from './options.js';

/** Delay before respawning a worker whose replacement failed to start, doubling up to the max. */
const RESPAWN_BACKOFF_MS = 100;
const RESPAWN_BACKOFF_MAX_MS = 5000;

interface Batch {
  readonly size: number;
  readonly started: number;
  readonly results: ReencryptResult[];
  /** Jobs still to complete. */
  pending: number;
  done: boolean;
  readonly resolve: (results: ReencryptResult[]) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort?: () => void;
}

/** A contiguous slice of one batch, run by one worker. */
interface Job {
  readonly id: number;
  readonly batch: Batch;
  /** Index in the batch of each item of the job, in order. */
  readonly positions: number[];
  /** Packed items (copies of the caller's bytes); null once transferred to the worker or wiped. */
  buffer: ArrayBuffer | null;
}

interface Lane {
  readonly index: number;
  /** null: inline (workers = 0), or between a worker's exit and its replacement. */
  worker: Worker | null;
  ready: boolean;
  backend: BackendName | undefined;
  readonly queue: Job[];
  current: Job | null;
  /** Items queued plus in flight: where new slices go. */
  load: number;
  startFailures: number;
  respawnTimer: ReturnType<typeof setTimeout> | undefined;
}

type FromWorker =
  | { type: 'ready'; backend: BackendName }
  | { type: 'done'; id: number; buffer: ArrayBuffer }
  | { type: 'failed'; id: number; message: string };

const silent: CryptoPoolLog = { error() {} };

let postTestExit: (pool: CryptoPool, index: number) => void;
let failStarts: (pool: CryptoPool, count: number) => void;

/**
 * Runs Umbral re-encryption off the event loop, on worker threads sized to the cores, so one
 * big batch does not stall the node. A batch is split into contiguous, about equal slices, one
 * per worker, which run in parallel and are reassembled in order. Each worker has its own FIFO
 * queue, so concurrent callers share the pool in arrival order. Each item is copied when the
 * batch is submitted (the caller's buffers are never transferred or detached, and may be
 * reused at once); each returned cfrag owns its own buffer.
 *
 * A worker that crashes is replaced; the items it was running come back as INTERNAL and the
 * pool keeps serving. `stop()` rejects every pending batch with a CryptoPoolError.
 *
 * @example
 * ```ts
 * const pool = new CryptoPool({ workers: 2 });
 * await pool.start();
 * const [r] = await pool.reencryptBatch([{ capsule, kfrag }], AbortSignal.timeout(5000));
 * if ('cfrag' in r) reply(r.cfrag);
 * await pool.stop();
 * ```
 */
export class CryptoPool {
  readonly #workers: number;
  readonly #onBatch: ((size: number, ms: number) => void) | undefined;
  readonly #log: CryptoPoolLog;
  readonly #testHooks: boolean;
  readonly #startOnFirstUse: boolean;
  #state: 'idle' | 'starting' | 'started' | 'stopped' = 'idle';
  #starting: Promise<void> | undefined;
  #lanes: Lane[] = [];
  #nextJobId = 0;
  /** Tests only: worker spawns still to fail (given a curve backend that does not exist). */
  #startsToFail = 0;

  static {
    postTestExit = (pool, index) => pool.#postTestExit(index);
    failStarts = (pool, count) => pool.#failStarts(count);
  }

  constructor(init: CryptoPoolInit = {}) {
    const workers = init.workers ?? availableParallelism();
    if (!Number.isSafeInteger(workers) || workers < 0 || workers > MAX_WORKERS) {
      throw new InvalidArgumentError('workers', `must be an integer in [0, ${MAX_WORKERS}]`);
    }
    if (init.onBatch !== undefined && typeof init.onBatch !== 'function') {
      throw new InvalidArgumentError('onBatch', 'must be a function');
    }
    this.#workers = workers;
    this.#onBatch = init.onBatch;
    this.#log = init.log ?? silent;
    this.#testHooks = init.testHooks === true;
    this.#startOnFirstUse = init.startOnFirstUse === true;
  }

  /** Spawns the workers and waits until each has loaded; rejects (CryptoPoolError) if one cannot. */
  async start(): Promise<void> {
    if (this.#state === 'started') return;
    if (this.#state === 'starting' && this.#starting) return this.#starting;
    this.#state = 'starting';
    this.#lanes = Array.from({ length: Math.max(1, this.#workers) }, (_, index) => newLane(index));
    this.#starting = this.#startLanes();
    try {
      await this.#starting;
    } finally {
      this.#starting = undefined;
    }
  }

  async #startLanes(): Promise<void> {
    if (this.#workers === 0) {
      this.#lanes[0].ready = true;
      this.#state = 'started';
      return;
    }
    try {
      await Promise.all(this.#lanes.map((lane) => this.#spawn(lane)));
    } catch (cause) {
      // stop() while starting terminates the workers, which fails their start too
      const stoppedMeanwhile = this.#state === 'stopped';
      const error = stoppedMeanwhile
        ? new CryptoPoolError('stopped', 'the pool was stopped while starting')
        : new CryptoPoolError('worker-start', 'a crypto worker failed to start', { cause });
      await this.#teardown(error);
      // started on demand: the next batch tries again
      if (!stoppedMeanwhile && this.#startOnFirstUse) this.#state = 'idle';
      throw error;
    }
    if (this.#state !== 'starting') {
      throw new CryptoPoolError('stopped', 'the pool was stopped while starting');
    }
    this.#state = 'started';
  }

  /** Terminates the workers; every pending batch rejects with a CryptoPoolError ('stopped'). */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return;
    if (this.#state === 'idle') {
      this.#state = 'stopped'; // a pool started on first use must not start after this
      return;
    }
    await this.#teardown(new CryptoPoolError('stopped', 'the pool was stopped'));
  }

  async #teardown(error: CryptoPoolError): Promise<void> {
    this.#state = 'stopped';
    const exiting: Promise<number>[] = [];
    for (const lane of this.#lanes) {
      clearTimeout(lane.respawnTimer);
      lane.respawnTimer = undefined;
      for (const job of lane.current ? [lane.current, ...lane.queue] : lane.queue) {
        wipe(job);
        this.#fail(job.batch, error);
      }
      lane.queue.length = 0;
      lane.current = null;
      lane.load = 0;
      lane.ready = false;
      const worker = lane.worker;
      lane.worker = null;
      if (worker) exiting.push(worker.terminate());
    }
    await Promise.all(exiting);
  }

  /**
   * Re-encrypts every capsule with its kfrag; results come in the order of `items`. A capsule
   * or kfrag that does not parse fails that item only. Rejects with `signal.reason` if the
   * signal aborts first (slices not yet started are skipped), with a CryptoPoolError if the
   * pool is not running, and with an InvalidArgumentError if `items` is not an array of
   * `{ capsule: Uint8Array, kfrag: Uint8Array }`.
   */
  async reencryptBatch(items: readonly ReencryptItem[], signal?: AbortSignal): Promise<ReencryptResult[]> {
    checkItems(items);
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError('signal', 'expected an AbortSignal');
    }
    if (this.#startOnFirstUse && (this.#state === 'idle' || this.#state === 'starting')) {
      if (items.length === 0) return [];
      signal?.throwIfAborted();
      await this.start();
    }
    if (this.#state !== 'started') {
      throw this.#state === 'stopped'
        ? new CryptoPoolError('stopped', 'the pool is stopped')
        : new CryptoPoolError('not-started', 'call start() first');
    }
    signal?.throwIfAborted();

    const results = new Array<ReencryptResult>(items.length);
    const valid: number[] = [];
    for (let i = 0; i < items.length; i++) {
      // Wrong sizes fail here: nothing to copy or send (Capsule.fromBytes would reject them too).
      if (items[i].capsule.length !== CAPSULE_BYTES) results[i] = { error: 'BAD_CAPSULE' };
      else if (items[i].kfrag.length !== KFRAG_BYTES) results[i] = { error: 'BAD_KFRAG' };
      else valid.push(i);
    }
    const { promise, resolve, reject } = withResolvers<ReencryptResult[]>();
    const batch: Batch = {
      size: items.length,
      started: performance.now(),
      results,
      pending: 0,
      done: false,
      resolve,
      reject,
      signal,
    };
    if (valid.length === 0) {
      this.#settle(batch);
      return promise;
    }

    const lanes = this.#pickLanes(valid.length);
    batch.pending = lanes.length;
    for (let j = 0; j < lanes.length; j++) {
      const positions = valid.slice(
        Math.floor((j * valid.length) / lanes.length),
        Math.floor(((j + 1) * valid.length) / lanes.length),
      );
      const buffer = packItems(
        positions.map((p) => items[p].capsule),
        positions.map((p) => items[p].kfrag),
      );
      lanes[j].queue.push({ id: this.#nextJobId++, batch, positions, buffer });
      lanes[j].load += positions.length;
    }
    if (signal) {
      batch.onAbort = () => this.#abort(batch);
      signal.addEventListener('abort', batch.onAbort, { once: true });
    }
    for (const lane of lanes) this.#pump(lane);
    return promise;
  }

  /** A snapshot for metrics and node info. */
  stats(): CryptoPoolStats {
    const live = this.#lanes.filter((l) => l.ready);
    return {
      workers: this.#workers,
      ready: this.#workers === 0 ? 0 : live.length,
      busy: this.#lanes.filter((l) => l.current !== null).length,
      queuedJobs: this.#lanes.reduce((n, l) => n + l.queue.length, 0),
      backends: live.map((l) => l.backend ?? curveBackendName()),
    };
  }

  /** The `k` least loaded lanes (ready ones first: a replacement still loading gets no new work). */
  #pickLanes(items: number): Lane[] {
    const ready = this.#lanes.filter((l) => l.ready);
    const candidates = ready.length > 0 ? ready : this.#lanes;
    return candidates
      .slice()
      .sort((a, b) => a.load - b.load || a.index - b.index)
      .slice(0, Math.min(items, candidates.length));
  }

  /** Starts the lane's next job if it is idle: one job in flight per worker, the rest queued here. */
  #pump(lane: Lane): void {
    while (lane.current === null && lane.ready && lane.queue.length > 0) {
      const job = lane.queue.shift()!;
      if (job.batch.done || job.buffer === null) {
        lane.load -= job.positions.length;
        wipe(job);
        continue;
      }
      lane.current = job;
      if (lane.worker) {
        lane.worker.ref();
        const buffer = job.buffer;
        job.buffer = null;
        // transfer: the buffer is the pool's own copy, not the caller's
        lane.worker.postMessage({ type: 'job', id: job.id, buffer }, [buffer]);
      } else {
        setImmediate(() => this.#runInline(lane, job));
      }
    }
    if (lane.current === null) lane.worker?.unref();
  }

  #runInline(lane: Lane, job: Job): void {
    if (lane.current !== job) return; // stopped meanwhile
    if (job.batch.done || job.buffer === null) {
      wipe(job);
      this.#complete(lane, job, null);
      return;
    }
    let results: ItemResult[] | null = null;
    try {
      results = unpackResults(reencryptPacked(job.buffer), job.positions.length);
    } catch (e) {
      this.#log.error({ err: e }, 'crypto pool: inline job failed');
    } finally {
      wipe(job);
    }
    this.#complete(lane, job, results);
  }

  /** Fills the batch's results for `job` (null: every item INTERNAL), then starts the lane's next job. */
  #complete(lane: Lane, job: Job, results: ItemResult[] | null): void {
    lane.current = null;
    lane.load -= job.positions.length;
    const batch = job.batch;
    if (!batch.done) {
      for (let i = 0; i < job.positions.length; i++) {
        batch.results[job.positions[i]] = toResult(results?.[i]);
      }
      if (--batch.pending === 0) this.#settle(batch);
    }
    this.#pump(lane);
  }

  #settle(batch: Batch): void {
    batch.done = true;
    if (batch.onAbort) batch.signal?.removeEventListener('abort', batch.onAbort);
    if (batch.size > 0 && this.#onBatch) {
      try {
        this.#onBatch(batch.size, performance.now() - batch.started);
      } catch (e) {
        this.#log.error({ err: e }, 'crypto pool: onBatch hook threw');
      }
    }
    batch.resolve(batch.results);
  }

  #fail(batch: Batch, reason: unknown): void {
    if (batch.done) return;
    batch.done = true;
    if (batch.onAbort) batch.signal?.removeEventListener('abort', batch.onAbort);
    batch.reject(reason);
  }

  /** Rejects at once; slices not started leave their queues now, slices running are dropped when done. */
  #abort(batch: Batch): void {
    if (batch.done) return;
    this.#fail(batch, batch.signal?.reason);
    for (const lane of this.#lanes) {
      for (let i = lane.queue.length - 1; i >= 0; i--) {
        const job = lane.queue[i];
        if (job.batch !== batch) continue;
        lane.queue.splice(i, 1);
        lane.load -= job.positions.length;
        wipe(job);
      }
    }
  }

  #spawn(lane: Lane): Promise<void> {
    const failForTests = this.#startsToFail > 0;
    if (failForTests) this.#startsToFail--;
    const worker = new Worker(workerUrl(), {
      workerData: {
        backend: failForTests ? 'no-such-backend' : curveBackendName(),
        testHooks: this.#testHooks,
      },
      execArgv: workerExecArgv(process.execArgv),
    });
    lane.worker = worker;
    lane.ready = false;
    lane.backend = undefined;
    const { promise, resolve, reject } = withResolvers<void>();
    let ready = false;
    let lastError: unknown;
    worker.on('message', (msg: FromWorker) => {
      if (lane.worker !== worker) return;
      if (msg.type === 'ready') {
        ready = true;
        lane.ready = true;
        lane.backend = msg.backend;
        lane.startFailures = 0;
        resolve();
        this.#pump(lane);
      } else if (msg.type === 'done' || msg.type === 'failed') {
        this.#onJobMessage(lane, msg);
      }
    });
    worker.on('error', (e) => {
      lastError = e; // 'exit' follows
    });
    worker.on('messageerror', (e) => {
      this.#log.error({ worker: lane.index, err: e }, 'crypto pool: undecodable message from a worker');
      void worker.terminate();
    });
    worker.on('exit', (code) => {
      if (!ready) {
        reject(
          new CryptoPoolError(
            'worker-start',
            `worker ${lane.index} exited with code ${code} before loading`,
            {
              cause: lastError,
            },
          ),
        );
      }
      this.#onExit(lane, worker, code, ready, lastError);
    });
    return promise;
  }

  #onJobMessage(lane: Lane, msg: Extract<FromWorker, { id: number }>): void {
    const job = lane.current;
    if (job === null || job.id !== msg.id) {
      this.#log.error(
        { worker: lane.index, job: msg.id },
        'crypto pool: a worker answered a job it was not running',
      );
      return;
    }
    let results: ItemResult[] | null = null;
    if (msg.type === 'done') {
      try {
        results = unpackResults(msg.buffer, job.positions.length);
      } catch (e) {
        this.#log.error({ worker: lane.index, err: e }, 'crypto pool: malformed result from a worker');
      }
    } else {
      this.#log.error(
        { worker: lane.index, job: msg.id, reason: msg.message },
        'crypto pool: a worker failed a job',
      );
    }
    this.#complete(lane, job, results);
  }

  /** A worker died: its running items come back INTERNAL and a replacement is spawned. */
  #onExit(lane: Lane, worker: Worker, code: number, wasReady: boolean, cause: unknown): void {
    if (lane.worker !== worker) return; // terminated by stop(), or already replaced
    lane.worker = null;
    lane.ready = false;
    if (this.#state === 'stopped' || this.#state === 'idle') return;
    const error = new CryptoPoolError(
      wasReady ? 'worker-crash' : 'worker-start',
      `worker ${lane.index} exited with code ${code}`,
      { cause },
    );
    this.#log.error({ worker: lane.index, code, err: error }, 'crypto pool: a worker exited; replacing it');
    const running = lane.current;
    if (running) this.#complete(lane, running, null);
    // What waited for this worker runs on the others rather than wait for a replacement.
    this.#redistribute(lane);
    let delay = 0;
    if (!wasReady) {
      // No other worker, and the replacement itself failed to load: fail what waits for it
      // rather than hold it through a backoff that may never end (e.g. a broken install).
      for (const job of lane.queue.splice(0)) {
        wipe(job);
        this.#complete(lane, job, null);
      }
      lane.startFailures++;
      delay = Math.min(RESPAWN_BACKOFF_MS * 2 ** (lane.startFailures - 1), RESPAWN_BACKOFF_MAX_MS);
    }
    if (this.#state === 'starting') return; // start() fails and tears down
    lane.respawnTimer = setTimeout(() => {
      lane.respawnTimer = undefined;
      if (this.#state !== 'started') return;
      this.#spawn(lane).catch(() => {
        // logged by #onExit, which schedules the next attempt
      });
    }, delay);
  }

  /** Moves `from`'s queued jobs, in order, to the least loaded ready lanes. */
  #redistribute(from: Lane): void {
    const others = this.#lanes.filter((l) => l !== from && l.ready);
    if (others.length === 0) return;
    for (const job of from.queue.splice(0)) {
      from.load -= job.positions.length;
      const to = others.reduce((best, l) => (l.load < best.load ? l : best));
      to.queue.push(job);
      to.load += job.positions.length;
    }
    for (const lane of others) this.#pump(lane);
  }

  #failStarts(count: number): void {
    if (!this.#testHooks) throw new InvalidArgumentError('testHooks', 'the pool was not created for tests');
    this.#startsToFail = count;
  }

  #postTestExit(index: number): void {
    if (!this.#testHooks) throw new InvalidArgumentError('testHooks', 'the pool was not created for tests');
    const worker = this.#lanes[index]?.worker;
    if (!worker) throw new InvalidArgumentError('index', `no worker ${index}`);
    worker.postMessage({ type: 'test-exit' });
  }
}

/**
 * @internal Tests only: makes worker `index` exit as a crash would. The pool must have been
 * created with `testHooks: true`. Not exported from the package.
 */
export function crashWorkerForTests(pool: CryptoPool, index: number): void {
  postTestExit(pool, index);
}

/**
 * @internal Tests only: the next `count` workers spawned fail to start (their curve backend
 * does not exist). The pool must have been created with `testHooks: true`.
 */
export function failWorkerStartsForTests(pool: CryptoPool, count: number): void {
  failStarts(pool, count);
}

/**
 * The parent's Node flags without the `source` export condition: the workspace packages map
 * `source` to their TypeScript sources (for vitest, which runs the parent under
 * `--conditions source`), and the worker is plain JavaScript that must load the built dist/.
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (arg === '--conditions=source' || arg === '-C=source') continue;
    if ((arg === '--conditions' || arg === '-C') && execArgv[i + 1] === 'source') {
      i++;
      continue;
    }
    out.push(arg);
  }
  return out;
}

function newLane(index: number): Lane {
  return {
    index,
    worker: null,
    ready: false,
    backend: undefined,
    queue: [],
    current: null,
    load: 0,
    startFailures: 0,
    respawnTimer: undefined,
  };
}

/** Zeroes a job's packed items (they hold kfrag key material) and drops them. */
function wipe(job: Job): void {
  if (job.buffer !== null && job.buffer.byteLength > 0) new Uint8Array(job.buffer).fill(0);
  job.buffer = null;
}

function withResolvers<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (reason: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The worker's file: in this package's worker/ (this module runs from src/ under vitest, from
 * dist/ in production); or, when this code runs bundled into the CLI's single file
 * (packages/cli/build-bundle.mjs), the bundled worker next to it, else @thresh/node's
 * "./worker" export.
 */
function workerUrl(): URL {
  const local = new URL('../../worker/reencrypt-worker.mjs', import.meta.url);
  if (existsSync(local)) return local;
  const bundled = new URL('./thresh-worker.mjs', import.meta.url);
  if (existsSync(bundled)) return bundled;
  return new URL(import.meta.resolve('@thresh/node/worker'));
}
