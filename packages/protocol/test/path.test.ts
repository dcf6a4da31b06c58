import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidPathError, type InvalidPathReason } from '../src/errors.js';
import {
  assertCanonicalPath,
  canonicalPath,
  isAncestorOrSelf,
  MAX_PATH_BYTES,
  MAX_PATH_DEPTH,
  MAX_SEGMENT_BYTES,
  pathDepth,
  pathPrefixes,
} from '../src/path.js';

function reasonOf(fn: () => unknown): InvalidPathReason | 'ok' | 'other' {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return error instanceof InvalidPathError ? error.reason : 'other';
  }
}

const seg = (n: number, ch = 'a'): string => ch.repeat(n);
/** A test label for a path: JSON, cut short. */
const label = (p: string): string => {
  const j = JSON.stringify(p);
  return j.length > 40 ? `${j.slice(0, 30)}...(${p.length} chars)` : j;
};

describe('canonicalPath', () => {
  it.each(
    (
      [
        ['/', '/'],
        ['/a', '/a'],
        ['/a/', '/a'],
        ['/projects/x/report.pdf', '/projects/x/report.pdf'],
        ['/a b/c d', '/a b/c d'],
        ['/.hidden/..x/x..', '/.hidden/..x/x..'],
        ['/...', '/...'],
        ['/e\u0301', '/\u00e9'], // NFD -> NFC
        ['/Cafe\u0301/', '/Caf\u00e9'],
        ['/\u212b', '/\u00c5'], // ANGSTROM SIGN is a singleton decomposition
        ['/emoji/\u{1f600}', '/emoji/\u{1f600}'],
        ['/日本語/ファイル', '/日本語/ファイル'],
        ['/a\\b', '/a\\b'],
        [`/${seg(MAX_SEGMENT_BYTES)}`, `/${seg(MAX_SEGMENT_BYTES)}`],
        [`/${seg(85, '\u00e9')}`, `/${seg(85, '\u00e9')}`], // 170 bytes
        [`/${seg(63, '\u{1f600}')}`, `/${seg(63, '\u{1f600}')}`], // 252 bytes
      ] as [string, string][]
    ).map(([input, expected]) => ({ name: label(input), input, expected })),
  )('accepts $name', ({ input, expected }) => {
    expect(canonicalPath(input)).toBe(expected);
    expect(assertCanonicalPath(expected)).toBe(expected);
  });

  it.each(
    (
      [
        ['', 'not-absolute'],
        ['a', 'not-absolute'],
        ['a/b', 'not-absolute'],
        ['./a', 'not-absolute'],
        [' /a', 'not-absolute'],
        ['//', 'empty-segment'],
        ['//a', 'empty-segment'],
        ['/a//b', 'empty-segment'],
        ['/a//', 'empty-segment'],
        ['/.', 'dot-segment'],
        ['/..', 'dot-segment'],
        ['/a/./b', 'dot-segment'],
        ['/a/../b', 'dot-segment'],
        ['/a/..', 'dot-segment'],
        ['/a/../', 'dot-segment'],
        ['/a\u0000b', 'control-character'],
        ['/a\nb', 'control-character'],
        ['/a\tb', 'control-character'],
        ['/a\u001f', 'control-character'],
        ['/a\u007f', 'control-character'],
        ['/a\ud800', 'control-character'], // unpaired high surrogate: no UTF-8 form
        ['/\udc00b', 'control-character'], // unpaired low surrogate
        [`/${seg(MAX_SEGMENT_BYTES + 1)}`, 'segment-too-long'],
        [`/${seg(128, '\u00e9')}`, 'segment-too-long'], // 256 bytes in 128 characters
        [`/${seg(64, '\u{1f600}')}`, 'segment-too-long'], // 256 bytes
        [
          `/${Array(MAX_PATH_DEPTH + 1)
            .fill('a')
            .join('/')}`,
          'too-deep',
        ],
        [`/${Array(17).fill(seg(255)).join('/')}`, 'too-long'], // 17 * 256 bytes
        ['/'.repeat(40_000), 'too-long'],
        [`/${seg(100)}`.repeat(50), 'too-long'], // 50 segments, 5050 bytes
      ] as [string, InvalidPathReason][]
    ).map(([input, reason]) => ({ name: label(input), input, reason })),
  )('rejects $name as $reason', ({ input, reason }) => {
    expect(reasonOf(() => canonicalPath(input))).toBe(reason);
  });

  it('rejects non-strings as not-a-string', () => {
    for (const input of [undefined, null, 1, ['/a'], { path: '/a' }]) {
      expect(reasonOf(() => canonicalPath(input as unknown as string))).toBe('not-a-string');
      expect(reasonOf(() => assertCanonicalPath(input as unknown as string))).toBe('not-a-string');
    }
  });

  it('holds the length limits exactly', () => {
    const deep = `/${Array(MAX_PATH_DEPTH).fill('a').join('/')}`;
    expect(canonicalPath(deep)).toBe(deep);
    expect(pathDepth(deep)).toBe(MAX_PATH_DEPTH);
    // 15 segments of 255 bytes + 1 of 254 = 4095 + 16 slashes: 4096 bytes, just at the limit.
    const long = `/${[...Array(15).fill(seg(255)), seg(15)].join('/')}`;
    expect(new TextEncoder().encode(long).length).toBeLessThanOrEqual(MAX_PATH_BYTES);
    const atLimit = `${long}${seg(MAX_PATH_BYTES - new TextEncoder().encode(long).length)}`;
    expect(new TextEncoder().encode(atLimit).length).toBe(MAX_PATH_BYTES);
    expect(canonicalPath(atLimit)).toBe(atLimit);
    expect(reasonOf(() => canonicalPath(`${atLimit}/a`))).toBe('too-long');
    expect(reasonOf(() => canonicalPath(`${atLimit}a`))).toBe('segment-too-long');
  });

  it('names the problem and the offending segment in the message', () => {
    expect(() => canonicalPath('/ok/a\u0001b/c')).toThrow(/"a\\u0001b".*U\+0001/);
    expect(() => canonicalPath('/ok/../c')).toThrow(/"\.\."/);
    expect(() => canonicalPath(`/ok/${seg(300)}`)).toThrow(/300 UTF-8 bytes.*255/);
    expect(() => canonicalPath('rel/x')).toThrow(/"rel\/x" is not absolute/);
    expect(() => canonicalPath('/a//b')).toThrow(/segment 2 is empty/);
    const error = (() => {
      try {
        canonicalPath('/a/..');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidPathError);
    expect(error).toMatchObject({
      name: 'InvalidPathError',
      code: 'ERR_INVALID_PATH',
      reason: 'dot-segment',
    });
  });

  it('is idempotent and throws only InvalidPathError on arbitrary strings', () => {
    const pathish = fc
      .array(
        fc.oneof(
          fc.constantFrom('/', '.', '..', 'a', '\u0301', 'e', '\u00e9', '\u0000', '\ud800'),
          fc.string(),
        ),
        {
          maxLength: 12,
        },
      )
      .map((parts) => parts.join(''));
    const anyString = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 80 }),
      fc.string({ unit: 'grapheme-composite', maxLength: 80 }).map((s) => `/${s}`),
      pathish,
      pathish.map((s) => `/${s}`),
    );
    fc.assert(
      fc.property(anyString, (input) => {
        let out: string;
        try {
          out = canonicalPath(input);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidPathError);
          return;
        }
        expect(canonicalPath(out)).toBe(out);
        expect(assertCanonicalPath(out)).toBe(out);
        expect(out.normalize('NFC')).toBe(out);
        expect(out === '/' || !out.endsWith('/')).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('assertCanonicalPath', () => {
  it.each<[string, InvalidPathReason]>([
    ['/e\u0301', 'not-nfc'],
    ['/\u212b', 'not-nfc'],
    ['/a/', 'empty-segment'],
    ['//', 'empty-segment'],
    ['a', 'not-absolute'],
    ['/a/../b', 'dot-segment'],
  ])('rejects %j (%s) that canonicalPath would rewrite or reject', (input, reason) => {
    expect(reasonOf(() => assertCanonicalPath(input))).toBe(reason);
  });

  it('accepts exactly the fixed points of canonicalPath', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme-composite', maxLength: 30 }), (s) => {
        const input = `/${s}`;
        const canonical = reasonOf(() => canonicalPath(input)) === 'ok' ? canonicalPath(input) : undefined;
        const accepted = reasonOf(() => assertCanonicalPath(input)) === 'ok';
        expect(accepted).toBe(canonical === input);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('prefixes, depth and ancestry', () => {
  it('lists prefixes root first', () => {
    expect(pathPrefixes('/')).toEqual(['/']);
    expect(pathPrefixes('/a')).toEqual(['/', '/a']);
    expect(pathPrefixes('/a/b')).toEqual(['/', '/a', '/a/b']);
    expect(pathPrefixes('/projects/x/report.pdf')).toEqual([
      '/',
      '/projects',
      '/projects/x',
      '/projects/x/report.pdf',
    ]);
  });

  it('counts depth in segments', () => {
    expect(pathDepth('/')).toBe(0);
    expect(pathDepth('/a')).toBe(1);
    expect(pathDepth('/a/b/c')).toBe(3);
  });

  it('requires canonical input', () => {
    expect(reasonOf(() => pathPrefixes('/a/'))).toBe('empty-segment');
    expect(reasonOf(() => pathDepth('/e\u0301'))).toBe('not-nfc');
    expect(reasonOf(() => isAncestorOrSelf('/a', 'a/b'))).toBe('not-absolute');
  });

  it.each<[string, string, boolean]>([
    ['/', '/', true],
    ['/', '/a/b', true],
    ['/a', '/a', true],
    ['/a', '/a/b', true],
    ['/a', '/a/b/c', true],
    ['/a/b', '/a/b/c', true],
    ['/a', '/ab', false],
    ['/a', '/ab/c', false],
    ['/a/b', '/a', false],
    ['/a/b', '/a/bc', false],
    ['/a/b', '/', false],
    ['/x', '/a/x', false],
  ])('isAncestorOrSelf(%j, %j) is %s', (dir, path, expected) => {
    expect(isAncestorOrSelf(dir, path)).toBe(expected);
  });

  it('agrees with pathPrefixes', () => {
    const segment = fc.constantFrom('a', 'b', 'ab', 'a.b', '\u00e9');
    const path = fc.array(segment, { maxLength: 5 }).map((s) => `/${s.join('/')}`.replace(/^\/$/, '/'));
    fc.assert(
      fc.property(path, path, (dir, p) => {
        expect(isAncestorOrSelf(dir, p)).toBe(pathPrefixes(p).includes(dir));
      }),
    );
  });
});
