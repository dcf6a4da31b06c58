/**
 * Canonical paths (DESIGN.md "Paths and path keys"). A path names a file or directory; its
 * prefixes name the levels that get path keys and path hashes, so two spellings of one path
 * must never reach key derivation: everything goes through `canonicalPath` on the way in, and
 * decoders of signed records use `assertCanonicalPath`, which accepts only the canonical form.
 *
 * Canonical: absolute, "/"-separated, NFC, no empty, "." or ".." segments, no control
 * characters (U+0000..U+001F, U+007F) and no unpaired surrogates (they have no UTF-8 form), at
 * most MAX_PATH_BYTES UTF-8 bytes, MAX_PATH_DEPTH segments, MAX_SEGMENT_BYTES per segment.
 * The root is "/"; no other canonical path ends with "/".
 */
import { InvalidPathError } from './errors.js';

export const MAX_PATH_BYTES = 4096;
export const MAX_PATH_DEPTH = 64;
export const MAX_SEGMENT_BYTES = 255;

/**
 * Inputs longer than this many UTF-16 code units are rejected before NFC, to bound the work
 * on hostile input. NFC composes at most 4 code points into one (e.g. U+1F87), each at least
 * one code unit, so such an input could not come under MAX_PATH_BYTES anyway; 8x is a margin.
 */
const MAX_INPUT_UNITS = 8 * MAX_PATH_BYTES;

/** A segment as it appears in an error message: quoted, escaped, cut short if long. */
function show(segment: string): string {
  const cut = segment.length > 64 ? `${segment.slice(0, 64)}...` : segment;
  return JSON.stringify(cut);
}

function hex(code: number): string {
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Checks one segment and returns its UTF-8 length. A single pass over the code units finds
 * control characters and unpaired surrogates and counts bytes.
 */
function checkSegment(segment: string, position: number): number {
  if (segment === '') {
    throw new InvalidPathError('empty-segment', `path segment ${position} is empty ("//" in the path)`);
  }
  if (segment === '.' || segment === '..') {
    throw new InvalidPathError('dot-segment', `path has a ${show(segment)} segment`);
  }
  let bytes = 0;
  for (let i = 0; i < segment.length; i++) {
    const c = segment.charCodeAt(i);
    if (c <= 0x1f || c === 0x7f) {
      throw new InvalidPathError(
        'control-character',
        `path segment ${show(segment)} contains the control character ${hex(c)}`,
      );
    }
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      const next = segment.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) throw unpairedSurrogate(segment, c);
      bytes += 4;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw unpairedSurrogate(segment, c);
    else bytes += 3;
  }
  if (bytes > MAX_SEGMENT_BYTES) {
    throw new InvalidPathError(
      'segment-too-long',
      `path segment ${show(segment)} is ${bytes} UTF-8 bytes, over the limit of ${MAX_SEGMENT_BYTES}`,
    );
  }
  return bytes;
}

// InvalidPathReason has no entry of its own for this; an unencodable character is filed with
// the other characters a path may not hold.
function unpairedSurrogate(segment: string, code: number): InvalidPathError {
  return new InvalidPathError(
    'control-character',
    `path segment ${show(segment)} contains an unpaired surrogate ${hex(code)}, which has no UTF-8 form`,
  );
}

/** Validates a path already NFC and without a trailing slash; returns its segments. */
function validate(path: string): string[] {
  if (!path.startsWith('/')) {
    throw new InvalidPathError('not-absolute', `path ${show(path)} is not absolute (must start with "/")`);
  }
  if (path === '/') return [];
  const segments = path.slice(1).split('/');
  if (segments.length > MAX_PATH_DEPTH) {
    throw new InvalidPathError(
      'too-deep',
      `path has ${segments.length} segments, over the limit of ${MAX_PATH_DEPTH}`,
    );
  }
  let bytes = 0;
  for (let i = 0; i < segments.length; i++) bytes += 1 + checkSegment(segments[i], i + 1);
  if (bytes > MAX_PATH_BYTES) {
    throw new InvalidPathError(
      'too-long',
      `path is ${bytes} UTF-8 bytes, over the limit of ${MAX_PATH_BYTES}`,
    );
  }
  return segments;
}

function checkString(input: unknown): asserts input is string {
  if (typeof input !== 'string') {
    throw new InvalidPathError('not-a-string', `path must be a string, got ${typeof input}`);
  }
  if (input.length > MAX_INPUT_UNITS) {
    throw new InvalidPathError(
      'too-long',
      `path of ${input.length} characters is over the limit of ${MAX_PATH_BYTES} UTF-8 bytes`,
    );
  }
}

/**
 * The canonical form of a user-supplied path: NFC-normalized, one trailing slash dropped
 * ("/a/" -> "/a"), then validated. Throws InvalidPathError with the reason and the segment at
 * fault. Idempotent: canonicalPath(canonicalPath(p)) === canonicalPath(p).
 */
export function canonicalPath(input: string): string {
  checkString(input);
  let path = input.normalize('NFC');
  // Only a trailing slash after a non-empty segment is dropped: "//" stays an empty segment.
  if (path.length > 1 && path.endsWith('/') && !path.endsWith('//')) path = path.slice(0, -1);
  validate(path);
  return path;
}

/**
 * Accepts only a path already in canonical form, for decoders of signed records: a signer
 * that wrote another spelling is rejected, not silently rewritten. Returns the path.
 */
export function assertCanonicalPath(path: string): string {
  checkCanonical(path);
  return path;
}

/** assertCanonicalPath, returning the segments. */
function checkCanonical(path: string): string[] {
  checkString(path);
  if (path.normalize('NFC') !== path) {
    throw new InvalidPathError('not-nfc', `path ${show(path)} is not in Unicode normalization form NFC`);
  }
  if (path.length > 1 && path.endsWith('/')) {
    throw new InvalidPathError('empty-segment', `path ${show(path)} ends with "/"`);
  }
  return validate(path);
}

/** Number of segments: 0 for "/", 2 for "/a/b". The path must be canonical. */
export function pathDepth(path: string): number {
  return checkCanonical(path).length;
}

/** The prefixes of a canonical path, root first: "/a/b" -> ["/", "/a", "/a/b"]; "/" -> ["/"]. */
export function pathPrefixes(path: string): string[] {
  const segments = checkCanonical(path);
  const prefixes = ['/'];
  let prefix = '';
  for (const segment of segments) {
    prefix += `/${segment}`;
    prefixes.push(prefix);
  }
  return prefixes;
}

/**
 * Whether `dir` is `path` or one of its ancestors, segment-wise: "/a" contains "/a/b" but not
 * "/ab". Both must be canonical.
 */
export function isAncestorOrSelf(dir: string, path: string): boolean {
  checkCanonical(dir);
  checkCanonical(path);
  if (dir === '/') return true;
  return path === dir || path.startsWith(`${dir}/`);
}
