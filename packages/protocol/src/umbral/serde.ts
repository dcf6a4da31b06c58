import { DecodeError } from '../errors.js';

/**
 * The fixed MessagePack layouts of rmp-serde that Umbral objects use (UMBRAL.md "Curve, hash,
 * encodings"): structs are arrays in field order, byte fields bin8, booleans c2/c3. Every
 * Umbral object has a fixed shape, so we read and write exactly that shape and reject any
 * other encoding, even one a general MessagePack decoder would accept.
 */
export class LayoutWriter {
  readonly #parts: number[] = [];
  readonly #chunks: Uint8Array[] = [];
  #size = 0;

  array(n: number): this {
    return this.#byte(0x90 | n);
  }

  bin(bytes: Uint8Array): this {
    this.#byte(0xc4).#byte(bytes.length);
    this.#flush();
    this.#chunks.push(bytes);
    this.#size += bytes.length;
    return this;
  }

  bool(v: boolean): this {
    return this.#byte(v ? 0xc3 : 0xc2);
  }

  #byte(b: number): this {
    this.#parts.push(b);
    return this;
  }

  #flush(): void {
    if (this.#parts.length) {
      this.#chunks.push(Uint8Array.from(this.#parts));
      this.#size += this.#parts.length;
      this.#parts.length = 0;
    }
  }

  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#size);
    let o = 0;
    for (const c of this.#chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export class LayoutReader {
  #pos = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    if (!(bytes instanceof Uint8Array)) throw new DecodeError(what, 'expected a Uint8Array');
  }

  #fail(field: string, msg: string): never {
    throw new DecodeError(`${this.what}.${field}`, msg);
  }

  #byte(field: string): number {
    if (this.#pos >= this.bytes.length) this.#fail(field, 'truncated');
    return this.bytes[this.#pos++];
  }

  array(n: number, field: string): void {
    const b = this.#byte(field);
    if (b !== (0x90 | n)) this.#fail(field, `expected an array of ${n}, got byte 0x${b.toString(16)}`);
  }

  bin(len: number, field: string): Uint8Array {
    const tag = this.#byte(field);
    if (tag !== 0xc4) this.#fail(field, `expected bin8, got byte 0x${tag.toString(16)}`);
    const l = this.#byte(field);
    if (l !== len) this.#fail(field, `expected ${len} bytes, got ${l}`);
    if (this.#pos + len > this.bytes.length) this.#fail(field, 'truncated');
    const out = this.bytes.slice(this.#pos, this.#pos + len);
    this.#pos += len;
    return out;
  }

  bool(field: string): boolean {
    const b = this.#byte(field);
    if (b === 0xc3) return true;
    if (b === 0xc2) return false;
    return this.#fail(field, `expected a boolean, got byte 0x${b.toString(16)}`);
  }

  end(): void {
    if (this.#pos !== this.bytes.length) {
      throw new DecodeError(this.what, `${this.bytes.length - this.#pos} trailing bytes`);
    }
  }
}
