import type { NativeSecp256k1 } from './native-binding.js';

/** Outside Node there is no native addon: the noble backend is used. */
export function loadNative(): NativeSecp256k1 | undefined {
  return undefined;
}
