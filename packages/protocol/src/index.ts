/**
 * @thresh/protocol: everything thresh parties agree on, pure and free of I/O.
 * See ../../docs/PROTOCOL.md.
 */
export * from './errors.js';
export * from './umbral/index.js';
