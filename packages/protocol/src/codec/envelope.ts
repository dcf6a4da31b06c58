import { sha256 } from '@noble/hashes/sha2.js';
import { DecodeError, InvalidArgumentError, SignatureError, UnsupportedVersionError } from '../errors.js';
import { assertPublicKey, type PublicKey } from '../umbral/keys.js';
import { Signature, type Signer } from '../umbral/signature.js';
import { pack, unpack } from './msgpack.js';
import { parseWith, type z } from './schema.js';

/**
 * The versioned envelope every message and stored object travels in (DESIGN.md "Versions"):
 * MessagePack [type tag, major, minor, body]. One suite per major version; a newer minor only
 * appends optional fields, so a body is a map and unknown keys are ignored.
 */
export const PROTOCOL_MAJOR = 1;

/** Default cap on one encoded object; messages set their own. */
export const DEFAULT_MAX_BYTES = 64 * 1024;

export interface TypeInfo {
  /** Type tag, e.g. 'policy' or 'reencrypt.req'. */
  readonly tag: string;
  /** The minor version this build writes. */
  readonly minor: number;
  /** Largest encoding accepted. */
  readonly maxBytes: number;
}

function openEnvelope(bytes: Uint8Array, info: TypeInfo): unknown {
  const v = unpack(bytes, info.tag, info.maxBytes);
  if (!Array.isArray(v) || v.length !== 4)
    throw new DecodeError(info.tag, 'not a [tag, major, minor, body] envelope');
  const [tag, major, minor, body] = v as unknown[];
  if (tag !== info.tag) throw new DecodeError(info.tag, `wrong type tag ${JSON.stringify(tag)}`);
  if (!Number.isSafeInteger(major) || !Number.isSafeInteger(minor) || (minor as number) < 0) {
    throw new DecodeError(info.tag, 'bad version numbers');
  }
  if (major !== PROTOCOL_MAJOR) throw new UnsupportedVersionError(info.tag, major as number);
  return body;
}

/** Reads the type tag of an envelope without decoding its body (for dispatch). */
export function peekTag(bytes: Uint8Array, maxBytes: number): string {
  const v = unpack(bytes, 'envelope', maxBytes);
  if (!Array.isArray(v) || v.length !== 4 || typeof v[0] !== 'string') {
    throw new DecodeError('envelope', 'not a [tag, major, minor, body] envelope');
  }
  return v[0];
}

/** A message type: its schema and its envelope. */
export class MessageType<T> implements TypeInfo {
  constructor(
    readonly tag: string,
    readonly schema: z.ZodType<T>,
    readonly minor = 0,
    readonly maxBytes = DEFAULT_MAX_BYTES,
  ) {}

  encode(value: T): Uint8Array {
    const checked = parseWith(this.schema, value, this.tag);
    return pack([this.tag, PROTOCOL_MAJOR, this.minor, checked]);
  }

  decode(bytes: Uint8Array): T {
    return parseWith(this.schema, openEnvelope(bytes, this), this.tag);
  }
}

/** The domain-separated message a record signature covers: "thresh/v1/" || tag || 0x00 || body. */
export function signingMessage(tag: string, body: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`thresh/v${PROTOCOL_MAJOR}/${tag}\u0000`);
  const out = new Uint8Array(prefix.length + body.length);
  out.set(prefix);
  out.set(body, prefix.length);
  return out;
}

/**
 * A signed record as it travels and is stored: the body's own MessagePack bytes plus an
 * ECDSA signature over SHA-256(signingMessage(tag, body bytes)) (DESIGN.md "Signed records").
 * Nothing is re-encoded before verifying. Decoding does not verify: call `verify(key)` (the
 * expected signer is a field of the body, or known from context).
 */
export class Signed<T> {
  constructor(
    readonly type: SignedType<T>,
    readonly body: T,
    readonly bodyBytes: Uint8Array,
    readonly signature: Signature,
    readonly bytes: Uint8Array,
  ) {}

  /** SHA-256 of the whole encoded record: what other records refer to it by. */
  digest(): Uint8Array {
    return sha256(this.bytes);
  }

  verify(signerKey: PublicKey): boolean {
    assertPublicKey(signerKey, 'signer key');
    return this.signature.verify(signerKey, signingMessage(this.type.tag, this.bodyBytes));
  }

  /** Throws SignatureError unless the signature verifies under `signerKey`. */
  assertSignedBy(signerKey: PublicKey): this {
    if (!this.verify(signerKey)) throw new SignatureError(`${this.type.tag}: signature does not verify`);
    return this;
  }
}

export class SignedType<T> implements TypeInfo {
  constructor(
    readonly tag: string,
    readonly schema: z.ZodType<T>,
    readonly minor = 0,
    readonly maxBytes = DEFAULT_MAX_BYTES,
  ) {}

  sign(body: T, signer: Signer): Signed<T> {
    const checked = parseWith(this.schema, body, this.tag);
    const bodyBytes = pack(checked);
    const signature = signer.sign(signingMessage(this.tag, bodyBytes));
    const bytes = pack([this.tag, PROTOCOL_MAJOR, this.minor, [bodyBytes, signature.toBEBytes()]]);
    if (bytes.length > this.maxBytes) {
      throw new InvalidArgumentError(this.tag, `encodes to ${bytes.length} bytes, over ${this.maxBytes}`);
    }
    return new Signed(this, checked, bodyBytes, signature, bytes);
  }

  decode(bytes: Uint8Array): Signed<T> {
    const inner = openEnvelope(bytes, this);
    if (!Array.isArray(inner) || inner.length !== 2)
      throw new DecodeError(this.tag, 'expected [body, signature]');
    const [bodyBytes, sigBytes] = inner as unknown[];
    if (!(bodyBytes instanceof Uint8Array)) throw new DecodeError(`${this.tag}.body`, 'expected binary data');
    if (!(sigBytes instanceof Uint8Array))
      throw new DecodeError(`${this.tag}.signature`, 'expected binary data');
    const signature = Signature.fromBEBytes(sigBytes);
    const body = parseWith(this.schema, unpack(bodyBytes, `${this.tag}.body`, this.maxBytes), this.tag);
    return new Signed(this, body, bodyBytes.slice(), signature, bytes.slice());
  }
}
