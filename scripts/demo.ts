/**
 * `npm start` until the node exists (issue #2): a short walk through the PRE core. An owner
 * encrypts, splits a re-encryption key 3-of-5 for a reader, three "nodes" re-encrypt, and the
 * reader verifies their fragments and decrypts.
 */
import '@thresh/protocol/polyfill';
import {
  CapsuleFrag,
  curveBackendName,
  decryptReencrypted,
  encrypt,
  generateKFrags,
  KeyFrag,
  reencrypt,
  SecretKey,
  Signer,
} from '@thresh/protocol';

const say = (s: string) => console.log(s);
const ms = (t0: number) => `${(performance.now() - t0).toFixed(2)} ms`;

const owner = SecretKey.random();
const ownerSigner = new Signer(SecretKey.random());
const reader = SecretKey.random();
const message = new TextEncoder().encode('Q3 revenue: up 12%. Do not forward.');

say(`thresh PRE demo (curve backend: ${curveBackendName()})\n`);
let t0 = performance.now();
const [capsule, ciphertext] = encrypt(owner.publicKey(), message);
say(
  `1. owner encrypts ${message.length} bytes -> capsule (${capsule.toBytes().length} B) + ciphertext (${ciphertext.length} B)   ${ms(t0)}`,
);

t0 = performance.now();
const kfrags = generateKFrags(owner, reader.publicKey(), ownerSigner, 3, 5, false, true);
say(`2. owner splits a re-encryption key for the reader into 5 kfrags, any 3 suffice   ${ms(t0)}`);

t0 = performance.now();
const nodes = kfrags.map((k) =>
  KeyFrag.fromBytes(k.toBytes()).verify(ownerSigner.verifyingKey(), null, reader.publicKey()),
);
say(`3. each of 5 nodes receives its kfrag and verifies the owner's signature   ${ms(t0)}`);

t0 = performance.now();
const cfragBytes = [nodes[4], nodes[1], nodes[2]].map((k) => reencrypt(capsule, k).toBytes());
say(`4. three nodes (5, 2, 3) re-encrypt the capsule; the other two are offline   ${ms(t0)}`);

t0 = performance.now();
const verified = cfragBytes.map((b) =>
  CapsuleFrag.fromBytes(b).verify(capsule, ownerSigner.verifyingKey(), owner.publicKey(), reader.publicKey()),
);
const plaintext = decryptReencrypted(reader, owner.publicKey(), capsule, verified, ciphertext);
say(`5. reader verifies the 3 cfrags, combines them and decrypts   ${ms(t0)}`);
say(`\n   "${new TextDecoder().decode(plaintext)}"\n`);

const two = verified.slice(0, 2);
try {
  decryptReencrypted(reader, owner.publicKey(), capsule, two, ciphertext);
  say('6. UNEXPECTED: two cfrags decrypted');
  process.exitCode = 1;
} catch (e) {
  say(`6. with only 2 of the 3 needed cfrags: ${(e as Error).name}: ${(e as Error).message}`);
}
