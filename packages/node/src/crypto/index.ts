/**
 * The node's crypto pool: Umbral re-encryption on worker threads (see pool.ts).
 *
 * @example
 * ```ts
 * const pool = new CryptoPool({ workers: 2 });
 * await pool.start();
 * const results = await pool.reencryptBatch([{ capsule, kfrag }]);
 * await pool.stop();
 * ```
 */
export type { ReencryptItem, ReencryptItemError, ReencryptResult } from './batch.js';
export { CryptoPoolError, type CryptoPoolErrorReason } from './errors.js';
export { type CryptoPoolInit, type CryptoPoolLog, type CryptoPoolStats, MAX_WORKERS } from './options.js';
export { CryptoPool } from './pool.js';
