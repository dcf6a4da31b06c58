/** One core's raw re-encryption rate: reencrypt() in a loop for the given time (bench:node). */
import '@thresh/protocol/polyfill';
import { parentPort, workerData } from 'node:worker_threads';
import { Capsule, KeyFrag, reencrypt } from '@thresh/protocol';

const { capsule, kfrag, ms } = workerData as { capsule: Uint8Array; kfrag: Uint8Array; ms: number };
const c = Capsule.fromBytes(capsule);
// skipVerification: a benchmark's own freshly made kfrag.
const k = KeyFrag.fromBytes(kfrag).skipVerification();
for (let i = 0; i < 50; i++) reencrypt(c, k);
let n = 0;
const end = performance.now() + ms;
while (performance.now() < end) {
  reencrypt(c, k);
  n++;
}
parentPort!.postMessage({ opsPerSecond: (n * 1000) / ms });
