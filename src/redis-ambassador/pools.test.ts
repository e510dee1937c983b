import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs } from './pools.js';

test('backoffMs: exponential from 50 ms doubling to a 2 s cap, each delay jittered within [half, whole] of its step', () => {
  for (let f = 1; f <= 12; f++) {
    const base = Math.min(2000, 50 * 2 ** f);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const d = backoffMs(f);
      assert.ok(d >= base / 2 && d <= base, `failure ${f}: ${d} ms outside [${base / 2}, ${base}]`);
      seen.add(Math.round(d));
    }
    // Jitter: reconnecting ambassadors do not come back in lockstep.
    assert.ok(seen.size > 20, `failure ${f}: only ${seen.size} distinct delays`);
  }
  assert.ok(backoffMs(3) > backoffMs(1), 'grows');
});
