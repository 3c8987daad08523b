import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  encodeCommand,
  MAX_REPLY_BYTES,
  RespError,
  RespReader,
  type RespValue,
} from '../../src/coherence/resp.js';
import { RespProtocolError } from '../../src/errors.js';

describe('RESP reader of the coherence subscriber', () => {
  it('decodes an invalidation message split at every byte, in order', () => {
    const bytes = Buffer.from(
      '*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$9\r\ncatalog_1\r\n$11\r\ncatalog_é2\r\n' +
        ':42\r\n+OK\r\n',
    );
    const reader = new RespReader();
    const replies = [];
    for (let i = 0; i < bytes.length; i++) replies.push(...reader.push(bytes.subarray(i, i + 1)));
    expect(replies).toEqual([['message', '__redis__:invalidate', ['catalog_1', 'catalog_é2']], 42, 'OK']);
  });

  it('reads every form of null, including the RESP3 one Redis 7.0 sends after a flush', () => {
    const reader = new RespReader();
    expect(reader.push(Buffer.from('*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n_\r\n$-1\r\n*-1\r\n'))).toEqual([
      ['message', 'c', null],
      null,
      null,
    ]);
  });

  it('returns error replies as RespError and rejects bytes that are not RESP', () => {
    const reader = new RespReader();
    expect(reader.push(Buffer.from('-NOPERM no\r\n'))).toEqual([new RespError('NOPERM no')]);
    expect(() => new RespReader().push(Buffer.from('?what\r\n'))).toThrow(RespProtocolError);
  });

  it('encodes a command as an array of bulk strings, counting bytes, not characters', () => {
    expect(encodeCommand(['AUTH', 'pässword']).toString()).toBe('*2\r\n$4\r\nAUTH\r\n$9\r\npässword\r\n');
  });
});

/** Encodes `value` as Redis would; strings become simple or bulk strings as `bulk` says. */
function encode(value: RespValue, bulk: (text: string) => boolean): string {
  if (value === null) return '$-1\r\n';
  if (typeof value === 'number') return `:${value}\r\n`;
  if (value instanceof RespError) return `-${value.message}\r\n`;
  if (Array.isArray(value)) return `*${value.length}\r\n${value.map((item) => encode(item, bulk)).join('')}`;
  if (bulk(value) || /[\r\n]/.test(value)) return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
  return `+${value}\r\n`;
}

const leaf: fc.Arbitrary<RespValue> = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary-ascii', maxLength: 10 }),
  fc.integer({ min: -1e12, max: 1e12 }),
  fc.constant(null),
  fc
    .string({ maxLength: 20 })
    .filter((text) => !/[\r\n]/.test(text))
    .map((text) => new RespError(text)),
);
const reply: fc.Arbitrary<RespValue> = fc.letrec<{ value: RespValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 5 }),
  ),
})).value;

/** `bytes` cut at `cuts` (offsets, in any order). */
function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

describe('RESP reader against hostile or malformed input', () => {
  it('decodes random replies the same whatever the chunking', () => {
    fc.assert(
      fc.property(
        fc.array(reply, { minLength: 1, maxLength: 5 }),
        fc.func(fc.boolean()),
        fc.array(fc.nat(), { maxLength: 40 }),
        (replies, bulk, cuts) => {
          const bytes = Buffer.from(replies.map((value) => encode(value, bulk)).join(''));
          const reader = new RespReader();
          const decoded = chunked(bytes, cuts).flatMap((chunk) => reader.push(chunk));
          expect(decoded).toEqual(replies);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('either decodes random bytes or throws RespProtocolError, nothing else', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            fc.constantFrom(...['*', '$', ':', '\r\n', '-1', '_', '99'].map((t) => Buffer.from(t))),
          ),
          {
            maxLength: 30,
          },
        ),
        (chunks) => {
          const reader = new RespReader();
          try {
            for (const chunk of chunks) reader.push(Buffer.from(chunk));
          } catch (err) {
            expect(err).toBeInstanceOf(RespProtocolError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it.each([
    ['$abc\r\n', /not a whole number/],
    ['*NaN\r\n', /not a whole number/],
    ['$-2\r\n', /bulk string of -2/],
    [':1.5\r\n', /not a whole number/],
    ['$3\r\nabcde\r\n', /not ended by CRLF/],
    ['+OK\n', /not ended by CRLF/],
    ['_x\r\n', /null with a body/],
    [`${'*1\r\n'.repeat(9)}:1\r\n`, /nested deeper/],
  ])('rejects the malformed %j', (text, message) => {
    expect(() => new RespReader().push(Buffer.from(text))).toThrow(message);
  });

  it(`refuses a reply over ${MAX_REPLY_BYTES} bytes as soon as its size is known`, () => {
    expect(() => new RespReader().push(Buffer.from(`$${MAX_REPLY_BYTES + 1}\r\n`))).toThrow(
      RespProtocolError,
    );
    expect(() => new RespReader().push(Buffer.from('*999999999\r\n'))).toThrow(/array of 999999999/);
    const many = new RespReader(1000);
    expect(() => many.push(Buffer.from(`*300\r\n${'$1\r\na\r\n'.repeat(200)}`))).toThrow(
      /larger than 1000 bytes/,
    );
    const endless = new RespReader();
    expect(() => {
      for (let i = 0; i < 100; i++) endless.push(Buffer.alloc(1024, 'a'));
    }).toThrow(/a line longer than/);
  });

  it('reads a reply split into many chunks in one pass, not again from its start on every chunk', () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `catalog_${i}`);
    const bytes = Buffer.from(encode(['message', '__redis__:invalidate', keys], () => true));
    const reader = new RespReader();
    const search = vi.spyOn(Buffer.prototype, 'indexOf');
    const replies: RespValue[] = [];
    const chunks = 500;
    const size = Math.ceil(bytes.length / chunks);
    for (let i = 0; i < bytes.length; i += size) replies.push(...reader.push(bytes.subarray(i, i + size)));
    const searches = search.mock.calls.length;
    search.mockRestore();
    expect(replies).toEqual([['message', '__redis__:invalidate', keys]]);
    // one search per line (a header per key) and per chunk: re-reading from the start would take ~1000 times more
    expect(searches).toBeLessThan(2 * (keys.length + 3) + chunks);
  });
});
