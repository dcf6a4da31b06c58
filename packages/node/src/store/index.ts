/**
 * The node's durable store (DESIGN.md "Nodes": Storage): the NodeStore contract, LevelStore
 * (LevelDB, sealed at rest) and MemoryStore (for unit tests).
 *
 * @example
 * ```ts
 * import { Identity } from '@thresh/protocol';
 * import { LevelStore } from './store/index.js';
 * const store = new LevelStore('/var/lib/thresh/store', Identity.generate().storageSecret());
 * await store.open();
 * const { policies } = await store.policiesByPathHash(pathHash);
 * await store.close();
 * ```
 */
export * from './errors.js';
export { LevelStore } from './level.js';
export { MemoryStore } from './memory.js';
export * from './types.js';
