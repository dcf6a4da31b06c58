/**
 * A Transport wrapper for bench:cluster that times every network operation the client makes
 * (DHT lookups by namespace and outcome, calls by protocol), so the benchmark can say what a
 * grant or a decrypt spends its time on.
 */
import type { ClosestNodesOptions, PeerInfo, Transport } from '@thresh/client';
import type { RequestProtocolName } from '@thresh/protocol';
import { fmtMs, table } from './harness.js';

export class Trace {
  readonly ops = new Map<string, number[]>();
  /** The first error message seen for each failing operation (other than the reader's own aborts). */
  readonly firstErrors = new Map<string, string>();

  add(op: string, ms: number): void {
    const xs = this.ops.get(op);
    if (xs) xs.push(ms);
    else this.ops.set(op, [ms]);
  }

  clear(): void {
    this.ops.clear();
    this.firstErrors.clear();
  }

  /** One row per operation: count, per-operation count, p50, p99, share of `wallMs`. */
  table(perOps: number, wallMs: number): string {
    const rows = [...this.ops]
      .sort((a, b) => sum(b[1]) - sum(a[1]))
      .map(([op, xs]) => {
        const s = [...xs].sort((a, b) => a - b);
        const at = (p: number) => s[Math.min(s.length - 1, Math.floor(s.length * p))];
        return [
          op,
          String(xs.length),
          (xs.length / perOps).toFixed(1),
          fmtMs(at(0.5)),
          fmtMs(at(0.99)),
          `${((sum(xs) / wallMs) * 100).toFixed(0)}%`,
        ];
      });
    const errors = [...this.firstErrors].map(([op, message]) => `first ${op}: ${message}`);
    return [
      table(['network operation', 'count', 'per op', 'p50 ms', 'p99 ms', 'time / wall'], rows),
      ...errors,
    ].join('\n');
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

function namespaceOf(key: Uint8Array): string {
  const text = new TextDecoder().decode(key.subarray(0, 40));
  return text.split('/')[1] ?? '?';
}

/**
 * `inner` with each call timed into the trace `current()` returns at the time (none: not timed);
 * failures are counted under their own name.
 */
export function traced(inner: Transport, current: () => Trace | undefined): Transport {
  const time = async <T>(op: string, run: () => Promise<T>, outcome?: (r: T) => string): Promise<T> => {
    const trace = current();
    const t0 = performance.now();
    try {
      const r = await run();
      trace?.add(outcome ? `${op} ${outcome(r)}` : op, performance.now() - t0);
      return r;
    } catch (e) {
      const name = `${op} failed (${e instanceof Error ? e.name : 'error'})`;
      trace?.add(name, performance.now() - t0);
      if (trace && e instanceof Error && e.name !== 'AbortedError' && !trace.firstErrors.has(name)) {
        trace.firstErrors.set(name, e.message.slice(0, 300));
      }
      throw e;
    }
  };
  return {
    closestNodes: (key: Uint8Array, count: number, signal?: AbortSignal, options?: ClosestNodesOptions) =>
      time(
        options?.localEnough === undefined
          ? 'DHT closestNodes'
          : 'closestNodes (routing table if it knows enough)',
        () => inner.closestNodes(key, count, signal, options),
      ),
    call: (peer: PeerInfo, protocol: RequestProtocolName, bytes: Uint8Array, signal?: AbortSignal) =>
      time(`call ${protocol}`, () => inner.call(peer, protocol, bytes, signal)),
    putRecord: (key: Uint8Array, value: Uint8Array, signal?: AbortSignal) =>
      time(`DHT put ${namespaceOf(key)}`, () => inner.putRecord(key, value, signal)),
    getRecord: (key: Uint8Array, signal?: AbortSignal) =>
      time(
        `DHT get ${namespaceOf(key)}`,
        () => inner.getRecord(key, signal),
        (r) => (r === undefined ? 'miss' : 'hit'),
      ),
    ...(inner.knownPeer === undefined
      ? {}
      : {
          knownPeer: (nodeId: Uint8Array) =>
            time(
              'peer store lookup',
              () => inner.knownPeer!(nodeId),
              (r) => (r === undefined ? 'miss' : 'hit'),
            ),
        }),
    close: () => inner.close?.() ?? Promise.resolve(),
  };
}
