import { describe, expect, it } from 'vitest';
import { encodeCommand, RespError, RespReader } from '../../src/coherence/resp.js';
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
