/**
 * Helpers for driving @nucypher/umbral-pre 0.10.0 (devDependency, GPL-3.0: tests only) from
 * tests. Its objects live in WASM memory and must be freed; `verify()` consumes its receiver.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface Freeable {
  free(): void;
}

/** Collects umbral-pre objects and frees them all at once (skipping ones already consumed). */
export class Bin {
  private items: Freeable[] = [];
  add<T extends Freeable>(o: T): T {
    this.items.push(o);
    return o;
  }
  addAll<T extends Freeable>(os: T[]): T[] {
    for (const o of os) this.add(o);
    return os;
  }
  free(): void {
    for (const o of this.items.splice(0)) {
      if ((o as unknown as { __wbg_ptr: number }).__wbg_ptr !== 0) o.free();
    }
  }
}

export function umbralPreVersion(): string {
  const require = createRequire(import.meta.url);
  const pkg = JSON.parse(readFileSync(require.resolve('@nucypher/umbral-pre/package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
