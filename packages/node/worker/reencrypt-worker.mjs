// A crypto worker thread of the node's CryptoPool (src/crypto/pool.ts). Plain ESM JavaScript
// outside src/ so the same file runs under vitest (pool from src/) and in production (pool
// from dist/); it loads @thresh/protocol from its build (dist/).
//
// Messages, all sent by the pool itself (capsule and kfrag bytes only ever travel inside a
// job's buffer, never as a message type):
//   in:  { type: 'job', id, buffer }   buffer: packed items (reencrypt-core.mjs packItems)
//        { type: 'test-exit' }         tests only, honoured only when spawned with testHooks
//   out: { type: 'ready', backend }    once the modules loaded and the backend is set
//        { type: 'done', id, buffer }   buffer: packed results (unpackResults)
//        { type: 'failed', id, message } the job could not run at all
import '@thresh/protocol/polyfill';
import { parentPort, workerData } from 'node:worker_threads';
import { curveBackendName, setCurveBackend } from '@thresh/protocol';
import { reencryptPacked } from './reencrypt-core.mjs';

if (!parentPort) throw new Error('reencrypt-worker.mjs runs as a worker thread of CryptoPool');
const port = parentPort;
const { backend, testHooks } = workerData ?? {};

// The parent may have forced a backend (setCurveBackend or THRESH_CURVE_BACKEND); the worker
// must compute with the same one. An unavailable backend throws here and fails the pool's start.
setCurveBackend(backend);

port.on('message', (msg) => {
  if (msg?.type === 'job') {
    const { id, buffer } = msg;
    let out;
    try {
      out = reencryptPacked(buffer);
    } catch (e) {
      port.postMessage({ type: 'failed', id, message: e instanceof Error ? e.message : String(e) });
      return;
    } finally {
      // the job holds kfrag key material: wipe it once used
      if (buffer instanceof ArrayBuffer) new Uint8Array(buffer).fill(0);
    }
    port.postMessage({ type: 'done', id, buffer: out }, [out]);
  } else if (msg?.type === 'test-exit' && testHooks === true) {
    process.exit(70);
  }
});

port.postMessage({ type: 'ready', backend: curveBackendName() });
