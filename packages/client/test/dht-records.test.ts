import {
  encodeDhtValue,
  Identity,
  makeDhtKey,
  makeNodeRecord,
  nodeIdOf,
  nodeRecordDhtId,
  RecordMismatchError,
} from '@thresh/protocol';
import { describe, expect, it } from 'vitest';
import { threshDhtNamespaces } from '../src/index.js';

const NOW = 1_767_225_600;
const node = Identity.generate();
const id = nodeRecordDhtId();
const key = makeDhtKey('node', nodeIdOf(node.card), id);

function value(seq: number): Uint8Array {
  const rec = makeNodeRecord(node, {
    peer: `16Uiu2HAm${'x'.repeat(44)}`,
    addrs: ['/ip4/127.0.0.1/tcp/4001'],
    maxLifetime: 86_400,
    capacity: 10,
    version: '0.1.0',
    seq,
    expiry: NOW + 3600,
  });
  return encodeDhtValue({ namespace: 'node', id, seq, record: rec.bytes }, node.signer);
}

describe('the thresh DHT namespace', () => {
  it('refuses a value older than the one held, accepts equal and newer ones', async () => {
    const held = value(5);
    const ns = threshDhtNamespaces(
      () => NOW,
      async () => held,
    ).thresh;
    await expect(ns.validate(key, value(4))).rejects.toThrow(RecordMismatchError);
    await expect(ns.validate(key, value(5))).resolves.toBeUndefined();
    await expect(ns.validate(key, value(6))).resolves.toBeUndefined();
    const fresh = threshDhtNamespaces(
      () => NOW,
      async () => undefined,
    ).thresh;
    await expect(fresh.validate(key, value(1))).resolves.toBeUndefined();
    expect(await ns.select(key, [value(4), value(7), value(6)])).toBe(1);
  });

  it('refuses a node record under another node key, or an expired one', async () => {
    const other = Identity.generate();
    const ns = threshDhtNamespaces(() => NOW).thresh;
    await expect(ns.validate(makeDhtKey('node', nodeIdOf(other.card), id), value(1))).rejects.toThrow();
    const late = threshDhtNamespaces(() => NOW + 7200).thresh;
    await expect(late.validate(key, value(1))).rejects.toThrow(/expired/);
  });
});
