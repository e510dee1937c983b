/** @module Every benchmark runs in smoke mode in the test suite, so none can rot. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'run.ts' && !f.startsWith('_'))
  .map((f) => f.slice(0, -3));

test('bench runner lists benchmarks and rejects unknown ones', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'no-such-bench'], { cwd: `${dir}/..`, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown benchmark "no-such-bench"/);
});

for (const name of benches) {
  test(`bench ${name} --smoke`, { timeout: 240_000 }, () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', name, '--smoke'], { cwd: `${dir}/..`, encoding: 'utf8', timeout: 230_000 });
    assert.equal(r.status, 0, `bench ${name} --smoke failed:\n${r.stdout}\n${r.stderr}`);
    assert.ok(r.stdout.trim().length > 0, 'a benchmark prints its table');
  });
}
