import { describe, expect, it } from 'vitest';
import { pack } from '../src/codec/msgpack.js';
import {
  DecodeError,
  DecryptionError,
  ExpiredError,
  InvalidArgumentError,
  NotYetValidError,
  RecordMismatchError,
  SignatureError,
  TooLargeError,
  UnsupportedVersionError,
  WrongPassphraseError,
} from '../src/errors.js';
import {
  checkReencryptReply,
  ERROR_REPLY_MAX_BYTES,
  errorReply,
  errorReplyFromError,
  isReencryptResult,
  NodeRecordReply,
  PROTOCOL_IDS,
  PROTOCOL_LIMITS,
  REENCRYPT_MAX_ITEMS,
  REENCRYPT_MAX_TOTAL_LEVELS,
  ReencryptReply,
  ReencryptRequest,
  RemoteError,
  StorePolicyReply,
  StorePolicyRequest,
  sanitizeMessage,
  unwrapReply,
  WIRE_ERROR_CODES,
  WIRE_PROTOCOLS,
  WIRE_SIZES,
  WireError,
} from '../src/wire/index.js';
import { capsuleBytes, cases, filled, level, outcome, samples } from './wire-fixture.js';

/** An envelope with any contents, to build malformed inputs. */
const envelope = (tag: unknown, body: unknown, major: unknown = 1, minor: unknown = 0) =>
  pack([tag, major, minor, body]);

describe('wire messages: round trips', () => {
  it.each(cases)('$name', ({ type, value }) => {
    const bytes = type.encode(value);
    expect(bytes.length).toBeLessThanOrEqual(type.maxBytes);
    const back = type.decode(bytes);
    expect(back).toEqual(value);
    expect(type.encode(back)).toEqual(bytes);
  });

  it('decoded binary fields are fresh Uint8Arrays, not views of the input', () => {
    const bytes = StorePolicyRequest.encode(samples.storePolicyReq);
    const back = StorePolicyRequest.decode(bytes);
    expect(back.policy.constructor).toBe(Uint8Array);
    expect(back.policy.buffer).not.toBe(bytes.buffer);
    bytes.fill(0);
    expect(back.policy).toEqual(samples.storePolicyReq.policy);
  });

  it('a newer minor with extra fields decodes (unknown keys are ignored)', () => {
    const bytes = envelope('store-policy.req', { ...samples.storePolicyReq, hint: 'new' }, 1, 3);
    expect(StorePolicyRequest.decode(bytes)).toEqual(samples.storePolicyReq);
  });

  it('every request protocol is registered with its id, limits and types', () => {
    for (const [name, p] of Object.entries(WIRE_PROTOCOLS)) {
      expect(p.id).toBe(PROTOCOL_IDS[name as keyof typeof PROTOCOL_IDS]);
      expect(p.id.startsWith('/thresh/')).toBe(true);
      expect(p.request.maxBytes).toBe(p.limits.maxRequestBytes);
      expect(p.reply.maxBytes).toBe(p.limits.maxResponseBytes);
      expect(p.limits.maxResponseBytes).toBeGreaterThanOrEqual(ERROR_REPLY_MAX_BYTES);
    }
    expect(PROTOCOL_IDS.kad).toBe('/thresh/kad/1.0.0');
    expect(new Set(Object.values(PROTOCOL_IDS)).size).toBe(Object.keys(PROTOCOL_IDS).length);
  });
});

describe('wire messages: the largest valid messages fit their frame limits', () => {
  it('reencrypt: 256 items, 4096 levels in all; a reply of 256 cfrags', () => {
    const perItem = REENCRYPT_MAX_TOTAL_LEVELS / REENCRYPT_MAX_ITEMS;
    const req = {
      items: Array.from({ length: REENCRYPT_MAX_ITEMS }, (_, i) => ({
        id: 0xffffffff - i,
        levels: Array.from({ length: perItem }, (_, j) => level(i * perItem + j)),
      })),
    };
    expect(ReencryptRequest.encode(req).length).toBeLessThanOrEqual(
      PROTOCOL_LIMITS.reencrypt.maxRequestBytes,
    );
    const res = {
      items: req.items.map((it) => ({ id: it.id, cfrag: filled(381), policyId: filled(16), level: 64 })),
    };
    expect(ReencryptReply.encode(res).length).toBeLessThanOrEqual(PROTOCOL_LIMITS.reencrypt.maxResponseBytes);
  });

  it('store-policy and handoff with every record at its cap', () => {
    const big = {
      policy: filled(WIRE_SIZES.maxPolicy),
      assignment: filled(WIRE_SIZES.maxAssignment),
      sealedKFrag: filled(WIRE_SIZES.maxSealedKFrag),
    };
    expect(() => StorePolicyRequest.encode(big)).not.toThrow();
    const handoff = WIRE_PROTOCOLS.handoff.request;
    const certificates = Array.from({ length: WIRE_SIZES.maxHandoffChain }, () =>
      filled(WIRE_SIZES.maxHandoffCertificate),
    );
    expect(handoff.encode({ ...big, certificates }).length).toBeLessThanOrEqual(handoff.maxBytes);
  });

  it('an error reply with the longest message in 3-byte characters', () => {
    const reply = errorReply('INTERNAL', '\u20ac'.repeat(WIRE_SIZES.maxErrorMessage));
    for (const p of Object.values(WIRE_PROTOCOLS)) {
      const bytes = p.reply.encode(reply);
      expect(bytes.length).toBeLessThanOrEqual(ERROR_REPLY_MAX_BYTES);
      expect(p.reply.decode(bytes)).toEqual(reply);
    }
  });

  it('node record at its cap with status', () => {
    const reply = { ...samples.nodeRecordResStatus, nodeRecord: filled(WIRE_SIZES.maxNodeRecord) };
    expect(NodeRecordReply.encode(reply).length).toBeLessThanOrEqual(NodeRecordReply.maxBytes);
  });
});

describe('wire messages: malformed input matrix', () => {
  it.each(cases)(
    '$name: truncated, empty, oversized, wrong tag, wrong major, not an envelope',
    ({ name, type, value }) => {
      const bytes = type.encode(value);
      for (const cut of [1, 2, bytes.length >> 1, bytes.length - 1]) {
        expect(outcome(() => type.decode(bytes.subarray(0, cut)))).toBe('DecodeError');
      }
      expect(outcome(() => type.decode(new Uint8Array(0)))).toBe('DecodeError');
      expect(outcome(() => type.decode(new Uint8Array(type.maxBytes + 1)))).toBe('TooLargeError');
      const body = (type.decode(bytes) as object) ?? {};
      expect(outcome(() => type.decode(envelope('other.req', body)))).toBe('DecodeError');
      expect(outcome(() => type.decode(envelope(type.tag, body, 2)))).toBe('UnsupportedVersionError');
      expect(outcome(() => type.decode(envelope(type.tag, body, 0)))).toBe('UnsupportedVersionError');
      expect(outcome(() => type.decode(envelope(type.tag, body, '1')))).toBe('DecodeError');
      expect(outcome(() => type.decode(envelope(type.tag, body, 1, -1)))).toBe('DecodeError');
      expect(outcome(() => type.decode(pack([type.tag, 1, 0])))).toBe('DecodeError');
      expect(outcome(() => type.decode(pack({ tag: type.tag })))).toBe('DecodeError');
      expect(outcome(() => type.decode(envelope(type.tag, 'a string')))).toBe('DecodeError');
      expect(outcome(() => type.decode(envelope(type.tag, null)))).toBe('DecodeError');
      expect(outcome(() => type.decode(envelope(type.tag, [body])))).toBe('DecodeError');
      // trailing bytes after the envelope
      const trailing = new Uint8Array(bytes.length + 1);
      trailing.set(bytes);
      expect(outcome(() => type.decode(trailing))).not.toBe('ok');
      expect(name).toBeTruthy();
    },
  );

  const wrong = (tag: string, body: unknown) => () => WIRE_PROTOCOLS_BY_TAG[tag].decode(envelope(tag, body));
  const WIRE_PROTOCOLS_BY_TAG = Object.fromEntries(
    Object.values(WIRE_PROTOCOLS).flatMap((p) => [
      [p.request.tag, p.request],
      [p.reply.tag, p.reply],
    ]),
  );
  const sp = samples.storePolicyReq;

  it.each<[string, string, unknown]>([
    ['store-policy.req', 'policy missing', { assignment: sp.assignment, sealedKFrag: sp.sealedKFrag }],
    ['store-policy.req', 'policy empty', { ...sp, policy: new Uint8Array(0) }],
    ['store-policy.req', 'policy over 16 KiB', { ...sp, policy: filled(16 * 1024 + 1) }],
    ['store-policy.req', 'policy a string', { ...sp, policy: 'abc' }],
    ['store-policy.req', 'policy an array of numbers', { ...sp, policy: [1, 2, 3] }],
    ['store-policy.req', 'sealed kfrag over 2 KiB', { ...sp, sealedKFrag: filled(2049) }],
    ['store-policy.req', 'assignment over 512', { ...sp, assignment: filled(513) }],
    ['store-policy.res', 'neither receipt nor error', {}],
    ['store-policy.res', 'receipt and error', { receipt: filled(10), error: { code: 'BUSY', message: '' } }],
    ['store-policy.res', 'receipt over 512', { receipt: filled(513) }],
    ['store-policy.res', 'unknown error code', { error: { code: 'ERR_NOPE', message: 'x' } }],
    ['store-policy.res', 'error code a number', { error: { code: 3, message: 'x' } }],
    ['store-policy.res', 'error message too long', { error: { code: 'BUSY', message: 'x'.repeat(513) } }],
    ['store-policy.res', 'error without message', { error: { code: 'BUSY' } }],
    ['store-policy.res', 'error a string', { error: 'BUSY' }],
    ['revoke.req', 'revocation missing', {}],
    ['revoke.req', 'published too big', { ...samples.revokeReq, published: filled(2049) }],
    [
      'node-record.res',
      'status with a negative count',
      { ...samples.nodeRecordResStatus, status: { ...samples.nodeRecordResStatus.status, peers: -1 } },
    ],
    [
      'node-record.res',
      'status with an empty version',
      { ...samples.nodeRecordResStatus, status: { ...samples.nodeRecordResStatus.status, version: '' } },
    ],
    ['node-record.res', 'node record over 16 KiB', { nodeRecord: filled(16 * 1024 + 1) }],
    ['handoff.req', 'no certificates', { ...samples.handoffReq, certificates: [] }],
    ['handoff.req', 'nine certificates', { ...samples.handoffReq, certificates: Array(9).fill(filled(10)) }],
    ['handoff.req', 'certificate over 512', { ...samples.handoffReq, certificates: [filled(513)] }],
    ['handoff.req', 'certificates not an array', { ...samples.handoffReq, certificates: filled(10) }],
  ])('%s: %s', (tag, _what, body) => {
    expect(outcome(wrong(tag, body))).toBe('DecodeError');
  });

  it('encode rejects values the decoder would reject', () => {
    expect(outcome(() => StorePolicyRequest.encode({ ...sp, policy: new Uint8Array(0) }))).toBe(
      'DecodeError',
    );
  });
});

describe('reencrypt', () => {
  const req = samples.reencryptReq;
  const item = (over: object) => ({ items: [{ id: 1, levels: [level(1)], ...over }] });
  const bad = (body: unknown) => outcome(() => ReencryptRequest.decode(envelope('reencrypt.req', body)));

  it.each<[string, unknown]>([
    ['no items', { items: [] }],
    ['items not an array', { items: {} }],
    ['batch over the cap', { items: Array.from({ length: 257 }, (_, id) => ({ id, levels: [level(1)] })) }],
    [
      'duplicate item ids',
      {
        items: [
          { id: 1, levels: [level(1)] },
          { id: 1, levels: [level(2)] },
        ],
      },
    ],
    ['id negative', item({ id: -1 })],
    ['id over u32', item({ id: 2 ** 32 })],
    ['id fractional', item({ id: 1.5 })],
    ['id a string', item({ id: '1' })],
    ['no levels', item({ levels: [] })],
    ['66 levels', item({ levels: Array.from({ length: 66 }, (_, i) => level(i)) })],
    [
      'capsule 104 bytes',
      item({ levels: [{ pathHash: filled(32), capsule: capsuleBytes.subarray(0, 104) }] }),
    ],
    ['capsule 106 bytes', item({ levels: [{ pathHash: filled(32), capsule: filled(106) }] })],
    ['path hash 31 bytes', item({ levels: [{ pathHash: filled(31), capsule: capsuleBytes }] })],
    ['duplicate path hashes', item({ levels: [level(1), level(1)] })],
    ['policy id with two levels', item({ levels: [level(1), level(2)], policyId: filled(16) })],
    ['policy id 15 bytes', item({ policyId: filled(15) })],
    [
      'over the total level cap',
      {
        items: Array.from({ length: 65 }, (_, id) => ({
          id,
          levels: Array.from({ length: 64 }, (_, j) => level(j)),
        })),
      },
    ],
  ])('request: %s', (_what, body) => {
    expect(bad(body)).toBe('DecodeError');
  });

  it('accepts exactly the caps: 256 items, 65 levels in one item', () => {
    const full = { items: Array.from({ length: 256 }, (_, id) => ({ id, levels: [level(id)] })) };
    expect(ReencryptRequest.decode(ReencryptRequest.encode(full)).items).toHaveLength(256);
    const deep = item({ levels: Array.from({ length: 65 }, (_, i) => level(i)) });
    expect(ReencryptRequest.decode(ReencryptRequest.encode(deep)).items[0].levels).toHaveLength(65);
  });

  const badReply = (items: unknown) =>
    outcome(() => ReencryptReply.decode(envelope('reencrypt.res', { items })));
  const ok = samples.reencryptRes.items[0];

  it.each<[string, unknown]>([
    ['empty', []],
    ['cfrag 380 bytes', [{ ...ok, cfrag: filled(380) }]],
    ['cfrag 382 bytes', [{ ...ok, cfrag: filled(382) }]],
    ['level 65', [{ ...ok, level: 65 }]],
    ['no policy id', [{ id: 1, cfrag: filled(381), level: 0 }]],
    ['both cfrag and error', [{ ...ok, error: 'NOT_FOUND' }]],
    ['unknown error code', [{ id: 1, error: 'GONE' }]],
    ['duplicate ids', [ok, { id: ok.id, error: 'NOT_FOUND' }]],
    ['over the cap', Array.from({ length: 257 }, (_, id) => ({ id, error: 'BUSY' }))],
  ])('reply: %s', (_what, items) => {
    expect(badReply(items)).toBe('DecodeError');
  });

  it('checkReencryptReply matches replies to requests', () => {
    const reply = ReencryptReply.decode(ReencryptReply.encode(samples.reencryptRes));
    const success = unwrapReply(reply);
    expect(() => checkReencryptReply(req, success)).not.toThrow();
    expect(success.items.filter(isReencryptResult).map((i) => i.id)).toEqual([7]);

    const swapped = { items: [...success.items].reverse() };
    expect(outcome(() => checkReencryptReply(req, swapped))).toBe('DecodeError');
    expect(outcome(() => checkReencryptReply(req, { items: success.items.slice(0, 1) }))).toBe('DecodeError');
    const deep = { items: [{ ...samples.reencryptRes.items[0], level: 3 }, success.items[1]] };
    expect(outcome(() => checkReencryptReply(req, deep))).toBe('DecodeError');
    const otherPolicy = {
      items: [success.items[0], { id: 8, cfrag: filled(381), policyId: filled(16, 99), level: 0 }],
    };
    expect(outcome(() => checkReencryptReply(req, otherPolicy))).toBe('DecodeError');
    const samePolicy = {
      items: [success.items[0], { id: 8, cfrag: filled(381), policyId: filled(16, 5), level: 0 }],
    };
    expect(() => checkReencryptReply(req, samePolicy)).not.toThrow();
  });
});

describe('error replies', () => {
  it('maps typed errors to wire codes and keeps their messages', () => {
    const table: [unknown, string][] = [
      [new DecodeError('policy', 'bad'), 'MALFORMED'],
      [new TooLargeError('frame', 10, 11), 'TOO_LARGE'],
      [new UnsupportedVersionError('policy', 2), 'ERR_UNSUPPORTED_VERSION'],
      [new SignatureError('policy: signature does not verify'), 'ERR_SIGNATURE'],
      [new InvalidArgumentError('x', 'y'), 'ERR_INVALID_ARGUMENT'],
      [new ExpiredError('policy', 10, 20), 'EXPIRED'],
      [new NotYetValidError('policy', 1000, 20), 'NOT_YET_VALID'],
      [new RecordMismatchError('assignment', 'another node'), 'ERR_RECORD_MISMATCH'],
      [new DecryptionError('sealed kfrag does not open'), 'ERR_DECRYPTION'],
      [new WireError('NOT_DESIGNATED', 'this node is not named by the policy'), 'NOT_DESIGNATED'],
      [new WireError('BUSY'), 'BUSY'],
    ];
    for (const [e, code] of table) {
      const r = errorReplyFromError(e);
      expect(r.error.code).toBe(code);
      expect(r.error.message).toBe((e as Error).message);
    }
  });

  it('maps the records stand-in validity errors by their reason', () => {
    const stand = Object.assign(new InvalidArgumentError('policy', 'expired at 1'), { reason: 'expired' });
    expect(errorReplyFromError(stand).error.code).toBe('EXPIRED');
    const early = Object.assign(new InvalidArgumentError('policy', 'not yet'), { reason: 'not-yet-valid' });
    expect(errorReplyFromError(early).error.code).toBe('NOT_YET_VALID');
  });

  it('never leaks internals', () => {
    const secretish = 'ENOENT /var/lib/thresh/keys/node.key at Store.open (store.ts:42)';
    for (const e of [
      new Error(secretish),
      new TypeError(secretish),
      secretish,
      { code: 'NOT_FOUND', message: secretish },
      null,
      undefined,
      new WrongPassphraseError(secretish),
      new RemoteError('NOT_FOUND', secretish),
    ]) {
      const r = errorReplyFromError(e);
      expect(r).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
    }
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(errorReplyFromError(timeout).error.code).toBe('TIMEOUT');
  });

  it('sanitizes messages: control characters, lone surrogates, length', () => {
    expect(sanitizeMessage('a\nb\u0000c\u001b[31m')).toBe('a b c [31m');
    expect(sanitizeMessage('x\uD800y')).toBe('x\uFFFDy');
    const long = sanitizeMessage(`${'a'.repeat(511)}\u{1F600}`);
    expect(long).toBe('a'.repeat(511));
    const r = errorReplyFromError(new DecodeError('f', 'z'.repeat(2000)));
    expect(r.error.message.length).toBe(512);
    expect(() => StorePolicyReply.encode(r)).not.toThrow();
  });

  it('every code round-trips and unwrapReply raises RemoteError', () => {
    for (const code of WIRE_ERROR_CODES) {
      const bytes = StorePolicyReply.encode(errorReply(code, `because ${code}`));
      const reply = StorePolicyReply.decode(bytes);
      let caught: unknown;
      try {
        unwrapReply(reply, 'node-1');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(RemoteError);
      const re = caught as RemoteError;
      expect(re.code).toBe('ERR_REMOTE');
      expect(re.name).toBe('RemoteError');
      expect(re.remoteCode).toBe(code);
      expect(re.message).toBe(`node-1: ${code}: because ${code}`);
    }
    expect(unwrapReply(StorePolicyReply.decode(StorePolicyReply.encode(samples.receipt)))).toEqual(
      samples.receipt,
    );
  });

  it('RemoteError sanitizes what the peer sent', () => {
    const re = new RemoteError('BUSY', '\u001b]0;pwned\u0007 try later');
    expect(re.remoteMessage).toBe(' ]0;pwned  try later');
  });

  it('errorReply falls back to INTERNAL for codes outside the list', () => {
    expect(errorReply('NOPE' as 'BUSY').error.code).toBe('INTERNAL');
    expect(errorReply('NOT_FOUND').error.message).toBe('NOT_FOUND');
  });
});
