/**
 * @thresh/client: the library apps use (owner, reader, writer) and the outbound network code
 * (transports, node selection, fan-out). The node daemon uses it for its own outbound work.
 */

export * from './client.js';
export * from './dht-records.js';
export * from './errors.js';
export {
  type PolicyEntry,
  type PolicyNodeEntry,
  type PolicyStatus,
  type RegrantEntry,
  type RotationEntry,
  STATE_FILE,
} from './state.js';
export * from './transport/errors.js';
export * from './transport/libp2p/index.js';
export * from './transport.js';
export * from './transport-http.js';
