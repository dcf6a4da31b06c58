/**
 * The batched re-encrypt exchange (DESIGN.md "Decrypt"). A request item is one file: the path
 * hash and capsule of each of its prefix levels, root first (the order of the file header). The
 * node looks through the levels deepest first (last to first) and re-encrypts with the first
 * level it holds a live policy for, and says which. A reader that knows its policy from the map
 * sends that policy id and only that level, so the answer is deterministic and says nothing
 * about deeper levels.
 *
 * The decoder checks lengths, counts and uniqueness only. Capsules are parsed (Umbral's
 * self-check) by the handler, for the one level it uses: parsing every capsule of a batch up
 * front would let a request cost thousands of point decompressions for nothing. A capsule that
 * fails then is that item's BAD_CAPSULE, not a malformed request.
 */
import { MessageType } from '../codec/envelope.js';
import { u32, z } from '../codec/schema.js';
import { DecodeError } from '../errors.js';
import { wireErrorCodeSchema } from './errors.js';
import { bin, bytesEqual, toHex, WIRE_SIZES } from './fields.js';
import { PROTOCOL_LIMITS, REENCRYPT_MAX_ITEMS, REENCRYPT_MAX_TOTAL_LEVELS } from './protocols.js';
import { replyOf } from './reply.js';

export const reencryptLevelSchema = z.object({
  pathHash: bin(WIRE_SIZES.pathHash),
  capsule: bin(WIRE_SIZES.capsule),
});
export type ReencryptLevel = z.infer<typeof reencryptLevelSchema>;

export const reencryptItemSchema = z
  .object({
    /** The client's id for the item, echoed in the reply; unique within a request. */
    id: u32,
    /** Root first; 1..65 levels, distinct path hashes. */
    levels: z.array(reencryptLevelSchema).min(1).max(WIRE_SIZES.maxLevels),
    /** When the reader knows its policy: exactly one level is sent, and only that policy is used. */
    policyId: bin(WIRE_SIZES.policyId).optional(),
  })
  .superRefine((item, ctx) => {
    if (item.policyId !== undefined && item.levels.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['levels'],
        message: `an item with a policy id carries exactly one level, got ${item.levels.length}`,
      });
    }
    const seen = new Set<string>();
    item.levels.forEach((level, i) => {
      const h = toHex(level.pathHash);
      if (seen.has(h))
        ctx.addIssue({ code: 'custom', path: ['levels', i, 'pathHash'], message: 'duplicate' });
      seen.add(h);
    });
  });
export type ReencryptItem = z.infer<typeof reencryptItemSchema>;

function uniqueIds(items: readonly { id: number }[], ctx: z.RefinementCtx, at: string[]): void {
  const seen = new Set<number>();
  items.forEach((item, i) => {
    if (seen.has(item.id))
      ctx.addIssue({ code: 'custom', path: [...at, i, 'id'], message: `duplicate item id ${item.id}` });
    seen.add(item.id);
  });
}

export const reencryptRequestSchema = z
  .object({ items: z.array(reencryptItemSchema).min(1).max(REENCRYPT_MAX_ITEMS) })
  .superRefine((req, ctx) => {
    uniqueIds(req.items, ctx, ['items']);
    const total = req.items.reduce((n, item) => n + item.levels.length, 0);
    if (total > REENCRYPT_MAX_TOTAL_LEVELS) {
      ctx.addIssue({
        code: 'custom',
        path: ['items'],
        message: `${total} levels in all, over the limit of ${REENCRYPT_MAX_TOTAL_LEVELS}`,
      });
    }
  });
export type ReencryptRequest = z.infer<typeof reencryptRequestSchema>;

/** A re-encrypted item: the cfrag, the policy whose kfrag made it and the level index it used. */
export const reencryptResultSchema = z.object({
  id: u32,
  cfrag: bin(WIRE_SIZES.cfrag),
  policyId: bin(WIRE_SIZES.policyId),
  /** Index into the request item's `levels`. */
  level: z
    .number()
    .int()
    .min(0)
    .max(WIRE_SIZES.maxLevels - 1),
  error: z.never().optional(),
});
/** An item the node did not re-encrypt: NOT_FOUND, REVOKED, EXPIRED, BAD_CAPSULE, ... */
export const reencryptFailureSchema = z.object({
  id: u32,
  error: wireErrorCodeSchema,
  cfrag: z.never().optional(),
});
export const reencryptReplyItemSchema = z.union([reencryptResultSchema, reencryptFailureSchema]);
export type ReencryptResult = z.infer<typeof reencryptResultSchema>;
export type ReencryptFailure = z.infer<typeof reencryptFailureSchema>;
export type ReencryptReplyItem = z.infer<typeof reencryptReplyItemSchema>;

export const reencryptReplySchema = replyOf({
  /** One per request item, in the request's order. */
  items: z
    .array(reencryptReplyItemSchema)
    .min(1)
    .max(REENCRYPT_MAX_ITEMS)
    .superRefine((items, ctx) => uniqueIds(items, ctx, [])),
});
export type ReencryptReply = z.infer<typeof reencryptReplySchema>;

export const ReencryptRequest = new MessageType<ReencryptRequest>(
  'reencrypt.req',
  reencryptRequestSchema,
  0,
  PROTOCOL_LIMITS.reencrypt.maxRequestBytes,
);
export const ReencryptReply = new MessageType<ReencryptReply>(
  'reencrypt.res',
  reencryptReplySchema,
  0,
  PROTOCOL_LIMITS.reencrypt.maxResponseBytes,
);

/** True when the reply item carries a cfrag. */
export function isReencryptResult(item: ReencryptReplyItem): item is ReencryptResult {
  return item.error === undefined;
}

/**
 * Client side: checks that a decoded success reply answers `request`: one item per request item
 * in the same order and with the same ids, levels within the item's levels, and, where the
 * item named its policy, that policy at level 0. Throws DecodeError naming the item otherwise.
 * (The cfrags themselves are checked by `CapsuleFrag.verify`, which this does not replace.)
 */
export function checkReencryptReply(
  request: ReencryptRequest,
  reply: { readonly items: readonly ReencryptReplyItem[] },
): void {
  if (reply.items.length !== request.items.length) {
    throw new DecodeError(
      'reencrypt.res.items',
      `expected ${request.items.length} items, got ${reply.items.length}`,
    );
  }
  reply.items.forEach((got, i) => {
    const asked = request.items[i];
    const field = `reencrypt.res.items.${i}`;
    if (got.id !== asked.id) throw new DecodeError(`${field}.id`, `expected id ${asked.id}, got ${got.id}`);
    if (!isReencryptResult(got)) return;
    if (got.level >= asked.levels.length) {
      throw new DecodeError(`${field}.level`, `level ${got.level} of an item with ${asked.levels.length}`);
    }
    if (asked.policyId !== undefined && !bytesEqual(asked.policyId, got.policyId)) {
      throw new DecodeError(`${field}.policyId`, 'not the policy the request named');
    }
  });
}
