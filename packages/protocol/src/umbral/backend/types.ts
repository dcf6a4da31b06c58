/**
 * The small interface every curve backend implements (issue #2): the Umbral code above it
 * never touches a curve library directly. Points are opaque handles owned by one backend;
 * `null` stands for the identity point, which no encoding can carry.
 *
 * Scalars are bigints in [0, n). `secret` marks a scalar whose timing must not leak: backends
 * use constant-time multiplication for it and may use faster variable-time code otherwise
 * (verification equations, where every scalar is public).
 */

export type BackendName = 'native' | 'noble';

declare const pointBrand: unique symbol;
/** A point in one backend's own representation. Never mix handles of two backends. */
export type Point = { readonly [pointBrand]: true };

export interface LinearEquation {
  points: Point[];
  scalars: bigint[];
}

export interface CurveBackend {
  readonly name: BackendName;
  /** Decodes a 33-byte compressed SEC1 point; undefined if it is not a valid curve point. */
  decode(bytes: Uint8Array): Point | undefined;
  /** The 33-byte compressed SEC1 encoding. */
  encode(p: Point): Uint8Array;
  /** k*G. */
  mulG(k: bigint, secret: boolean): Point | null;
  /** k*U, U being Umbral's second generator (UMBRAL.md), with a precomputed table. */
  mulU(k: bigint, secret: boolean): Point | null;
  /** k*P. */
  mul(p: Point, k: bigint, secret: boolean): Point | null;
  add(a: Point | null, b: Point | null): Point | null;
  negate(p: Point | null): Point | null;
  /** sum of scalars[i]*points[i], all scalars public (variable time; multi-scalar where it pays). */
  linearCombination(points: Point[], scalars: bigint[]): Point | null;
  /**
   * True when every equation's combination sum(scalars[i] * points[i]) is the identity. All
   * scalars are public. A backend may check them one by one or as one random-weighted batch
   * (a false "true" then has probability about 2^-128).
   */
  combinationsVanish(equations: LinearEquation[]): boolean;

  /** Whether a*P + b*G equals `target`; public scalars (capsule checks). */
  mulAddGEquals(p: Point, a: bigint, b: bigint, target: Point | null): boolean;
  equals(a: Point | null, b: Point | null): boolean;
  /** ECDSA over a 32-byte digest, RFC 6979 nonce hedged with `hedge` (32 bytes), low-S, r||s. */
  sign(digest: Uint8Array, secretKey: Uint8Array, hedge: Uint8Array): Uint8Array;
  /**
   * ECDSA verification of a low-S r||s signature over a 32-byte digest. `keyBytes`, the key's
   * encoding, lets a backend recognise a key it verified with before (noble caches tables).
   */
  verify(signature: Uint8Array, digest: Uint8Array, publicKey: Point, keyBytes?: Uint8Array): boolean;
}
