/** @module The answers given from per-client state, byte for byte as Redis words them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientSetInfo } from './local.js';

const args = (...a: string[]) => a.map((s) => Buffer.from(s, 'latin1'));

test('CLIENT SETINFO checks its option and value as Redis 7.2 does', () => {
  assert.equal(clientSetInfo(args('CLIENT', 'SETINFO', 'LIB-NAME', 'redis-py(redis-py_v5.0.1)')).toString(), '+OK\r\n');
  assert.equal(clientSetInfo(args('client', 'setinfo', 'lib-ver', '')).toString(), '+OK\r\n', 'an empty value clears it');
  assert.equal(clientSetInfo(args('CLIENT', 'SETINFO', 'lib-ver', '1.0\0 x')).toString(), '+OK\r\n', 'checked to its first NUL, as C reads it');
  for (const bad of ['has space', 'new\nline', 'tab\t', 'é', '\x7f'])
    assert.equal(clientSetInfo(args('CLIENT', 'SETINFO', 'Lib-Name', bad)).toString(), '-ERR Lib-Name cannot contain spaces, newlines or special characters.\r\n', JSON.stringify(bad));
  assert.equal(clientSetInfo(args('CLIENT', 'SETINFO', 'lib-nam', 'x')).toString(), "-ERR Unrecognized option 'lib-nam'\r\n");
  assert.equal(clientSetInfo(args('CLIENT', 'SETINFO', 'lib-name')).toString(), "-ERR wrong number of arguments for 'client|setinfo' command\r\n");
});
