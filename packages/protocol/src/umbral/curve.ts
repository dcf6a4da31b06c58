import { DecodeError } from '../errors.js';
import { backend } from './backend/index.js';
import type { CurveBackend, Point } from './backend/types.js';

/**
 * A curve point independent of the backend that made it: it keeps its compressed bytes and
 * the handle of the backend that last used it, converting when the backend changes (tests run
 * both backends in one process). The identity is a valid value here but has no encoding.
 */
export class CurvePoint {
  #bytes: Uint8Array | undefined;
  #handle: Point | null | undefined;
  #owner: CurveBackend | undefined;

  private constructor(bytes: Uint8Array | undefined, handle: Point | null | undefined, owner?: CurveBackend) {
    this.#bytes = bytes;
    this.#handle = handle;
    this.#owner = owner;
  }

  static identity(): CurvePoint {
    return new CurvePoint(undefined, null);
  }

  /** Parses a 33-byte compressed point; rejects other lengths, uncompressed and off-curve points. */
  static fromBytes(bytes: Uint8Array, field = 'point'): CurvePoint {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError(field, 'expected a Uint8Array');
    if (bytes.length !== 33)
      throw new DecodeError(field, `expected 33 bytes (compressed), got ${bytes.length}`);
    const b = backend();
    const handle = b.decode(bytes);
    if (handle === undefined) throw new DecodeError(field, 'not a valid compressed secp256k1 point');
    return new CurvePoint(bytes.slice(), handle, b);
  }

  static fromHandle(b: CurveBackend, handle: Point | null): CurvePoint {
    return new CurvePoint(undefined, handle, b);
  }

  /** This point as a handle of backend `b`. */
  handle(b: CurveBackend = backend()): Point | null {
    if (this.#owner === b && this.#handle !== undefined) return this.#handle;
    if (this.#bytes === undefined) {
      if (this.#handle === null) return null; // identity is the same everywhere
      this.#bytes = this.#owner!.encode(this.#handle!);
    }
    const h = b.decode(this.#bytes);
    if (h === undefined) throw new Error('internal: a point failed to convert between backends');
    this.#owner = b;
    this.#handle = h;
    return h;
  }

  isIdentity(): boolean {
    return this.#bytes === undefined && this.#handle === null;
  }

  /** The 33-byte compressed encoding (a fresh copy is not made: do not mutate). */
  toBytes(): Uint8Array {
    if (this.#bytes === undefined) {
      if (this.#handle === null || this.#handle === undefined) {
        throw new Error('internal: the identity point has no encoding');
      }
      this.#bytes = this.#owner!.encode(this.#handle);
    }
    return this.#bytes;
  }

  mul(k: bigint, secret: boolean): CurvePoint {
    const b = backend();
    const h = this.handle(b);
    return CurvePoint.fromHandle(b, h === null ? null : b.mul(h, k, secret));
  }

  add(other: CurvePoint): CurvePoint {
    const b = backend();
    return CurvePoint.fromHandle(b, b.add(this.handle(b), other.handle(b)));
  }

  negate(): CurvePoint {
    const b = backend();
    return CurvePoint.fromHandle(b, b.negate(this.handle(b)));
  }

  equals(other: CurvePoint): boolean {
    if (this.#bytes !== undefined && other.#bytes !== undefined) return bytesEqual(this.#bytes, other.#bytes);
    const b = backend();
    return b.equals(this.handle(b), other.handle(b));
  }
}

export function mulG(k: bigint, secret: boolean): CurvePoint {
  const b = backend();
  return CurvePoint.fromHandle(b, b.mulG(k, secret));
}

export function mulU(k: bigint, secret: boolean): CurvePoint {
  const b = backend();
  return CurvePoint.fromHandle(b, b.mulU(k, secret));
}

/** sum of scalars[i] * points[i] with public scalars (variable time). */
export function linearCombination(points: CurvePoint[], scalars: bigint[]): CurvePoint {
  const b = backend();
  const handles: Point[] = [];
  const ks: bigint[] = [];
  for (let i = 0; i < points.length; i++) {
    const h = points[i].handle(b);
    if (h !== null && scalars[i] !== 0n) {
      handles.push(h);
      ks.push(scalars[i]);
    }
  }
  return CurvePoint.fromHandle(b, b.linearCombination(handles, ks));
}

/**
 * True when z_1*P_1 + ... = identity for every equation given as [points, scalars] (public
 * scalars). The backend may batch them with random weights.
 */
export function vanish(equations: [CurvePoint[], bigint[]][]): boolean {
  const b = backend();
  const eqs = equations.map(([points, scalars]) => {
    const ps: Point[] = [];
    const ks: bigint[] = [];
    points.forEach((p, i) => {
      const h = p.handle(b);
      if (h !== null && scalars[i] !== 0n) {
        ps.push(h);
        ks.push(scalars[i]);
      }
    });
    return { points: ps, scalars: ks };
  });
  return b.combinationsVanish(eqs);
}

/** Whether a*P + b*G = target (public scalars). */
export function mulAddGEquals(p: CurvePoint, a: bigint, b: bigint, target: CurvePoint): boolean {
  const be = backend();
  const h = p.handle(be);
  if (h === null) return target.isIdentity() && b === 0n;
  return be.mulAddGEquals(h, a, b, target.handle(be));
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}
