import { loadNative } from '#native-curve';
import { BackendUnavailableError, InvalidArgumentError } from '../../errors.js';
import { makeNativeBackend } from './native.js';
import type { NativeSecp256k1 } from './native-binding.js';
import { nobleBackend } from './noble.js';
import type { BackendName, CurveBackend } from './types.js';

export type { BackendName, CurveBackend, Point } from './types.js';

/**
 * Backend choice: libsecp256k1 (native) when it loads, which is on Node; @noble/curves
 * elsewhere. `THRESH_CURVE_BACKEND=noble|native` or `setCurveBackend()` forces one. Nothing is
 * loaded until first use (no side effects on import).
 */
let nativeLib: NativeSecp256k1 | null | undefined;
let nativeBackend: CurveBackend | null | undefined;
let current: CurveBackend | undefined;

/**
 * libsecp256k1's raw addon when it loads here (Node with the `secp256k1` package), else
 * undefined. For code outside the PRE core that wants the same library for plain secp256k1
 * work (the libp2p host's key parsing and signatures, see the client's fast-secp256k1 module).
 */
export function nativeSecp256k1(): NativeSecp256k1 | undefined {
  if (nativeLib === undefined) nativeLib = loadNative() ?? null;
  return nativeLib ?? undefined;
}

function native(): CurveBackend | null {
  if (nativeBackend === undefined) {
    const lib = nativeSecp256k1();
    nativeBackend = lib ? makeNativeBackend(lib) : null;
  }
  return nativeBackend;
}

function byName(name: BackendName): CurveBackend {
  if (name === 'noble') return nobleBackend;
  if (name === 'native') {
    const b = native();
    if (!b) throw new BackendUnavailableError('the native libsecp256k1 backend cannot be loaded here');
    return b;
  }
  throw new InvalidArgumentError('backend', `unknown curve backend ${JSON.stringify(name)}`);
}

function fromEnvironment(): CurveBackend {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const forced = env?.THRESH_CURVE_BACKEND;
  if (forced) return byName(forced as BackendName);
  return native() ?? nobleBackend;
}

/** The backend in use. */
export function backend(): CurveBackend {
  if (current === undefined) current = fromEnvironment();
  return current;
}

/** Forces a backend for the whole process (objects made under another backend keep working). */
export function setCurveBackend(name: BackendName): void {
  current = byName(name);
}

export function curveBackendName(): BackendName {
  return backend().name;
}

export function availableBackends(): BackendName[] {
  return native() ? ['native', 'noble'] : ['noble'];
}
