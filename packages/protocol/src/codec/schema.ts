import { z } from 'zod';
import { DecodeError } from '../errors.js';

/**
 * Schema building blocks shared by every record and message: binary fields with exact or
 * bounded lengths, Unix-second timestamps, bounded arrays. One zod schema per message gives
 * both its TypeScript type and its validator.
 */
export { z };

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;

/** A binary field of exactly `len` bytes, or between min and max. */
export function bytes(len?: number | { min?: number; max: number }) {
  return z.custom<Uint8Array>(isBytes, { message: 'expected binary data' }).check((ctx) => {
    const n = ctx.value.length;
    if (typeof len === 'number' && n !== len) {
      ctx.issues.push({ code: 'custom', message: `expected ${len} bytes, got ${n}`, input: ctx.value });
    } else if (typeof len === 'object' && (n < (len.min ?? 0) || n > len.max)) {
      ctx.issues.push({
        code: 'custom',
        message: `expected ${len.min ?? 0}..${len.max} bytes, got ${n}`,
        input: ctx.value,
      });
    }
  });
}

/** Unix seconds (UTC), as a safe non-negative integer. */
export const unixSeconds = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const u8 = z.number().int().min(0).max(0xff);
export const u16 = z.number().int().min(0).max(0xffff);
export const u32 = z.number().int().min(0).max(0xffffffff);
export const safeUint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** Parses with `schema`, turning any failure into a DecodeError naming the field path. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue.path.length ? `${what}.${issue.path.join('.')}` : what;
  throw new DecodeError(path, issue.message);
}
