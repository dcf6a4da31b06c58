import type { DecodeError, InvalidArgumentError } from '../errors.js';

type FieldError = typeof DecodeError | typeof InvalidArgumentError;

/** Labelled guard (noble's abytes): a Uint8Array, of `length` bytes when given. */
export function abytes(
  value: unknown,
  field: string,
  E: FieldError,
  length?: number,
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new E(field, 'expected a Uint8Array');
  if (length !== undefined && value.length !== length) {
    throw new E(field, `expected ${length} bytes, got ${value.length}`);
  }
}

export function hex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return s;
}
