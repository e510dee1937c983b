/** @module Back-off schedule and the fake clock. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff } from './backoff.js';
import { FakeClock } from './clock.js';

test('back-off doubles from 10 s to the 300 s cap and resets after 10 minutes of running', () => {
  const b = new Backoff();
  const seq = Array.from({ length: 8 }, () => b.next(1000));
  assert.deepEqual(seq, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
  assert.equal(b.next(600_000), 10_000);
  assert.equal(b.next(599_999), 20_000);
});

test('a container restart back-off: the first restart is immediate, then 10 s doubling to 300 s; 10 minutes of running start over at immediate', () => {
  const b = new Backoff({ immediateFirst: true });
  assert.deepEqual(Array.from({ length: 8 }, () => b.next(1000)), [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  assert.equal(b.next(600_000), 0);
  assert.equal(b.next(1), 10_000);
});

test('the cap is adjustable and bounds the first delay too', () => {
  const b = new Backoff({ maxMs: 2000 });
  assert.deepEqual([b.next(0), b.next(0)], [2000, 2000]);
  const c = new Backoff({ initialMs: 100, maxMs: 350 });
  assert.deepEqual([c.next(0), c.next(0), c.next(0)], [100, 200, 350]);
});

test('fake clock fires timers in time order, including ones scheduled while advancing', () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.after(30, () => fired.push(`b@${clock.now()}`));
  clock.after(10, () => {
    fired.push(`a@${clock.now()}`);
    clock.after(5, () => fired.push(`c@${clock.now()}`));
  });
  const t = clock.after(20, () => fired.push('cancelled'));
  t.cancel();
  clock.advance(25);
  assert.deepEqual(fired, ['a@10', 'c@15']);
  assert.deepEqual(clock.pending(), [5]);
  clock.advance(5);
  assert.deepEqual(fired, ['a@10', 'c@15', 'b@30']);
});
