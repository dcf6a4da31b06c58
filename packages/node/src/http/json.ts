/**
 * The JSON form of wire messages for HTTP callers that do not speak msgpack (browsers, curl):
 * the same fields, binary ones as standard base64 with padding (RFC 4648 section 4). JSON is
 * only a transport form: a request is converted to bytes and then checked by the very schema
 * the msgpack envelope is checked by, so both forms accept exactly the same requests.
 */
import {
  type ErrorReply,
  parseWith,
  REENCRYPT_MAX_ITEMS,
  type ReencryptReply,
  type ReencryptRequest,
  reencryptRequestSchema,
  WIRE_SIZES,
  z,
} from '@thresh/protocol';

/** Canonical base64 (padded, no whitespace, zero trailing bits) to bytes, or undefined. */
export function fromBase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) return undefined;
  // A plain Uint8Array that owns its memory (small Buffers share Node's pool).
  return new Uint8Array(b);
}

export function toBase64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/**
 * A base64 string field decoded to bytes. `maxBytes` only bounds the work before the wire
 * schema checks the exact length (and names it in its message).
 */
export function base64Field(maxBytes: number) {
  return z
    .string()
    .max(Math.ceil((2 * maxBytes) / 3) * 4 + 4)
    .transform((s, ctx) => {
      const bytes = fromBase64(s);
      if (bytes === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected standard base64 with padding' });
        return z.NEVER;
      }
      return bytes;
    });
}

const levelJson = z.object({
  pathHash: base64Field(WIRE_SIZES.pathHash),
  capsule: base64Field(WIRE_SIZES.capsule),
});

const reencryptJson = z.object({
  items: z
    .array(
      z.object({
        // checked by the wire schema (u32)
        id: z.unknown(),
        levels: z.array(levelJson).max(WIRE_SIZES.maxLevels),
        policyId: base64Field(WIRE_SIZES.policyId).optional(),
      }),
    )
    .max(REENCRYPT_MAX_ITEMS),
});

/** A JSON reencrypt request body to the checked wire request; DecodeError (MALFORMED) if not one. */
export function reencryptRequestFromJson(body: unknown): ReencryptRequest {
  const converted = parseWith(reencryptJson, body, 'reencrypt.req');
  return parseWith(reencryptRequestSchema, converted, 'reencrypt.req');
}

export type ReencryptReplyItemJson =
  | { id: number; cfrag: string; policyId: string; level: number }
  | { id: number; error: string };

export interface ReencryptReplyJson {
  items: ReencryptReplyItemJson[];
}

/** A success reply in JSON form (error replies are sent as HTTP errors). */
export function reencryptReplyToJson(reply: Exclude<ReencryptReply, ErrorReply>): ReencryptReplyJson {
  return {
    items: reply.items.map((item) =>
      item.error === undefined
        ? { id: item.id, cfrag: toBase64(item.cfrag), policyId: toBase64(item.policyId), level: item.level }
        : { id: item.id, error: item.error },
    ),
  };
}
