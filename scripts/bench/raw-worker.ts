/**
 * One core's raw re-encryption rate: reencrypt() in a loop for the given time (bench:node).
 * With `parse`, each round also parses the capsule from its bytes (Capsule.fromBytes, with
 * Umbral's capsule self-check), as a node must for every item it is sent: the crypto ceiling
 * of a node. Without it (the baseline of the target), the capsule is parsed once up front.
 */
import '@thresh/protocol/polyfill';
import { parentPort, workerData } from 'node:worker_threads';
import { Capsule, KeyFrag, reencrypt } from '@thresh/protocol';

const { capsule, kfrag, ms, parse } = workerData as {
  capsule: Uint8Array;
  kfrag: Uint8Array;
  ms: number;
  parse?: boolean;
};
const c = Capsule.fromBytes(capsule);
// skipVerification: a benchmark's own freshly made kfrag.
const k = KeyFrag.fromBytes(kfrag).skipVerification();
const round = parse ? () => reencrypt(Capsule.fromBytes(capsule), k) : () => reencrypt(c, k);
for (let i = 0; i < 50; i++) round();
let n = 0;
const end = performance.now() + ms;
while (performance.now() < end) {
  round();
  n++;
}
parentPort!.postMessage({ opsPerSecond: (n * 1000) / ms });
