/**
 * The receipt (DESIGN.md "Signed records", "Grant" step 3, "Revoke"): a node's signed
 * statement that it stored, revoked (deleted) or handed off one kfrag of one policy. Writes a
 * receipt acknowledges are synced first (DESIGN.md "Nodes").
 *
 * Envelope ["receipt", 1, 0, [body bytes, signature (64)]]; the body is a MessagePack map:
 *
 * | key    | type                             | meaning                                     |
 * |--------|----------------------------------|---------------------------------------------|
 * | op     | str: "store", "revoke", "handoff"| what the node did                           |
 * | node   | bin 33                           | node id; its key signs the receipt          |
 * | policy | bin 32                           | policy digest                               |
 * | kfrag  | bin 32                           | kfrag id                                    |
 * | time   | uint (Unix s)                    | when                                        |
 *
 * Verification: signature by PublicKey.fromCompressedBytes(node); time at most 300 s ahead of
 * now; optionally the expected op, node, policy digest and kfrag id.
 */
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { unixSeconds, z } from '../codec/schema.js';
import { InvalidArgumentError } from '../errors.js';
import type { Identity } from '../identity/identity.js';
import {
  asSigned,
  assertBytes,
  assertIdentity,
  assertNotFuture,
  bytesEqual,
  DIGEST_BYTES,
  digestSchema,
  KFRAG_ID_BYTES,
  kfragIdSchema,
  nodeIdOf,
  nodeIdSchema,
  nodeKey,
  RECORD_CHECKED,
  RECORD_TAGS,
  RecordMismatchError,
  resolveNow,
  signRecord,
  type TimeOptions,
  VerifiedRecord,
} from './common.js';

export const RECEIPT_OPS = ['store', 'revoke', 'handoff'] as const;
export type ReceiptOp = (typeof RECEIPT_OPS)[number];
export const RECEIPT_MAX_BYTES = 512;

export const receiptSchema = z.object({
  op: z.enum(RECEIPT_OPS),
  node: nodeIdSchema,
  policy: digestSchema,
  kfrag: kfragIdSchema,
  time: unixSeconds,
});

export type ReceiptBody = z.infer<typeof receiptSchema>;
export type VerifiedReceipt = VerifiedRecord<ReceiptBody>;

export const receiptType = new SignedType<ReceiptBody>(
  RECORD_TAGS.receipt,
  receiptSchema,
  0,
  RECEIPT_MAX_BYTES,
);

export interface ReceiptInit {
  op: ReceiptOp;
  policyDigest: Uint8Array;
  kfragId: Uint8Array;
}

/** Signs a receipt as `node` (its node id is its card's signing key), dated now. */
export function makeReceipt(node: Identity, init: ReceiptInit, opts: TimeOptions = {}): Signed<ReceiptBody> {
  assertIdentity('node', node);
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError('receipt', 'expected an object');
  assertBytes('policyDigest', init.policyDigest, DIGEST_BYTES);
  assertBytes('kfragId', init.kfragId, KFRAG_ID_BYTES);
  return signRecord(
    receiptType,
    {
      op: init.op,
      node: nodeIdOf(node.card),
      policy: init.policyDigest,
      kfrag: init.kfragId,
      time: resolveNow(opts),
    },
    node.signer,
  );
}

/** Decodes a receipt without trusting it (see verifyReceipt). */
export function decodeReceipt(bytes: Uint8Array): Signed<ReceiptBody> {
  return receiptType.decode(bytes);
}

export interface ReceiptCheck extends TimeOptions {
  op?: ReceiptOp;
  nodeId?: Uint8Array;
  policyDigest?: Uint8Array;
  kfragId?: Uint8Array;
}

/**
 * Checks the node's signature (by the key the node id names), the time and the caller's
 * expectations. Throws DecodeError, SignatureError, NotYetValidError or
 * RecordMismatchError.
 */
export function verifyReceipt(
  input: Uint8Array | Signed<ReceiptBody>,
  check: ReceiptCheck = {},
): VerifiedReceipt {
  const now = resolveNow(check);
  const signed = asSigned(receiptType, input);
  const body = signed.body;
  signed.assertSignedBy(nodeKey(body.node));
  assertNotFuture('receipt.time', body.time, now);
  if (check.op !== undefined && check.op !== body.op) {
    throw new RecordMismatchError('receipt.op', `expected "${check.op}", got "${body.op}"`);
  }
  const expect = (field: 'node' | 'policy' | 'kfrag', want: Uint8Array | undefined, name: string) => {
    if (want === undefined) return;
    assertBytes(name, want);
    if (!bytesEqual(want, body[field]))
      throw new RecordMismatchError(`receipt.${field}`, `not the expected ${name}`);
  };
  expect('node', check.nodeId, 'nodeId');
  expect('policy', check.policyDigest, 'policyDigest');
  expect('kfrag', check.kfragId, 'kfragId');
  return new VerifiedRecord(RECORD_CHECKED, signed);
}
