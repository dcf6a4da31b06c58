/**
 * AEAD throughput: seal and open of 1 MiB messages, node:crypto vs @noble/ciphers, for both
 * AEAD ids, plus the chunked format (HKDF per chunk included) on the platform AEADs.
 * DESIGN.md "The encrypted file" sets the target: >= 1 GB/s for 1 MiB chunks on Node.
 *
 *   npx tsc -b && node scripts/dist/bench/aead.js [milliseconds per case, default 400]
 */
import { randomBytes } from 'node:crypto';
import type * as AeadModule from '../../packages/protocol/dist/aead/index.js';
import type { Aead } from '../../packages/protocol/dist/aead/index.js';
import type * as ChunksModule from '../../packages/protocol/dist/file/chunks.js';
import { measure, table } from './harness.js';

// TODO: import from '@thresh/protocol' once its index exports the AEADs and the chunk format.
// Until then the built files are loaded by URL: a static relative import cannot name them from
// both bench/aead.ts (which tsc checks) and dist/bench/aead.js (which node runs).
const protocolDist = new URL('../../../packages/protocol/dist/', import.meta.url);
const { AEAD_AES_256_GCM, AEAD_XCHACHA20_POLY1305, getAead, nobleAeads }: typeof AeadModule = await import(
  new URL('aead/index.js', protocolDist).href
);
const { decryptChunksSync, encryptChunksSync }: typeof ChunksModule = await import(
  new URL('file/chunks.js', protocolDist).href
);

const MIB = 1 << 20;
const budgetMs = Number(process.argv[2] ?? 400);
if (!(budgetMs > 0)) throw new Error(`usage: aead.js [milliseconds per case], got ${process.argv[2]}`);

const rows: string[][] = [];

/** MB/s (10^6 bytes per second) from the median time of `fn`, which processes `bytes` bytes. */
function mbps(bytes: number, fn: () => void): string {
  const { median } = measure(fn, budgetMs);
  return (bytes / (median / 1000) / 1e6).toFixed(0);
}

function benchAead(label: string, aead: Aead): void {
  const key = new Uint8Array(randomBytes(aead.keyLength));
  const nonce = new Uint8Array(randomBytes(aead.nonceLength));
  const aad = new Uint8Array(randomBytes(32));
  const msg = new Uint8Array(randomBytes(MIB));
  const sealed = aead.seal(key, nonce, msg, aad);
  rows.push([
    label,
    mbps(MIB, () => aead.seal(key, nonce, msg, aad)),
    mbps(MIB, () => aead.open(key, nonce, sealed, aad)),
  ]);
}

function benchChunks(label: string, aead: Aead): void {
  const size = 16 * MIB;
  const params = {
    aead,
    dek: new Uint8Array(randomBytes(32)),
    fileNonce: new Uint8Array(randomBytes(32)),
    headerHash: new Uint8Array(randomBytes(32)),
    chunkSize: MIB,
  };
  const plaintext = new Uint8Array(randomBytes(size));
  const sealed = encryptChunksSync(params, plaintext);
  rows.push([
    label,
    mbps(size, () => encryptChunksSync(params, plaintext)),
    mbps(size, () => decryptChunksSync(params, sealed)),
  ]);
}

console.log(`AEAD throughput, 1 MiB messages, median of ~${budgetMs} ms per case, Node ${process.version}\n`);
for (const id of [AEAD_XCHACHA20_POLY1305, AEAD_AES_256_GCM]) {
  const platform = getAead(id);
  benchAead(`${platform.name} (node:crypto)`, platform);
  benchAead(`${platform.name} (@noble/ciphers)`, nobleAeads[id]);
  benchChunks(`${platform.name} chunked, 16 MiB file`, platform);
}
console.log(table(['case', 'seal MB/s', 'open MB/s'], rows));
