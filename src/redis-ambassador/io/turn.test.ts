import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beginTurn, clock, endTurn, markDirty, type Flushable } from './turn.js';

function conn(log: string[], name: string, onFlush?: () => void): Flushable {
  return {
    dirty: false,
    flush() {
      log.push(name);
      onFlush?.();
    },
  };
}

const nextImmediate = () => new Promise((r) => setImmediate(r));

test('markDirty outside a turn: flushed once, from a setImmediate, however often it was marked', async () => {
  const log: string[] = [];
  const a = conn(log, 'a');
  markDirty(a);
  markDirty(a);
  assert.deepEqual(log, []);
  await nextImmediate();
  assert.deepEqual(log, ['a']);
  assert.equal(a.dirty, false);
});

test('markDirty inside a turn: flushed at endTurn, in marking order, each once', async () => {
  const log: string[] = [];
  const a = conn(log, 'a');
  const b = conn(log, 'b');
  beginTurn();
  markDirty(b);
  markDirty(a);
  markDirty(b);
  assert.deepEqual(log, [], 'nothing is written while the turn is being read');
  endTurn();
  assert.deepEqual(log, ['b', 'a']);
  await nextImmediate();
  assert.deepEqual(log, ['b', 'a'], 'no second flush');
});

test('a connection marked again while the flush runs is written by the next setImmediate, not lost', async () => {
  const log: string[] = [];
  const b = conn(log, 'b');
  let again = true;
  const a = conn(log, 'a', () => {
    if (again) markDirty(b);
    again = false;
  });
  beginTurn();
  markDirty(a);
  endTurn();
  assert.deepEqual(log, ['a']);
  await nextImmediate();
  assert.deepEqual(log, ['a', 'b']);
});

test('clock: one reading for a whole turn, the live clock outside one', () => {
  const before = clock();
  beginTurn();
  const t = clock();
  const until = performance.now() + 2;
  while (performance.now() < until); // let the real clock move on
  assert.equal(clock(), t, 'the same stamp for everything in the turn');
  assert.ok(t >= before);
  endTurn();
  assert.ok(clock() > t, 'outside a turn it reads the clock');
});
