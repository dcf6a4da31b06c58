export type { TypeInfo } from './envelope.js';
export {
  DEFAULT_MAX_BYTES,
  MessageType,
  PROTOCOL_MAJOR,
  peekTag,
  Signed,
  SignedType,
  signingMessage,
} from './envelope.js';
export { pack, unpack } from './msgpack.js';
export { bytes, parseWith, safeUint, u8, u16, u32, unixSeconds, z } from './schema.js';
