/** @module The seeded mutator the hostile-input tests use: one seed, one sequence of cases. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, fuzzSeed, mutate, mutateNumber, splitRandomly } from './helpers/fuzz.js';

test('one seed gives the same mutations on every run; pieces of a split join back to the input', () => {
  const input = Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n');
  const run = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => mutate(input, rng, 1 + rng.int(3)).toString('hex') + mutateNumber('$12\r\n', rng));
  };
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
  const rng = new Rng(1);
  for (let i = 0; i < 100; i++) assert.deepEqual(Buffer.concat(splitRandomly(input, rng)), input);
});

test('PODKIT_FUZZ_SEED moves every fuzzer to other cases, the same for the same value; empty, 0 or not an integer keeps the fixed seed', () => {
  for (const env of ['', '0', 'x', '1.5']) assert.equal(fuzzSeed(7, env), 7);
  assert.equal(fuzzSeed(7, '42'), fuzzSeed(7, '42'));
  assert.notEqual(fuzzSeed(7, '42'), 7);
  assert.notEqual(fuzzSeed(7, '42'), fuzzSeed(8, '42'));
  assert.notEqual(fuzzSeed(7, '42'), fuzzSeed(7, '43'));
  const seen = new Set(Array.from({ length: 300 }, (_, i) => fuzzSeed(i + 1, '5001')));
  assert.equal(seen.size, 300);
});
