/**
 * One varint-length-prefixed frame in, one out: the framing of thresh's request/response
 * protocols, the same bytes @libp2p/utils' lpStream reads and writes (unsigned LEB128 length,
 * then the payload).
 *
 * Why not lpStream on the server side: its byte buffer aborts the whole stream when one
 * incoming chunk overflows `maxBufferSize` (@libp2p/utils dist/src/stream-utils.js, the
 * 'message' listener in byteStream), and a yamux chunk can be up to the stream window
 * (16 MiB). An over-cap request would then be reset before we could answer TOO_LARGE. This
 * reader looks at the length first and never keeps a byte past the frame.
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface';
import { FrameTooLargeError, FrameTruncatedError } from './errors.js';

/** A safe-integer length never needs more than 8 LEB128 bytes. */
const MAX_PREFIX_BYTES = 8;

/**
 * Reads one frame of at most `maxBytes` payload bytes. Rejects with FrameTooLargeError as
 * soon as the prefix announces more, FrameTruncatedError if the peer closes its end inside the
 * frame, the stream's close error on a reset, and `signal.reason` when the signal fires.
 */
export function readFrame(stream: Stream, maxBytes: number, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    let length = -1;
    let prefixBytes = 0;
    let partialLength = 0;
    let body: Uint8Array | undefined;
    let received = 0;
    let settled = false;

    const finish = (err: unknown, frame?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      stream.removeEventListener('message', onMessage);
      stream.removeEventListener('end', onEnd);
      stream.removeEventListener('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (frame != null) resolve(frame);
      else reject(err);
    };

    const take = (bytes: Uint8Array): void => {
      if (settled) return;
      let offset = 0;
      while (length < 0 && offset < bytes.length) {
        const b = bytes[offset++];
        partialLength += (b & 0x7f) * 2 ** (7 * prefixBytes);
        prefixBytes++;
        // later prefix bytes only add to the length, so an over-cap prefix is final already
        if (partialLength > maxBytes || (prefixBytes >= MAX_PREFIX_BYTES && (b & 0x80) !== 0)) {
          finish(new FrameTooLargeError(maxBytes, `frame length over ${maxBytes} bytes`));
          return;
        }
        if ((b & 0x80) === 0) {
          length = partialLength;
          body = new Uint8Array(length);
        }
      }
      if (length < 0 || body == null) return;
      const n = Math.min(length - received, bytes.length - offset);
      body.set(bytes.subarray(offset, offset + n), received);
      received += n;
      if (received === length) finish(undefined, body);
    };

    const onMessage = (evt: StreamMessageEvent): void => {
      const data = evt.data;
      if (data instanceof Uint8Array) take(data);
      else for (const chunk of data) take(chunk);
    };
    const onEnd = (): void => {
      finish(new FrameTruncatedError(`stream ended after ${received} bytes of the frame`));
    };
    const onClose = (evt: StreamCloseEvent): void => {
      finish(evt.error ?? new FrameTruncatedError('stream closed inside the frame'));
    };
    const onAbort = (): void => finish(signal.reason);

    if (signal.aborted) {
      finish(signal.reason);
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    stream.addEventListener('close', onClose);
    stream.addEventListener('end', onEnd);
    // Adding the listener makes the stream hand over what it buffered before we attached.
    stream.addEventListener('message', onMessage);
    if (stream.status !== 'open' && stream.readBufferLength === 0) {
      finish(new FrameTruncatedError(`stream is ${stream.status}`));
    } else if (stream.readableEnded && stream.readBufferLength === 0) {
      finish(new FrameTruncatedError('stream ended before the frame'));
    }
  });
}

/** Writes one frame and waits until the stream can take more (not until the peer read it). */
export async function writeFrame(stream: Stream, payload: Uint8Array, signal: AbortSignal): Promise<void> {
  const prefix: number[] = [];
  let n = payload.length;
  while (n >= 0x80) {
    prefix.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  prefix.push(n);
  const prefixSent = stream.send(Uint8Array.from(prefix));
  const payloadSent = payload.length === 0 ? prefixSent : stream.send(payload);
  if (!payloadSent) await stream.onDrain({ signal });
}
