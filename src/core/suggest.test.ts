import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closest, didYouMean, editDistance } from './suggest.js';

test('edit distance and the nearest known name within two edits', () => {
  assert.equal(editDistance('kitten', 'sitting'), 3);
  assert.equal(editDistance('', 'abc'), 3);
  assert.equal(closest('imagePullPolicyy', ['image', 'imagePullPolicy', 'name']), 'imagePullPolicy');
  assert.equal(closest('REPO', ['repo', 'ref']), 'repo');
  assert.equal(closest('completely-different', ['repo', 'ref']), undefined);
  assert.equal(didYouMean('perod', ['period']), ' (did you mean "period"?)');
  assert.equal(didYouMean('zzz', ['period']), '');
});
