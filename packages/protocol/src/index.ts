/**
 * @thresh/protocol: everything thresh parties agree on, pure and free of I/O (DESIGN.md
 * "Packages"): the Umbral-compatible PRE core, AEADs and the chunked file format, identities
 * and cards, canonical paths, the versioned envelope and signed records, wire messages.
 * Byte layouts: docs/PROTOCOL.md.
 *
 * @example
 * ```ts
 * import { Identity, encrypt, generateKFrags } from '@thresh/protocol';
 * const owner = Identity.generate();
 * const reader = Identity.generate();
 * const printable = reader.card.toString(); // "thresh1...", what people exchange
 * ```
 */
export * from './aead/index.js';
export * from './codec/index.js';
export * from './errors.js';
export * from './file/chunks.js';
export * from './file/file.js';
export * from './file/header.js';
export * from './identity/card.js';
export * from './identity/identity.js';
export * from './identity/keyfile.js';
export * from './path.js';
export * from './pathkeys.js';
export * from './records/dir-key.js';
export * from './records/index.js';
export * from './umbral/index.js';
export * from './wire/index.js';
