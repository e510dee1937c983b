/** @module waitFor: checked first without a pause, true once the condition holds, false at the deadline (after one last check) or on abort. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './wait.js';
import { InternalError } from './errors.js';

test('a condition that holds already: true after one check, no pause', async () => {
  let calls = 0;
  assert.equal(await waitFor(() => ++calls > 0, { timeoutMs: 0, intervalMs: 1000 }), true);
  assert.equal(calls, 1);
});

test('checked until it holds, sync or async', async () => {
  let calls = 0;
  assert.equal(await waitFor(() => ++calls === 3, { timeoutMs: 60_000, intervalMs: 1 }), true);
  assert.equal(calls, 3);
  let asyncCalls = 0;
  assert.equal(await waitFor(async () => ++asyncCalls === 4, { timeoutMs: 60_000, intervalMs: 1 }), true);
  assert.equal(asyncCalls, 4);
});

test('a condition that never holds: false, and the last check is made at the deadline', async () => {
  const checks: number[] = [];
  const started = Date.now();
  assert.equal(await waitFor(() => (checks.push(Date.now()), false), { timeoutMs: 30, intervalMs: 10 }), false);
  assert.ok(checks.length >= 2, 'checked more than once');
  assert.ok(checks[checks.length - 1] >= started + 30, 'one check at or after the deadline');
  let once = 0;
  assert.equal(await waitFor(() => (once++, false), { timeoutMs: 0, intervalMs: 10 }), false);
  assert.equal(once, 1, 'a zero timeout checks once');
});

test('an abort ends the wait with false: before it starts (no check) and during a pause', async () => {
  let calls = 0;
  assert.equal(await waitFor(() => (calls++, true), { timeoutMs: 1000, intervalMs: 10, signal: AbortSignal.abort() }), false);
  assert.equal(calls, 0);
  const ac = new AbortController();
  calls = 0;
  assert.equal(await waitFor(() => (++calls === 2 && ac.abort(), false), { timeoutMs: 600_000, intervalMs: 5, signal: ac.signal }), false);
  assert.equal(calls, 2, 'no check after the abort');
  const ac2 = new AbortController();
  const long = waitFor(() => false, { timeoutMs: 600_000, intervalMs: 600_000, signal: ac2.signal });
  ac2.abort();
  assert.equal(await long, false, 'a ten-minute pause ends with the abort');
});

test('a predicate that throws ends the wait with its error; bad options are a bug, said so', async () => {
  await assert.rejects(waitFor(() => {
    throw new RangeError('boom');
  }, { timeoutMs: 1000, intervalMs: 1 }), RangeError);
  await assert.rejects(waitFor(async () => Promise.reject(new TypeError('async boom')), { timeoutMs: 1000, intervalMs: 1 }), TypeError);
  await assert.rejects(waitFor(() => true, { timeoutMs: 10, intervalMs: 0 }), InternalError);
  await assert.rejects(waitFor(() => true, { timeoutMs: NaN, intervalMs: 1 }), InternalError);
});
