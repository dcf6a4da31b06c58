/** Small helpers of the client: signals, randomness, failure reasons. */
import { DecodeError, RemoteError, type Rng, type WireErrorCode } from '@thresh/protocol';
import type { NodeFailureReason } from './errors.js';
import { AbortedError, TransportError } from './transport/errors.js';

/** A signal that fires when any of `signals` does (undefined ones are skipped). */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 1) return present[0];
  return AbortSignal.any(present);
}

/** A uniform integer in [0, max) from `rng` (rejection sampling on u32). */
export function randomInt(rng: Rng, max: number): number {
  if (max <= 1) return 0;
  const limit = Math.floor(0x1_0000_0000 / max) * max;
  for (;;) {
    const b = rng(4);
    const x = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    if (x < limit) return x % max;
  }
}

/** Fisher-Yates with `rng`: a uniformly random order, whatever order `items` came in. */
export function shuffle<T>(items: readonly T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const WIRE_REASONS: Partial<Record<WireErrorCode, NodeFailureReason>> = {
  REVOKED: 'revoked',
  EXPIRED: 'expired',
  NOT_FOUND: 'not-found',
  TIMEOUT: 'timeout',
};

/** The reason of a per-item or whole-reply wire error code. */
export function reasonOfWireCode(code: WireErrorCode): NodeFailureReason {
  return WIRE_REASONS[code] ?? code.toLowerCase().replace(/^err_/, '').replace(/_/g, '-');
}

/** Why a request to one node failed, as a reason the caller can switch on. */
export function reasonOf(e: unknown): { reason: NodeFailureReason; message: string } {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof RemoteError) return { reason: reasonOfWireCode(e.remoteCode), message };
  if (e instanceof TransportError) {
    switch (e.code) {
      case 'ERR_TIMEOUT':
        return { reason: 'timeout', message };
      case 'ERR_UNREACHABLE':
      case 'ERR_UNSUPPORTED_PROTOCOL':
        return { reason: 'unreachable', message };
      case 'ERR_ABORTED':
        return { reason: 'aborted', message };
      default:
        return { reason: 'stream', message };
    }
  }
  if (e instanceof Error && e.name === 'TimeoutError') return { reason: 'timeout', message };
  if (e instanceof Error && e.name === 'AbortError') return { reason: 'aborted', message };
  if (e instanceof DecodeError) return { reason: 'malformed', message };
  const code = (e as { code?: unknown })?.code;
  return { reason: typeof code === 'string' ? code : 'error', message };
}

/**
 * reasonOf for a request made under our own deadline: when that deadline fired (and not the
 * caller's signal), the node is named a timeout, whatever the transport called the abort.
 */
export function deadlineReason(
  e: unknown,
  deadline: AbortSignal,
  caller: AbortSignal | undefined,
  ms: number,
): { reason: NodeFailureReason; message: string } {
  if (deadline.aborted && !caller?.aborted) return { reason: 'timeout', message: `no reply within ${ms} ms` };
  return reasonOf(e);
}

/** AbortedError (ERR_ABORTED) when the caller's signal fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(`${what} aborted by the caller`, { cause: signal.reason });
}
