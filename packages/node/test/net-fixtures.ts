/**
 * Stand-ins shared by the serve and session tests (real libp2p hosts, handlers that are not
 * the node's): the error frame "E:<code>:<message>" in place of the protocol package's error
 * envelope, a gate that holds handlers until a test opens it, and a wait for an abort.
 */
import type { ServeErrorCode } from '../src/net/serve.js';

export const encoder = new TextEncoder();
export const decoder = new TextDecoder();

export const onError = (code: ServeErrorCode, message: string): Uint8Array =>
  encoder.encode(`E:${code}:${message}`);

/** The code of an "E:<code>:..." frame, or undefined for any other frame. */
export const errorCode = (frame: Uint8Array): string | undefined =>
  /^E:([A-Z_]+):/.exec(decoder.decode(frame.subarray(0, 64)))?.[1];

/** Rejects with the signal's reason once it fires. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
}

/** Open until `close()`; then `passed` waits until `open()`. */
export class Gate {
  passed: Promise<void> = Promise.resolve();
  #open: () => void = () => {};

  close(): void {
    this.passed = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  open(): void {
    this.#open();
  }
}
