/**
 * Typed errors of @thresh/protocol. Every error has a stable `name` and `code` (the code is
 * what crosses the wire), a message that names the field at fault, and wraps its cause.
 * Nothing in this package throws anything else on bad input.
 */

export type ErrorCode =
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_DECODE'
  | 'ERR_KFRAG_VERIFICATION'
  | 'ERR_CFRAG_VERIFICATION'
  | 'ERR_OPEN_REENCRYPTED'
  | 'ERR_DECRYPTION'
  | 'ERR_SIGNATURE'
  | 'ERR_INVALID_PATH'
  | 'ERR_UNSUPPORTED_VERSION'
  | 'ERR_TOO_LARGE'
  | 'ERR_WRONG_PASSPHRASE'
  | 'ERR_CORRUPT_KEY_FILE'
  | 'ERR_BACKEND_UNAVAILABLE'
  | 'ERR_EXPIRED'
  | 'ERR_NOT_YET_VALID'
  | 'ERR_RECORD_MISMATCH';

export abstract class ThreshError extends Error {
  abstract readonly code: ErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The caller passed something of the wrong type, length or range. */
export class InvalidArgumentError extends ThreshError {
  override readonly name = 'InvalidArgumentError';
  readonly code = 'ERR_INVALID_ARGUMENT';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

/** Bytes that do not decode to a valid object: wrong length, bad encoding, off-curve point, ... */
export class DecodeError extends ThreshError {
  override readonly name = 'DecodeError';
  readonly code = 'ERR_DECODE';
  constructor(
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${field}: ${message}`, options);
  }
}

export type KeyFragVerificationReason =
  | 'commitment'
  | 'signature'
  | 'delegating-key-missing'
  | 'receiving-key-missing'
  | 'delegating-key-unexpected'
  | 'receiving-key-unexpected';

/** A key fragment failed `KeyFrag.verify`. */
export class KeyFragVerificationError extends ThreshError {
  override readonly name = 'KeyFragVerificationError';
  readonly code = 'ERR_KFRAG_VERIFICATION';
  constructor(
    readonly reason: KeyFragVerificationReason,
    message?: string,
  ) {
    super(message ?? `key fragment verification failed: ${reason}`);
  }
}

export type CapsuleFragVerificationReason = 'signature' | 'proof';

/** A capsule fragment failed `CapsuleFrag.verify`: forged, or for another capsule or policy. */
export class CapsuleFragVerificationError extends ThreshError {
  override readonly name = 'CapsuleFragVerificationError';
  readonly code = 'ERR_CFRAG_VERIFICATION';
  constructor(
    readonly reason: CapsuleFragVerificationReason,
    message?: string,
  ) {
    super(message ?? `capsule fragment verification failed: ${reason}`);
  }
}

export type OpenReencryptedReason =
  | 'no-cfrags'
  | 'mismatched-cfrags'
  | 'repeating-cfrags'
  | 'zero-hash'
  | 'validation-failed';

/** The capsule fragments could not be combined (too few, mixed policies, repeated). */
export class OpenReencryptedError extends ThreshError {
  override readonly name = 'OpenReencryptedError';
  readonly code = 'ERR_OPEN_REENCRYPTED';
  constructor(
    readonly reason: OpenReencryptedReason,
    message?: string,
  ) {
    super(message ?? `cannot open re-encrypted capsule: ${reason}`);
  }
}

/** Authenticated decryption failed: wrong key, or the ciphertext or its context was altered. */
export class DecryptionError extends ThreshError {
  override readonly name = 'DecryptionError';
  readonly code = 'ERR_DECRYPTION';
}

/** A signature over a record did not verify. */
export class SignatureError extends ThreshError {
  override readonly name = 'SignatureError';
  readonly code = 'ERR_SIGNATURE';
}

/** A requested curve backend cannot be loaded here (e.g. native libsecp256k1 in a browser). */
export class BackendUnavailableError extends ThreshError {
  override readonly name = 'BackendUnavailableError';
  readonly code = 'ERR_BACKEND_UNAVAILABLE';
}

export type InvalidPathReason =
  | 'not-a-string'
  | 'not-absolute'
  | 'empty-segment'
  | 'dot-segment'
  | 'control-character'
  | 'not-nfc'
  | 'too-long'
  | 'too-deep'
  | 'segment-too-long';

/** A path that is not canonical (DESIGN.md "Paths and path keys"). */
export class InvalidPathError extends ThreshError {
  override readonly name = 'InvalidPathError';
  readonly code = 'ERR_INVALID_PATH';
  constructor(
    readonly reason: InvalidPathReason,
    message: string,
  ) {
    super(message);
  }
}

/** Input over a size, count or length cap. */
export class TooLargeError extends ThreshError {
  override readonly name = 'TooLargeError';
  readonly code = 'ERR_TOO_LARGE';
  constructor(
    readonly field: string,
    readonly limit: number,
    readonly actual: number,
  ) {
    super(`${field}: ${actual} is over the limit of ${limit}`);
  }
}

/** A message or stored object of a major version this code does not speak. */
export class UnsupportedVersionError extends ThreshError {
  override readonly name = 'UnsupportedVersionError';
  readonly code = 'ERR_UNSUPPORTED_VERSION';
  constructor(
    readonly tag: string,
    readonly major: number,
  ) {
    super(`${tag}: unsupported major version ${major} (this build speaks ${1})`);
  }
}

/** A key file opened with the wrong passphrase (the AEAD check value did not match). */
export class WrongPassphraseError extends ThreshError {
  override readonly name = 'WrongPassphraseError';
  readonly code = 'ERR_WRONG_PASSPHRASE';
}

/** A key file whose bytes are damaged (its checksum does not match), as opposed to a wrong passphrase. */
export class CorruptKeyFileError extends ThreshError {
  override readonly name = 'CorruptKeyFileError';
  readonly code = 'ERR_CORRUPT_KEY_FILE';
}

/** Every error of this package, by code: for decoding error replies that crossed the wire. */
export function isThreshError(e: unknown): e is ThreshError {
  return e instanceof ThreshError;
}

/** A record or policy past its expiry (judged by the local clock). */
export class ExpiredError extends ThreshError {
  override readonly name = 'ExpiredError';
  readonly code = 'ERR_EXPIRED';
  constructor(
    readonly field: string,
    readonly expiry: number,
    readonly now: number,
  ) {
    super(`${field}: expired at ${expiry} (now ${now})`);
  }
}

/** A record whose not-before lies further ahead than the allowed clock skew. */
export class NotYetValidError extends ThreshError {
  override readonly name = 'NotYetValidError';
  readonly code = 'ERR_NOT_YET_VALID';
  constructor(
    readonly field: string,
    readonly notBefore: number,
    readonly now: number,
  ) {
    super(`${field}: not valid before ${notBefore} (now ${now})`);
  }
}

/**
 * A well-formed, correctly signed record that does not fit its context: another policy,
 * another node, another reader, a node the policy does not name.
 */
export class RecordMismatchError extends ThreshError {
  override readonly name = 'RecordMismatchError';
  readonly code = 'ERR_RECORD_MISMATCH';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}
