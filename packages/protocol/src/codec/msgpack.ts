import { Packr } from 'msgpackr';
import { DecodeError, TooLargeError } from '../errors.js';

/**
 * The one msgpackr configuration of the whole project (DESIGN.md "Versions"): plain maps as
 * objects, no records/structures extension, binary fields as bin. Nothing else in thresh
 * creates a Packr.
 */
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  variableMapSize: true,
  moreTypes: false,
  bundleStrings: false,
});

export function pack(value: unknown): Uint8Array {
  const out = packr.pack(value);
  // msgpackr hands back a Buffer over a shared pool on Node: give callers their own bytes.
  return new Uint8Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength));
}

/** Decodes exactly one MessagePack value of at most `maxBytes`; anything else is a typed error. */
export function unpack(bytes: Uint8Array, what: string, maxBytes: number): unknown {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError(what, 'expected a Uint8Array');
  if (bytes.length > maxBytes) throw new TooLargeError(what, maxBytes, bytes.length);
  if (bytes.length === 0) throw new DecodeError(what, 'empty input');
  try {
    // A fresh view: msgpackr caches a `dataView` property on the array it is given.
    return packr.unpack(bytes.subarray(0));
  } catch (cause) {
    // msgpackr throws plain Errors (and RangeError on absurd nesting): wrap them all.
    throw new DecodeError(what, `malformed MessagePack: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}
