/**
 * libp2p hands out Node Buffers (protobuf decoding, Noise decryption, Uint8ArrayList
 * concatenation). Buffers have their own `slice` semantics and may be views into a shared
 * pool, so they stay inside the transport: callers always get a plain, owned Uint8Array.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes);
}
