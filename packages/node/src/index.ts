/** @thresh/node: the node daemon (libp2p host, encrypted store, handlers, HTTP API). */
export * from './crypto/index.js';
export * from './datadir.js';
export * from './http/index.js';
export { createLogger, LOG_LEVELS, type LoggerInit } from './logger.js';
export * from './metrics.js';
export * from './net/serve.js';
export * from './node.js';
export * from './options.js';
export * from './service.js';
export * from './store/index.js';
export { VERSION } from './version.js';
