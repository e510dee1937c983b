/** @module Client ids: which arguments name a client, read as Redis reads them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { killArgsNoMatch, killFilter, trackingArgs, unblockArgs } from './client-ids.js';

const b = (...a: string[]) => a.map((x) => Buffer.from(x));
const s = (a: Buffer[] | null) => a?.map(String) ?? null;
const tr = (id: number) => (id === 7 ? 1042 : 0);

test('CLIENT UNBLOCK: the id translated (0: no such client); not an integer or another arity left to Redis', () => {
  assert.deepEqual(s(unblockArgs(b('CLIENT', 'UNBLOCK', '7'), tr)), ['CLIENT', 'UNBLOCK', '1042']);
  assert.deepEqual(s(unblockArgs(b('CLIENT', 'UNBLOCK', '8', 'ERROR'), tr)), ['CLIENT', 'UNBLOCK', '0', 'ERROR']);
  assert.deepEqual(s(unblockArgs(b('CLIENT', 'UNBLOCK', 'asd', 'FOO'), tr)), ['CLIENT', 'UNBLOCK', 'asd', 'FOO']);
  assert.deepEqual(s(unblockArgs(b('CLIENT', 'UNBLOCK', '07'), tr)), ['CLIENT', 'UNBLOCK', '07'], 'Redis takes no leading zero');
  assert.equal(unblockArgs(b('CLIENT', 'UNBLOCK', '7', 'TIMEOUT', 'x'), tr), null);
});

test('CLIENT TRACKING: every REDIRECT value translated, PREFIX values skipped, a trailing option left to Redis', () => {
  assert.deepEqual(s(trackingArgs(b('CLIENT', 'TRACKING', 'on', 'redirect', '7'), tr)), ['CLIENT', 'TRACKING', 'on', 'redirect', '1042']);
  assert.deepEqual(s(trackingArgs(b('CLIENT', 'TRACKING', 'on', 'PREFIX', 'redirect', 'BCAST', 'REDIRECT', '7'), tr)), ['CLIENT', 'TRACKING', 'on', 'PREFIX', 'redirect', 'BCAST', 'REDIRECT', '1042']);
  assert.equal(trackingArgs(b('CLIENT', 'TRACKING', 'on', 'BCAST', 'PREFIX', 'a'), tr), null);
  assert.equal(trackingArgs(b('CLIENT', 'TRACKING', 'on', 'REDIRECT'), tr), null);
});

test('CLIENT KILL: an ID filter is answered by the ambassador; Redis\'s errors for bad filters; no ID: sent as it is', () => {
  assert.deepEqual(killFilter(b('CLIENT', 'KILL', 'ID', '7')), { id: 7, skipme: true });
  assert.deepEqual(killFilter(b('CLIENT', 'KILL', 'skipme', 'NO', 'id', '7')), { id: 7, skipme: false });
  assert.equal(killFilter(b('CLIENT', 'KILL', '127.0.0.1:5000')), null);
  assert.equal(killFilter(b('CLIENT', 'KILL', 'TYPE', 'pubsub')), null);
  assert.equal(String(killFilter(b('CLIENT', 'KILL', 'ID', '0'))), '-ERR client-id should be greater than 0\r\n');
  assert.equal(String(killFilter(b('CLIENT', 'KILL', 'ID', '7', 'SKIPME'))), '-ERR syntax error\r\n');
  assert.equal(String(killFilter(b('CLIENT', 'KILL', 'ID', '7', 'SKIPME', 'maybe'))), '-ERR syntax error\r\n');
  assert.match(String(killFilter(b('CLIENT', 'KILL', 'ID', '7', 'TYPE', 'normal'))), /^-ERR CLIENT KILL ID takes no other filter/);
  assert.deepEqual(s(killArgsNoMatch(b('CLIENT', 'KILL', 'ID', '7'))), ['CLIENT', 'KILL', 'ID', '9223372036854775807']);
});
