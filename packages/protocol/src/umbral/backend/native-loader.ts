import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { NativeSecp256k1 } from './native-binding.js';

/** Node only (package.json "imports" #native-curve): loads libsecp256k1's prebuilt addon. */
export function loadNative(): NativeSecp256k1 | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkgJson = require.resolve('secp256k1/package.json');
    const nodeGypBuild = createRequire(pkgJson)('node-gyp-build') as (dir: string) => {
      Secp256k1: new () => NativeSecp256k1;
    };
    return new (nodeGypBuild(dirname(pkgJson)).Secp256k1)();
  } catch {
    return undefined;
  }
}
