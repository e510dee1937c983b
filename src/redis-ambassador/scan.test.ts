/** @module Unit tests for SCAN-family cursor tracking (pure: no sockets). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScanTracker, lostCursorError, replyCursor, scanQuery } from './scan.js';
import { makeInfo } from './resp/commands.js';
import { Pending } from './pending.js';
import type { NodeConns } from './pools.js';

const node = (label: string) => ({ node: { label } }) as unknown as NodeConns;
const b = (s: string) => Buffer.from(s, 'latin1');

test('replyCursor reads the next cursor of RESP2/RESP3 scan replies, whole or empty', () => {
  assert.equal(replyCursor(b('*2\r\n$3\r\n704\r\n*2\r\n$2\r\nf1\r\n$2\r\nv1\r\n')), '704');
  assert.equal(replyCursor(b('*2\r\n$1\r\n0\r\n*0\r\n')), '0');
  assert.equal(replyCursor(b('-ERR wrong\r\n')), null);
  assert.equal(replyCursor(b('*2\r\n:5\r\n*0\r\n')), null);
  assert.equal(replyCursor(b('*2\r\n$9\r\n12')), null, 'a bulk longer than the reply');
  assert.equal(replyCursor(b('*')), null);
});

test('scanQuery: the cursor of SCAN is argument 1, of HSCAN/SSCAN/ZSCAN argument 2; too few arguments → null', () => {
  const scan = makeInfo('scan', ['readonly']);
  const hscan = makeInfo('hscan', ['readonly']);
  assert.deepEqual(scanQuery(scan, [b('SCAN'), b('17'), b('COUNT'), b('10')], 3), { name: 'scan', key: '', cursor: '17', db: 3 });
  assert.deepEqual(scanQuery(hscan, [b('HSCAN'), b('h'), b('5')], 0), { name: 'hscan', key: 'h', cursor: '5', db: 0 });
  assert.equal(scanQuery(hscan, [b('HSCAN'), b('h')], 0), null);
});

test('a continuation goes to the node that issued its cursor; interleaved scans keep their own nodes', () => {
  const t = new ScanTracker();
  const a = node('replica:a');
  const m = node('master');
  const q = (key: string, cursor: string, db = 0) => ({ name: 'hscan', key, cursor, db });
  assert.equal(t.target(q('h1', '0')), null, 'a fresh scan is routed as usual');
  const p1 = new Pending();
  const p2 = new Pending();
  t.onSent(p1, a, q('h1', '0'));
  t.onSent(p2, null, q('h2', '0')); // held: whichever master takes it
  p2.reply = b('*2\r\n$2\r\n40\r\n*0\r\n');
  t.replied(p2, m);
  p1.reply = b('*2\r\n$2\r\n40\r\n*0\r\n');
  t.replied(p1, m);
  assert.equal(t.target(q('h1', '40')), a);
  assert.equal(t.target(q('h2', '40')), m);
  assert.equal(t.target(q('h1', '40', 1)), a, 'an unknown cursor goes to the node of the latest scan reply');
  const p3 = new Pending();
  t.onSent(p3, a, q('h1', '40'));
  assert.equal(t.isContinuation(p3), true);
  assert.equal(t.isContinuation(p1), false, 'answered: no longer tracked');
  p3.reply = b('*2\r\n$1\r\n0\r\n*0\r\n');
  t.replied(p3, m);
  t.clear();
  assert.equal(t.target(q('h2', '40')), null);
  assert.match(lostCursorError(q('h1', '40'), a), /^ERR HSCAN cursor 40 was issued by replica:a, which is no longer available/);
});

test('a fresh scan retried on another node records that node; at most 64 cursors are remembered', () => {
  const t = new ScanTracker();
  const a = node('a');
  const c = node('c');
  const p = new Pending();
  t.onSent(p, a, { name: 'scan', key: '', cursor: '0', db: 0 });
  assert.equal(t.isContinuation(p), false);
  t.moved(p, c);
  p.reply = b('*2\r\n$1\r\n9\r\n*0\r\n');
  t.replied(p, a);
  assert.equal(t.target({ name: 'scan', key: '', cursor: '9', db: 0 }), c);
  for (let i = 0; i < 70; i++) {
    const x = new Pending();
    t.onSent(x, a, { name: 'sscan', key: `k${i}`, cursor: '0', db: 0 });
    x.reply = b('*2\r\n$1\r\n7\r\n*0\r\n');
    t.replied(x, a);
  }
  // The oldest cursors were forgotten: cursor 9 now falls back to the node of the latest reply.
  assert.equal(t.target({ name: 'scan', key: '', cursor: '9', db: 0 }), a);
});

test('the same cursor issued again (an abandoned scan, another node) goes to the newest issuer', () => {
  const t = new ScanTracker();
  const m = node('master');
  const a = node('replica:a');
  for (const n of [m, a]) {
    const p = new Pending();
    t.onSent(p, n, { name: 'scan', key: '', cursor: '0', db: 0 });
    p.reply = b('*2\r\n$3\r\n960\r\n*0\r\n');
    t.replied(p, m);
  }
  assert.equal(t.target({ name: 'scan', key: '', cursor: '960', db: 0 }), a);
});
