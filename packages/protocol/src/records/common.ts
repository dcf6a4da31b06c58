/**
 * Helpers shared by the signed records (DESIGN.md "Signed records"): the type tags, the
 * schemas of ids, digests, keys and cards, the clock rules (ExpiredError / NotYetValidError
 * of errors.ts).
 *
 * Clock rules (DESIGN.md "Signed records"): times are Unix seconds (UTC); "now" is injectable
 * (`{ now }`) everywhere; a not-before or a creation time may be at most
 * MAX_CLOCK_SKEW_SECONDS ahead of now; a record is valid while now < expiry.
 */

import type { Signed, SignedType } from '../codec/envelope.js';
import { bytes, parseWith, type z } from '../codec/schema.js';
import { DecodeError, ExpiredError, InvalidArgumentError, NotYetValidError } from '../errors.js';
import { Card, cardBytes } from '../identity/card.js';
import { Identity } from '../identity/identity.js';
import { KeyFrag, VerifiedKeyFrag } from '../umbral/key-frag.js';
import { PublicKey } from '../umbral/keys.js';
import type { Signer } from '../umbral/signature.js';

/** Type tags of the records in this folder: the domain separator of their signatures. */
export const RECORD_TAGS = {
  policy: 'policy',
  assignment: 'assignment',
  sealedKFrag: 'sealed-kfrag',
  receipt: 'receipt',
  revocation: 'revocation',
  nodeRecord: 'node-record',
  handoff: 'handoff',
  policyMap: 'policy-map',
  sealedMap: 'sealed-map',
} as const;

export const MAX_CLOCK_SKEW_SECONDS = 300;
/** Nodes keep a revocation's tombstone until the policy's expiry plus this (DESIGN.md "Revoke"). */
export const TOMBSTONE_GRACE_SECONDS = 24 * 60 * 60;

export const POLICY_ID_BYTES = 16;
export const NODE_ID_BYTES = 33;
export const DIGEST_BYTES = 32;
export const KFRAG_ID_BYTES = 32;
export const KFRAG_BYTES = 310;
export const CAPSULE_BYTES = 105;

// ---------------------------------------------------------------------------------- errors

export { RecordMismatchError } from '../errors.js';

// ---------------------------------------------------------------------------------- clock

export interface TimeOptions {
  /** Unix seconds; defaults to the system clock. */
  now?: number;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** `opts.now` checked, or the system clock. */
export function resolveNow(opts: TimeOptions | undefined): number {
  const now = opts?.now;
  if (now === undefined) return nowSeconds();
  if (!Number.isSafeInteger(now) || now < 0) {
    throw new InvalidArgumentError('now', 'expected Unix seconds (a safe non-negative integer)');
  }
  return now;
}

/** Throws unless `at` (a not-before or creation time) is at most the skew ahead of now. */
export function assertNotFuture(field: string, at: number, now: number): void {
  if (at > now + MAX_CLOCK_SKEW_SECONDS) throw new NotYetValidError(field, at, now);
}

/** Throws once now >= expiry. */
export function assertNotExpired(field: string, expiry: number, now: number): void {
  if (now >= expiry) throw new ExpiredError(field, expiry, now);
}

// ---------------------------------------------------------------------------------- schemas

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/**
 * A binary field of exactly `len` bytes (or within bounds), copied out of the decoded buffer
 * so that a parsed record never aliases (or is a Buffer view of) the caller's input.
 */
export function bin(len?: number | { min?: number; max: number }) {
  return bytes(len).transform(copy);
}

function isPoint(b: Uint8Array): boolean {
  try {
    PublicKey.fromCompressedBytes(b);
    return true;
  } catch {
    return false;
  }
}

function isCard(b: Uint8Array): boolean {
  try {
    Card.fromBytes(b);
    return true;
  } catch {
    return false;
  }
}

/** A compressed secp256k1 point (33 bytes) that decodes. */
export const pointSchema = bytes(33)
  .refine(isPoint, { message: 'not a compressed secp256k1 point' })
  .transform(copy);

/** A node id: the node's 33-byte compressed signing public key (its PeerId derives from it). */
export const nodeIdSchema = pointSchema;
export const policyIdSchema = bin(POLICY_ID_BYTES);
/** A SHA-256 digest, e.g. a policy digest (SHA-256 of the whole signed policy record). */
export const digestSchema = bin(DIGEST_BYTES);
/** An Umbral kfrag id. */
export const kfragIdSchema = bin(KFRAG_ID_BYTES);
/** A card in its 67-byte binary form that parses. */
export const cardSchema = cardBytes.refine(isCard, { message: 'not a valid card' }).transform(copy);

// ---------------------------------------------------------------------------------- bytes

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** A short hex form for error messages. */
export function shortHex(b: Uint8Array): string {
  return toHex(b.subarray(0, 6));
}

export function assertBytes(field: string, v: unknown, len?: number): asserts v is Uint8Array {
  if (!(v instanceof Uint8Array)) throw new InvalidArgumentError(field, 'expected a Uint8Array');
  if (len !== undefined && v.length !== len) {
    throw new InvalidArgumentError(field, `expected ${len} bytes, got ${v.length}`);
  }
}

export function assertIdentity(field: string, v: unknown): asserts v is Identity {
  if (!(v instanceof Identity)) throw new InvalidArgumentError(field, 'expected an Identity');
}

export function assertCard(field: string, v: unknown): asserts v is Card {
  if (!(v instanceof Card)) throw new InvalidArgumentError(field, 'expected a Card');
}

// ---------------------------------------------------------------------------------- ids

/** The node id of a node's card: its compressed signing key. */
export function nodeIdOf(card: Card): Uint8Array {
  assertCard('card', card);
  return card.signingKey.toCompressedBytes();
}

/** The signing key a node id names; a malformed id is a DecodeError. */
export function nodeKey(nodeId: Uint8Array): PublicKey {
  if (!(nodeId instanceof Uint8Array)) throw new InvalidArgumentError('node id', 'expected a Uint8Array');
  if (nodeId.length !== NODE_ID_BYTES) {
    throw new DecodeError('node id', `expected ${NODE_ID_BYTES} bytes, got ${nodeId.length}`);
  }
  return PublicKey.fromCompressedBytes(nodeId);
}

/** Checks `v` is a node id (33 bytes, a point): for builder arguments. */
export function assertNodeId(field: string, v: unknown): asserts v is Uint8Array {
  assertBytes(field, v, NODE_ID_BYTES);
  if (!isPoint(v)) throw new InvalidArgumentError(field, 'not a compressed secp256k1 point');
}

/*
 * KeyFrag.toBytes() is rmp-serde's fixed layout (umbral/key-frag.ts, UMBRAL.md):
 *   [0] 0x95  [1] 0x91  [2..4) c4 21  [4..37) U
 *   [37..39) c4 20  [39..71) id
 *   [71..73) c4 20  [73..105) key (the secret share)
 *   [105..107) c4 21  [107..140) precursor
 *   [140] 0x95 proof: commitment, two signatures, then [308] delegating_key_signed,
 *   [309] receiving_key_signed (c2 false / c3 true).
 */
const KFRAG_ID_AT = 39;
const KFRAG_PRECURSOR_AT = 107;
const KFRAG_DELEGATING_SIGNED_AT = 308;
const KFRAG_RECEIVING_SIGNED_AT = 309;

function kfragLayout(kfrag: KeyFrag | VerifiedKeyFrag, pick: (b: Uint8Array) => Uint8Array): Uint8Array {
  if (!(kfrag instanceof KeyFrag) && !(kfrag instanceof VerifiedKeyFrag)) {
    throw new InvalidArgumentError('kfrag', 'expected a KeyFrag or VerifiedKeyFrag');
  }
  const b = kfrag.toBytes();
  try {
    return pick(b);
  } finally {
    b.fill(0); // the bytes hold the secret share
  }
}

/** The kfrag's 32-byte id (what assignments, receipts and handoffs name). */
export function kfragId(kfrag: KeyFrag | VerifiedKeyFrag): Uint8Array {
  return kfragLayout(kfrag, (b) => b.slice(KFRAG_ID_AT, KFRAG_ID_AT + KFRAG_ID_BYTES));
}

/** The kfrag's precursor (33 bytes): shared by every kfrag of one generation, so of one policy. */
export function kfragPrecursor(kfrag: KeyFrag | VerifiedKeyFrag): Uint8Array {
  return kfragLayout(kfrag, (b) => b.slice(KFRAG_PRECURSOR_AT, KFRAG_PRECURSOR_AT + 33));
}

/** The kfrag's sign flags: DESIGN.md asks sign_delegating_key = false, sign_receiving_key = true. */
export function kfragSignFlags(kfrag: KeyFrag | VerifiedKeyFrag): {
  delegatingKey: boolean;
  receivingKey: boolean;
} {
  const flags = kfragLayout(kfrag, (b) =>
    Uint8Array.of(b[KFRAG_DELEGATING_SIGNED_AT], b[KFRAG_RECEIVING_SIGNED_AT]),
  );
  return { delegatingKey: flags[0] === 0xc3, receivingKey: flags[1] === 0xc3 };
}

// ---------------------------------------------------------------------------------- signing

/**
 * Signs `body` as `type`. A body the schema rejects is the caller's mistake: it becomes an
 * InvalidArgumentError naming the field (decoders throw DecodeError for the same faults).
 */
export function signRecord<T>(type: SignedType<T>, body: T, signer: Signer, what = type.tag): Signed<T> {
  let checked: T;
  try {
    checked = parseWith(type.schema, body, what);
  } catch (e) {
    if (e instanceof DecodeError) throw new InvalidArgumentError(e.field, e.message, { cause: e });
    throw e;
  }
  return type.sign(checked, signer);
}

/** Bytes decoded as `type`, or a Signed already of that type, as it is (not verified). */
export function asSigned<T>(type: SignedType<T>, input: Uint8Array | Signed<T>): Signed<T> {
  if (input instanceof Uint8Array) return type.decode(input);
  if (input !== null && typeof input === 'object' && (input as Signed<T>).type === type) return input;
  throw new InvalidArgumentError(type.tag, `expected the bytes of a ${type.tag} record or a decoded one`);
}

/** @internal The token only this folder's verifiers hold. */
export const RECORD_CHECKED: unique symbol = Symbol('VerifiedRecord');

/**
 * A record whose signature and rules were checked by its verifier (verifyReceipt,
 * verifyRevocation, verifyNodeRecord, verifyHandoffCertificate). Only those make one.
 */
export class VerifiedRecord<T> {
  /** @internal */
  constructor(
    token: typeof RECORD_CHECKED,
    readonly signed: Signed<T>,
  ) {
    if (token !== RECORD_CHECKED) throw new InvalidArgumentError('record', 'use the verify function');
  }

  get body(): T {
    return this.signed.body;
  }

  get bytes(): Uint8Array {
    return this.signed.bytes;
  }

  digest(): Uint8Array {
    return this.signed.digest();
  }

  toString(): string {
    return `Verified:${this.signed.type.tag}`;
  }
}

/** A zod issue helper for cross-field rules in superRefine. */
export function issue(ctx: z.RefinementCtx, path: (string | number)[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}
