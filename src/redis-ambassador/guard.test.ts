import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GUARD_SEGMENT, MARK_BAD, MARK_OK, MARK_STALLED, ReplyGuard, STALL_ERRORS } from './guard.js';
import { newPending } from './pending.js';

const nonceOf = (g: ReplyGuard) => /PING\r\n\$16\r\n([0-9a-f]{16})\r\n/.exec(g.marker.toString('latin1'))?.[1] ?? '';
/** s inside a larger buffer, as a reply sits in a read. */
const at = (s: string): [Buffer, number, number] => [Buffer.from('xyz' + s + 'q'), 3, 3 + s.length];

test('ReplyGuard: the marker is PING with 16 random hex digits per connection; only that nonce as a bulk string vouches for the held replies', () => {
  const g = new ReplyGuard();
  const nonce = nonceOf(g);
  assert.match(nonce, /^[0-9a-f]{16}$/);
  assert.notEqual(nonceOf(new ReplyGuard()), nonce);
  assert.equal(g.check(...at(`$16\r\n${nonce}\r\n`)), MARK_OK);
  for (const other of ['+PONG\r\n', `+${nonce}\r\n`, `$16\r\n${nonce.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}\r\n`, '$5\r\nEXTRA\r\n', '-ERR x\r\n']) assert.equal(g.check(...at(other)), MARK_BAD, other);
});

test('ReplyGuard: -BUSY, -LOADING or -MASTERDOWN passes only when every held reply is that same error; an -ERR or a different held reply never does', () => {
  const busy = '-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n';
  for (const err of [busy, '-LOADING Redis is loading the dataset in memory\r\n', '-MASTERDOWN Link with MASTER is down\r\n']) {
    const g = new ReplyGuard();
    g.hold(newPending(), ...at(err));
    g.hold(newPending(), ...at(err));
    assert.equal(g.check(...at(err)), MARK_STALLED, err);
    g.hold(newPending(), ...at('$1\r\nv\r\n'));
    assert.equal(g.check(...at(err)), MARK_BAD, `${err} after a value`);
  }
  const g = new ReplyGuard();
  g.hold(newPending(), ...at('-ERR injected\r\n'));
  assert.equal(g.check(...at('-ERR injected\r\n')), MARK_BAD);
});

test('ReplyGuard: keep() gives the held replies of a read one copy of their span, so the read buffer may be reused', () => {
  const g = new ReplyGuard();
  const read = Buffer.from('$1\r\na\r\n$1\r\nb\r\n');
  g.hold(newPending(), read, 0, 7);
  g.hold(newPending(), read, 7, 14);
  g.keep(read);
  read.fill(0);
  assert.deepEqual([0, 1].map((i) => g.bufs[i].toString('latin1', g.froms[i], g.tos[i])), ['$1\r\na\r\n', '$1\r\nb\r\n']);
  const next = Buffer.from('$1\r\nc\r\n');
  g.hold(newPending(), next, 0, 7);
  g.keep(next);
  next.fill(0);
  assert.equal(g.bufs[2].toString('latin1', g.froms[2], g.tos[2]), '$1\r\nc\r\n');
  assert.equal(g.bufs[0].toString('latin1', g.froms[0], g.tos[0]), '$1\r\na\r\n');
  g.clear();
  assert.equal(g.length, 0);
});

test('ReplyGuard: the native guard stalls on the same errors as this one (conn_guard.c STALLS, in the same order)', () => {
  const src = readFileSync(new URL('../../native/conn-io/conn_guard.c', import.meta.url), 'utf8');
  const list = /static const char \*const STALLS\[\] = \{([^}]*)\};/.exec(src)?.[1];
  assert.ok(list, 'conn_guard.c declares STALLS');
  assert.deepEqual([...list.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]), [...STALL_ERRORS]);
});

test('ReplyGuard: the native guard cuts long batches at the same size as this one (conn_guard.h XG_SEGMENT)', () => {
  const src = readFileSync(new URL('../../native/conn-io/conn_guard.h', import.meta.url), 'utf8');
  assert.equal(Number(/^#define XG_SEGMENT (\d+)$/m.exec(src)?.[1]), GUARD_SEGMENT);
});
