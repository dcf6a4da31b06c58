import { z } from '../codec/schema.js';
import { errorReplySchema } from './errors.js';

/**
 * A reply schema: the success shape or the common error shape. Each shape forbids the other's
 * keys, so a reply carrying both a result and an error is malformed rather than read as either;
 * unknown keys are otherwise ignored (a newer minor may append optional fields).
 */
export function replyOf<S extends z.ZodRawShape>(shape: S) {
  const ok = z.object({ ...shape, error: z.never().optional() });
  const absent = Object.fromEntries(Object.keys(shape).map((k) => [k, z.never().optional()]));
  // The extra keys only ever parse as absent, so the output is exactly an ErrorReply.
  const error = errorReplySchema.extend(absent) as unknown as typeof errorReplySchema;
  return z.union([ok, error]);
}
