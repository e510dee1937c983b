import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exceedsBudget } from './loop.js';

// kubernetes/git-sync v4's main loop: `failCount++; if max >= 0 && failCount >= max { exit 1 }`.
test('the failure budget ends where v4 ends: 0 and 1 at the 1st failure, N at the Nth, negative never', () => {
  const firstExit = (max: number) => [1, 2, 3, 4, 5, 6].find((n) => exceedsBudget(n, max));
  assert.equal(firstExit(0), 1);
  assert.equal(firstExit(1), 1);
  assert.equal(firstExit(2), 2);
  assert.equal(firstExit(5), 5);
  assert.equal(firstExit(-1), undefined);
  assert.equal(firstExit(-7), undefined);
});
