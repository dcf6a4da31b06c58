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
export { CryptoPoolError, type CryptoPoolErrorReason } from './errors.js';
export {
  CryptoPool,
  type CryptoPoolInit,
  type CryptoPoolLog,
  type CryptoPoolStats,
  MAX_WORKERS,
  type ReencryptItem,
  type ReencryptItemError,
  type ReencryptResult,
} from './pool.js';
