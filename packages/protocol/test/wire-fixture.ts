/** Valid samples of every wire message, shared by the wire-*.test.ts files. */
import { expect } from 'vitest';
import type { MessageType } from '../src/codec/envelope.js';
import { ThreshError } from '../src/errors.js';
import { encrypt, SecretKey } from '../src/umbral/index.js';
import {
  HandoffReply,
  HandoffRequest,
  NodeRecordReply,
  NodeRecordRequest,
  ReencryptReply,
  ReencryptRequest,
  RemoteError,
  RevokeReply,
  RevokeRequest,
  StorePolicyReply,
  StorePolicyRequest,
} from '../src/wire/index.js';

/** Deterministic filler bytes (content is irrelevant to the wire layer, lengths matter). */
export function filled(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (seed * 31 + i * 7) & 0xff;
  return b;
}

export const capsuleBytes = (() => {
  const [capsule] = encrypt(SecretKey.random().publicKey(), new Uint8Array(1));
  return capsule.toBytes();
})();

export const level = (seed: number) => ({ pathHash: filled(32, seed), capsule: capsuleBytes });

export const samples = {
  storePolicyReq: { policy: filled(1200), assignment: filled(220, 2), sealedKFrag: filled(700, 3) },
  receipt: { receipt: filled(200, 4) },
  error: { error: { code: 'NOT_FOUND' as const, message: 'no live policy' } },
  reencryptReq: {
    items: [
      { id: 7, levels: [level(1), level(2), level(3)] },
      { id: 8, levels: [level(4)], policyId: filled(16, 5) },
    ],
  },
  reencryptRes: {
    items: [
      { id: 7, cfrag: filled(381, 6), policyId: filled(16, 7), level: 2 },
      { id: 8, error: 'REVOKED' as const },
    ],
  },
  revokeReq: { revocation: filled(180, 8) },
  revokeReqPublished: { revocation: filled(180, 8), published: filled(400, 9) },
  nodeRecordReq: {},
  nodeRecordRes: { nodeRecord: filled(600, 10) },
  nodeRecordResStatus: {
    nodeRecord: filled(600, 10),
    status: { peers: 12, policies: 3456, uptime: 86_400, version: '0.1.0', time: 1_767_225_600 },
  },
  handoffReq: {
    policy: filled(1200),
    assignment: filled(220, 2),
    certificates: [filled(200, 11), filled(200, 12)],
    sealedKFrag: filled(700, 3),
  },
};

export interface Case {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: a table of heterogeneous message types
  type: MessageType<any>;
  value: unknown;
}

/** One valid value per decoder (requests, success replies and error replies). */
export const cases: Case[] = [
  { name: 'store-policy.req', type: StorePolicyRequest, value: samples.storePolicyReq },
  { name: 'store-policy.res ok', type: StorePolicyReply, value: samples.receipt },
  { name: 'store-policy.res error', type: StorePolicyReply, value: samples.error },
  { name: 'reencrypt.req', type: ReencryptRequest, value: samples.reencryptReq },
  { name: 'reencrypt.res ok', type: ReencryptReply, value: samples.reencryptRes },
  { name: 'reencrypt.res error', type: ReencryptReply, value: samples.error },
  { name: 'revoke.req', type: RevokeRequest, value: samples.revokeReq },
  { name: 'revoke.req published', type: RevokeRequest, value: samples.revokeReqPublished },
  { name: 'revoke.res ok', type: RevokeReply, value: samples.receipt },
  { name: 'revoke.res error', type: RevokeReply, value: samples.error },
  { name: 'node-record.req', type: NodeRecordRequest, value: samples.nodeRecordReq },
  { name: 'node-record.res', type: NodeRecordReply, value: samples.nodeRecordRes },
  { name: 'node-record.res status', type: NodeRecordReply, value: samples.nodeRecordResStatus },
  { name: 'node-record.res error', type: NodeRecordReply, value: samples.error },
  { name: 'handoff.req', type: HandoffRequest, value: samples.handoffReq },
  { name: 'handoff.res ok', type: HandoffReply, value: samples.receipt },
  { name: 'handoff.res error', type: HandoffReply, value: samples.error },
];

/** Runs `fn`; returns 'ok' or the typed error's name. Any other throw fails the test. */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (e instanceof ThreshError || e instanceof RemoteError) return e.name;
    expect.fail(`untyped throw: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
}
