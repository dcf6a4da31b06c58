/** @thresh/node: the node daemon (libp2p host, encrypted store, handlers, HTTP API). */
export * from './datadir.js';
export * from './net/serve.js';
export * from './options.js';
export * from './store/index.js';
