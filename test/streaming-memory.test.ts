/**
 * Issue #5: "a 200 MB file streams through encrypt and decrypt with bounded memory (assert peak
 * RSS)". The measurement runs in a child process (vitest's own heap would blur it): 200 MB of
 * generated data, 1 MiB at a time (no 200 MB buffer anywhere), goes through encryptFile, whose
 * ciphertext stream is pulled straight into readFileHeader / unwrapDekAsOwner /
 * decryptFileBody; both ends are hashed. The child samples process.memoryUsage().rss every
 * 50 ms (and at every chunk, since a busy pipeline can delay timers) and prints the peak.
 *
 * The bound must be able to fail: a control run that buffers the ciphertext (what a
 * non-streaming implementation does) is asserted to go over it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const PROTOCOL = pathToFileURL(join(ROOT, 'packages', 'protocol', 'dist', 'index.js')).href;
const MB = 1024 * 1024;
const TOTAL_MB = 200;
const PEAK_LIMIT_MB = 250;

const SCRIPT = `
import { createHash, randomBytes } from 'node:crypto';
const mode = process.argv[2];
let peak = process.memoryUsage().rss;
const sample = () => {
  const r = process.memoryUsage().rss;
  if (r > peak) peak = r;
};
const timer = setInterval(sample, 50);
const { Identity, encryptFile, readFileHeader, unwrapDekAsOwner, decryptFileBody } = await import(${JSON.stringify(PROTOCOL)});
sample();
if (mode === 'baseline') {
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(timer);
  sample();
  console.log(JSON.stringify({ peakMb: peak / ${MB}, bytes: 0 }));
  process.exit(0);
}
const total = Number(process.argv[3]) * ${MB};
const inHash = createHash('sha256');
const seed = randomBytes(${MB});
async function* source() {
  for (let off = 0, i = 0; off < total; off += ${MB}, i++) {
    const chunk = new Uint8Array(Math.min(${MB}, total - off));
    chunk.set(seed.subarray(0, chunk.length));
    new DataView(chunk.buffer).setUint32(0, i); // every chunk differs
    inHash.update(chunk);
    sample();
    if (i % 8 === 0) await new Promise((r) => setImmediate(r)); // let the 50 ms sampler run
    yield chunk;
  }
}
const owner = Identity.generate();
const { stream } = encryptFile(owner, { path: '/big/file.bin' }, source());
let ciphertext = stream;
if (mode === 'buffered') {
  // the control: what a non-streaming implementation does, the whole ciphertext in memory
  const parts = [];
  for await (const c of stream) {
    parts.push(c);
    sample();
  }
  ciphertext = parts;
}
const opened = await readFileHeader(ciphertext);
const dek = unwrapDekAsOwner(opened.header, owner);
const outHash = createHash('sha256');
let bytes = 0;
for await (const p of decryptFileBody(opened.header, dek, opened.body)) {
  outHash.update(p);
  bytes += p.length;
  sample();
}
clearInterval(timer);
sample();
console.log(JSON.stringify({ peakMb: peak / ${MB}, bytes, inHash: inHash.digest('hex'), outHash: outHash.digest('hex') }));
`;

interface Report {
  peakMb: number;
  bytes: number;
  inHash?: string;
  outHash?: string;
}

let dir: string;
let script: string;

function run(mode: 'baseline' | 'streamed' | 'buffered', mb = TOTAL_MB): Promise<Report> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [script, mode, String(mb)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${mode} child exited ${code}:\n${err}`));
      try {
        resolvePromise(JSON.parse(out.trim().split('\n').pop() ?? '') as Report);
      } catch (e) {
        reject(new Error(`${mode} child printed ${out}\n${err}`, { cause: e }));
      }
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'thresh-streaming-'));
  script = join(dir, 'stream.mjs');
  await writeFile(script, SCRIPT);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('streaming memory (issue #5)', () => {
  let baseline: Report;

  it('baseline: a child that only loads @thresh/protocol', async () => {
    baseline = await run('baseline');
    console.log(`baseline RSS ${baseline.peakMb.toFixed(1)} MB`);
    expect(baseline.peakMb).toBeLessThan(150);
  });

  it(`${TOTAL_MB} MB stream through encrypt and decrypt with peak RSS < ${PEAK_LIMIT_MB} MB`, async () => {
    const r = await run('streamed');
    console.log(
      `streamed ${TOTAL_MB} MB: peak RSS ${r.peakMb.toFixed(1)} MB (baseline ${baseline?.peakMb.toFixed(1)} MB)`,
    );
    expect(r.bytes).toBe(TOTAL_MB * MB);
    expect(r.outHash).toBe(r.inHash);
    expect(r.peakMb).toBeLessThan(PEAK_LIMIT_MB);
  }, 60_000);

  it('control: buffering the ciphertext goes over the bound (the assertion can fail)', async () => {
    const r = await run('buffered');
    console.log(`buffered ${TOTAL_MB} MB: peak RSS ${r.peakMb.toFixed(1)} MB`);
    expect(r.outHash).toBe(r.inHash);
    expect(r.peakMb).toBeGreaterThan(PEAK_LIMIT_MB);
  }, 60_000);
});
