/** @module decodeValue: RESP2 frames to JS values as ioredis gives them (strings, numbers, null, arrays, error replies). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorReply, decodeValue } from './decode.js';
import { ProtocolError } from '../errors.js';

const dec = (s: string) => decodeValue(Buffer.from(s), 0);

test('each RESP2 type decodes as ioredis decodes it', () => {
  assert.equal(dec('+OK\r\n'), 'OK');
  assert.equal(dec(':-42\r\n'), -42);
  assert.equal(dec('$5\r\nhello\r\n'), 'hello');
  assert.equal(dec('$-1\r\n'), null);
  assert.equal(dec('*-1\r\n'), null);
  assert.deepEqual(dec('*2\r\n$3\r\nget\r\n:2\r\n'), ['get', 2]);
  assert.deepEqual(dec('*2\r\n*1\r\n+a\r\n*0\r\n'), [['a'], []]);
  assert.equal(dec('$2\r\n\u00e9\r\n'), '\u00e9', 'a bulk length counts UTF-8 bytes');
});

test('a bulk string holding CRLF is read by its length, not to the first CRLF', () => {
  assert.equal(dec('$4\r\na\r\nb\r\n'), 'a\r\nb');
});

test('an error reply is a value (ErrorReply), so the replies after it are still read', () => {
  const v = dec('*2\r\n-NOPERM no\r\n:1\r\n') as unknown[];
  assert.ok(v[0] instanceof ErrorReply);
  assert.equal((v[0] as Error).message, 'NOPERM no');
  assert.equal(v[1], 1);
});

test('a RESP3 type is refused with a clear error (the control link speaks RESP2)', () => {
  assert.throws(() => dec('%1\r\n+a\r\n+b\r\n'), (e: unknown) => e instanceof ProtocolError && /unexpected RESP type "%"/.test(e.message));
});
