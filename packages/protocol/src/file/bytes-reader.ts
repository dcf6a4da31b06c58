/**
 * Pull exact byte counts off an async byte stream whose pieces have arbitrary sizes, then
 * hand back the rest as a stream: how a file's preamble and header are read without
 * buffering the body.
 */
export class StreamReader {
  readonly #it: AsyncIterator<Uint8Array>;
  #buffered: Uint8Array[] = [];
  #bufferedLength = 0;
  #done = false;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    const s = source as AsyncIterable<Uint8Array> & Iterable<Uint8Array>;
    this.#it =
      typeof s[Symbol.asyncIterator] === 'function'
        ? s[Symbol.asyncIterator]()
        : (async function* () {
            yield* s as Iterable<Uint8Array>;
          })();
  }

  /** Exactly n bytes, or fewer if the stream ends first. */
  async read(n: number): Promise<Uint8Array> {
    while (this.#bufferedLength < n && !this.#done) {
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        break;
      }
      if (r.value.length) {
        this.#buffered.push(r.value);
        this.#bufferedLength += r.value.length;
      }
    }
    const take = Math.min(n, this.#bufferedLength);
    const out = new Uint8Array(take);
    let o = 0;
    while (o < take) {
      const head = this.#buffered[0];
      const k = Math.min(head.length, take - o);
      out.set(head.subarray(0, k), o);
      o += k;
      if (k === head.length) this.#buffered.shift();
      else this.#buffered[0] = head.subarray(k);
    }
    this.#bufferedLength -= take;
    return out;
  }

  /** Everything not read yet. */
  async *rest(): AsyncGenerator<Uint8Array> {
    for (const b of this.#buffered) yield b;
    this.#buffered = [];
    this.#bufferedLength = 0;
    if (this.#done) return;
    for (;;) {
      const r = await this.#it.next();
      if (r.done) return;
      yield r.value;
    }
  }
}
