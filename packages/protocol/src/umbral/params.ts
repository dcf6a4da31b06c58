import { CurvePoint } from './curve.js';
import { U_BYTES } from './params-constants.js';

export { U_BYTES, U_HEX } from './params-constants.js';

let u: CurvePoint | undefined;

/** Umbral's second generator U as a point (made on first use, not on import). */
export function pointU(): CurvePoint {
  if (u === undefined) u = CurvePoint.fromBytes(U_BYTES, 'U');
  return u;
}
