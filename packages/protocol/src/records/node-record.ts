/**
 * The node record (DESIGN.md "Signed records", "Nodes"): what a node publishes in the DHT and
 * refreshes, so owners can find it, reach it, and know whether it can hold a policy until
 * its expiry.
 *
 * Envelope ["node-record", 1, 0, [body bytes, signature (64)]]; the body is a MessagePack map:
 *
 * | key         | type                       | meaning                                          |
 * |-------------|----------------------------|--------------------------------------------------|
 * | peer        | str, 1..128 chars          | libp2p PeerId, text form (opaque here)           |
 * | card        | bin 67                     | node's card; its signing key is the node id      |
 * | addrs       | array <= 32 of str <= 256  | multiaddrs (opaque strings here)                 |
 * | maxLifetime | uint (seconds)             | longest policy lifetime the node accepts         |
 * | capacity    | uint                       | most policies the node holds                     |
 * | version     | str, 1..64 chars           | software version                                 |
 * | seq         | uint (<= 2^53 - 1)         | sequence number: a record replaces one with a lower seq |
 * | expiry      | uint (Unix s)              | valid while now < expiry                         |
 *
 * Verification: signature by the card's signing key; not expired. The node layer must also
 * check that `peer` is the PeerId of the card's signing key (libp2p is not a dependency here)
 * and that the record came under that key's DHT record key. Sequence ordering is ours, not
 * the DHT's: see isNewerNodeRecord.
 */
import type { Signed } from '../codec/envelope.js';
import { SignedType } from '../codec/envelope.js';
import { safeUint, unixSeconds, z } from '../codec/schema.js';
import { InvalidArgumentError } from '../errors.js';
import { Card } from '../identity/card.js';
import type { Identity } from '../identity/identity.js';
import {
  asSigned,
  assertIdentity,
  assertNodeId,
  assertNotExpired,
  bytesEqual,
  cardSchema,
  RECORD_CHECKED,
  RECORD_TAGS,
  RecordMismatchError,
  resolveNow,
  signRecord,
  type TimeOptions,
  VerifiedRecord,
} from './common.js';

export const MAX_NODE_ADDRS = 32;
export const MAX_ADDR_CHARS = 256;
export const MAX_PEER_ID_CHARS = 128;
export const MAX_VERSION_CHARS = 64;
/** 32 addresses of 256 characters come to ~8.5 KB. */
export const NODE_RECORD_MAX_BYTES = 16 * 1024;

export const nodeRecordSchema = z.object({
  peer: z.string().min(1).max(MAX_PEER_ID_CHARS),
  card: cardSchema,
  addrs: z.array(z.string().min(1).max(MAX_ADDR_CHARS)).max(MAX_NODE_ADDRS),
  maxLifetime: safeUint,
  capacity: safeUint,
  version: z.string().min(1).max(MAX_VERSION_CHARS),
  seq: safeUint,
  expiry: unixSeconds,
});

export type NodeRecordBody = z.infer<typeof nodeRecordSchema>;

export const nodeRecordType = new SignedType<NodeRecordBody>(
  RECORD_TAGS.nodeRecord,
  nodeRecordSchema,
  0,
  NODE_RECORD_MAX_BYTES,
);

/** A checked node record, with its card parsed. */
export class VerifiedNodeRecord extends VerifiedRecord<NodeRecordBody> {
  readonly card: Card;

  /** @internal */
  constructor(token: typeof RECORD_CHECKED, signed: Signed<NodeRecordBody>) {
    super(token, signed);
    this.card = Card.fromBytes(signed.body.card);
  }

  /** The node id: the card's compressed signing key. */
  get nodeId(): Uint8Array {
    return this.card.signingKey.toCompressedBytes();
  }
}

export type NodeRecordInit = Omit<NodeRecordBody, 'card'>;

/** Signs the node's record with its card. */
export function makeNodeRecord(node: Identity, init: NodeRecordInit): Signed<NodeRecordBody> {
  assertIdentity('node', node);
  if (init === null || typeof init !== 'object')
    throw new InvalidArgumentError('node record', 'expected an object');
  return signRecord(
    nodeRecordType,
    {
      peer: init.peer,
      card: node.card.bytes,
      addrs: init.addrs,
      maxLifetime: init.maxLifetime,
      capacity: init.capacity,
      version: init.version,
      seq: init.seq,
      expiry: init.expiry,
    },
    node.signer,
  );
}

/** Decodes a node record without trusting it (see verifyNodeRecord). */
export function decodeNodeRecord(bytes: Uint8Array): Signed<NodeRecordBody> {
  return nodeRecordType.decode(bytes);
}

export interface NodeRecordCheck extends TimeOptions {
  /** The node the record must be of (e.g. from the DHT key it came under). */
  nodeId?: Uint8Array;
}

/**
 * Checks the signature by the card's signing key, that it is not expired, and the expected
 * node. Throws DecodeError, SignatureError, ExpiredError or RecordMismatchError.
 */
export function verifyNodeRecord(
  input: Uint8Array | Signed<NodeRecordBody>,
  check: NodeRecordCheck = {},
): VerifiedNodeRecord {
  const now = resolveNow(check);
  const signed = asSigned(nodeRecordType, input);
  const card = Card.fromBytes(signed.body.card);
  signed.assertSignedBy(card.signingKey);
  assertNotExpired('node-record.expiry', signed.body.expiry, now);
  if (check.nodeId !== undefined) {
    assertNodeId('nodeId', check.nodeId);
    if (!bytesEqual(check.nodeId, card.signingKey.toCompressedBytes())) {
      throw new RecordMismatchError('node-record.card', 'the record of another node');
    }
  }
  return new VerifiedNodeRecord(RECORD_CHECKED, signed);
}

type NodeRecordLike = Signed<NodeRecordBody> | VerifiedRecord<NodeRecordBody>;

function bodyOf(r: NodeRecordLike, field: string): NodeRecordBody {
  if (r instanceof VerifiedRecord) return r.body;
  if (r !== null && typeof r === 'object' && r.type === nodeRecordType) return r.body;
  throw new InvalidArgumentError(field, 'expected a node record');
}

/**
 * Whether `a` replaces `b`: both of the same node (same card signing key), a with the higher
 * sequence number. Records of two different nodes are not comparable: InvalidArgumentError.
 */
export function isNewerNodeRecord(a: NodeRecordLike, b: NodeRecordLike): boolean {
  const ba = bodyOf(a, 'a');
  const bb = bodyOf(b, 'b');
  // Bytes 1..34 of a card are its signing key (identity/card.ts).
  if (!bytesEqual(ba.card.subarray(1, 34), bb.card.subarray(1, 34))) {
    throw new InvalidArgumentError('node record', 'records of two different nodes are not comparable');
  }
  return ba.seq > bb.seq;
}

/** Whether the node accepts a policy expiring at `expiry`, as of now (DESIGN.md "Grant" step 2). */
export function nodeCanHold(
  record: VerifiedRecord<NodeRecordBody>,
  expiry: number,
  opts: TimeOptions = {},
): boolean {
  if (!(record instanceof VerifiedRecord)) {
    throw new InvalidArgumentError('record', 'expected a verified node record');
  }
  const now = resolveNow(opts);
  const body = record.body;
  return now < body.expiry && expiry > now && expiry - now <= body.maxLifetime;
}
