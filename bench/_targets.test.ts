import { test } from 'node:test';
import assert from 'node:assert/strict';
import { targetRows, type Field, type Med } from './_targets.js';

/** A run's medians from a table: `cfg|test|target|field` → value; anything missing is NaN, as an empty sample's median. */
const medians =
  (t: Record<string, number>): Med =>
  (cfg, test, target, field: Field) =>
    t[`${cfg}|${test}|${target}|${field}`] ?? NaN;

const row = (rows: string[][], cfg: string, test: string, what: RegExp) => rows.find((r) => r[0] === cfg && r[1] === test && what.test(r[2]));

test('targets: ratios to nutcracker are judged inclusive (1.0× rps and equal CPU meet), and a shortfall says NOT MET', () => {
  const rows = targetRows(
    medians({
      '-c 50 -P 1|set|ambassador|rps': 100, '-c 50 -P 1|set|nutcracker|rps': 100,
      '-c 50 -P 1|get|ambassador|rps': 93, '-c 50 -P 1|get|nutcracker|rps': 100,
      '-c 1 -P 1|set|ambassador|cpu': 40, '-c 1 -P 1|set|nutcracker|cpu': 40,
      '-c 1 -P 1|get|ambassador|cpu': 41, '-c 1 -P 1|get|nutcracker|cpu': 40,
    }),
  );
  assert.deepEqual(row(rows, '-c 50 -P 1', 'SET', /rps/)?.slice(3), ['1.000×', 'met']);
  assert.deepEqual(row(rows, '-c 50 -P 1', 'GET', /rps/)?.slice(3), ['0.930×', 'NOT MET']);
  assert.deepEqual(row(rows, '-c 1 -P 1', 'SET', /CPU/)?.slice(3), ['1.000×', 'met']);
  assert.deepEqual(row(rows, '-c 1 -P 1', 'GET', /CPU/)?.slice(3), ['1.025×', 'NOT MET']);
});

test('targets: the added p50 is each proxy\'s p50 less direct Redis\'s in the same run, in whole µs', () => {
  const rows = targetRows(
    medians({
      '-c 1 -P 1|set|direct|p50': 0.063, '-c 1 -P 1|set|ambassador|p50': 0.103, '-c 1 -P 1|set|nutcracker|p50': 0.095,
      '-c 1 -P 1|get|direct|p50': 0.039, '-c 1 -P 1|get|ambassador|p50': 0.071, '-c 1 -P 1|get|nutcracker|p50': 0.071,
    }),
  );
  assert.deepEqual(row(rows, '-c 1 -P 1', 'SET', /p50/)?.slice(3), ['+40 µs / +32 µs', 'NOT MET']);
  assert.deepEqual(row(rows, '-c 1 -P 1', 'GET', /p50/)?.slice(3), ['+32 µs / +32 µs', 'met']);
});

test('targets: a config or peer that did not run (PODKIT_BENCH_CONFIGS, PODKIT_BENCH_TARGETS) reads "not run", never met', () => {
  const rows = targetRows(medians({ '-c 1 -P 1|set|ambassador|p50': 0.1, '-c 1 -P 1|set|nutcracker|p50': 0.1 }));
  assert.equal(rows.length, 10);
  for (const r of rows) assert.deepEqual(r.slice(3), ['-', 'not run']);
});
