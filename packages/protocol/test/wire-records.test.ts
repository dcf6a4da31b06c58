/**
 * The wire layer against the real records: its byte caps cover every record's own cap, real
 * records and cfrags travel in its messages, and the records' verifiers plug into the DHT
 * validator as inner verifiers.
 */
import { describe, expect, it } from 'vitest';
import { Identity } from '../src/identity/identity.js';
import {
  ASSIGNMENT_MAX_BYTES,
  CAPSULE_BYTES,
  HANDOFF_MAX_BYTES,
  MAX_HANDOFF_CHAIN,
  makeNodeRecord,
  makeRevocation,
  NODE_RECORD_MAX_BYTES,
  nodeIdOf,
  POLICY_ID_BYTES,
  POLICY_MAX_BYTES,
  RECEIPT_MAX_BYTES,
  REVOCATION_MAX_BYTES,
  recordSizes,
  sealedKFragType,
  sealedMapType,
  verifyNodeRecord,
  verifyRevocation,
} from '../src/records/index.js';
import { encrypt, generateKFrags, reencrypt, SecretKey } from '../src/umbral/index.js';
import {
  DHT_NAMESPACE_RULES,
  type DhtInnerVerifier,
  encodeDhtValue,
  makeDhtKey,
  nodeRecordDhtId,
  PROTOCOL_LIMITS,
  REVOKE_PUBLISHED_MAX_BYTES,
  ReencryptReply,
  RevokeRequest,
  revocationDhtId,
  StorePolicyRequest,
  validateDhtRecord,
  WIRE_SIZES,
} from '../src/wire/index.js';
import { outcome } from './wire-fixture.js';

const NOW = 1_767_225_600;

describe('wire caps cover the records', () => {
  it('each record cap is within its wire field cap', () => {
    expect(WIRE_SIZES.maxPolicy).toBeGreaterThanOrEqual(POLICY_MAX_BYTES);
    expect(WIRE_SIZES.maxAssignment).toBeGreaterThanOrEqual(ASSIGNMENT_MAX_BYTES);
    expect(WIRE_SIZES.maxSealedKFrag).toBeGreaterThanOrEqual(sealedKFragType.maxBytes);
    expect(WIRE_SIZES.maxReceipt).toBeGreaterThanOrEqual(RECEIPT_MAX_BYTES);
    expect(WIRE_SIZES.maxRevocation).toBeGreaterThanOrEqual(REVOCATION_MAX_BYTES);
    expect(WIRE_SIZES.maxNodeRecord).toBeGreaterThanOrEqual(NODE_RECORD_MAX_BYTES);
    expect(WIRE_SIZES.maxHandoffCertificate).toBeGreaterThanOrEqual(HANDOFF_MAX_BYTES);
    expect(WIRE_SIZES.maxHandoffChain).toBe(MAX_HANDOFF_CHAIN);
    expect(WIRE_SIZES.maxSealedMap).toBeGreaterThanOrEqual(sealedMapType.maxBytes);
    expect(DHT_NAMESPACE_RULES['policy-map'].maxRecordBytes).toBeGreaterThanOrEqual(sealedMapType.maxBytes);
    expect(WIRE_SIZES.capsule).toBe(CAPSULE_BYTES);
    expect(WIRE_SIZES.policyId).toBe(POLICY_ID_BYTES);
  });

  it('a real 3-of-5 grant travels in store-policy, a real cfrag in a reencrypt reply', () => {
    const sizes = recordSizes();
    for (const [name, n] of Object.entries(sizes)) expect(n, name).toBeGreaterThan(0);
    expect(sizes.policy).toBeLessThanOrEqual(WIRE_SIZES.maxPolicy);
    expect(sizes.sealedKFrag).toBeLessThanOrEqual(WIRE_SIZES.maxSealedKFrag);
    expect(sizes.nodeRecord).toBeLessThanOrEqual(WIRE_SIZES.maxNodeRecord);
    expect(sizes.sealedMap).toBeLessThanOrEqual(WIRE_SIZES.maxSealedMap);
    const req = {
      policy: new Uint8Array(sizes.policy),
      assignment: new Uint8Array(sizes.assignment),
      sealedKFrag: new Uint8Array(sizes.sealedKFrag),
    };
    expect(StorePolicyRequest.encode(req).length).toBeLessThan(PROTOCOL_LIMITS.storePolicy.maxRequestBytes);

    const alice = SecretKey.random();
    const bob = SecretKey.random();
    const [capsule] = encrypt(alice.publicKey(), new Uint8Array(3));
    const [kfrag] = generateKFrags(alice, bob.publicKey(), Identity.generate().signer, 1, 1, false, true);
    const cfrag = reencrypt(capsule, kfrag).toBytes();
    expect(cfrag).toHaveLength(WIRE_SIZES.cfrag);
    const reply = { items: [{ id: 1, cfrag, policyId: new Uint8Array(16), level: 0 }] };
    expect(ReencryptReply.decode(ReencryptReply.encode(reply))).toEqual(reply);
  });
});

describe('records verifiers as DHT inner verifiers', () => {
  const node = Identity.generate();
  const owner = Identity.generate();

  /** What the node wires in: per namespace, the record's verifier bound to the DHT signer and id. */
  const inner: DhtInnerVerifier = (namespace, signer, record, { id, seq }) => {
    if (namespace === 'node') {
      const r = verifyNodeRecord(record, { now: NOW, nodeId: signer.toCompressedBytes() });
      if (r.body.seq !== seq) throw new Error('seq differs from the record');
    } else if (namespace === 'revocation') {
      const r = verifyRevocation(record, { now: NOW });
      if (!r.signed.verify(signer)) throw new Error('not the DHT signer');
      if (Buffer.compare(r.body.policy, id) !== 0) throw new Error('another policy');
    } else {
      throw new Error(`no verifier for ${namespace}`);
    }
  };

  it('a node record under its node key validates; under another node it does not', () => {
    const rec = makeNodeRecord(node, {
      peer: `16Uiu2HAm${'x'.repeat(44)}`,
      addrs: ['/ip4/127.0.0.1/tcp/4001'],
      maxLifetime: 86_400 * 365,
      capacity: 1000,
      version: '0.1.0',
      seq: 7,
      expiry: NOW + 36 * 3600,
    });
    const id = nodeRecordDhtId();
    const value = encodeDhtValue({ namespace: 'node', id, seq: 7, record: rec.bytes }, node.signer);
    const key = makeDhtKey('node', nodeIdOf(node.card), id);
    expect(validateDhtRecord(key, value, inner).seq).toBe(7);
    // the other identity republishing the same record under its own key: the inner check fails
    const other = Identity.generate();
    const stolen = encodeDhtValue({ namespace: 'node', id, seq: 7, record: rec.bytes }, other.signer);
    expect(
      outcome(() => validateDhtRecord(makeDhtKey('node', nodeIdOf(other.card), id), stolen, inner)),
    ).toBe('RecordMismatchError');
  });

  it('a revocation travels in a revoke request with its DHT value', () => {
    const policyId = new Uint8Array(16).fill(4);
    const revocation = makeRevocation(owner, { id: policyId, expiry: NOW + 86_400 }, { now: NOW });
    const id = revocationDhtId(policyId);
    const published = encodeDhtValue(
      { namespace: 'revocation', id, seq: 0, record: revocation.bytes },
      owner.signer,
    );
    expect(published.length).toBeLessThanOrEqual(REVOKE_PUBLISHED_MAX_BYTES);
    const req = RevokeRequest.decode(RevokeRequest.encode({ revocation: revocation.bytes, published }));
    const key = makeDhtKey('revocation', owner.card.signingKey, id);
    expect(validateDhtRecord(key, req.published!, inner).namespace).toBe('revocation');
  });
});
