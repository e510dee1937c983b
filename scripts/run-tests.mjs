// Runs every *.test.ts under src/ and test/ with node:test (TypeScript through tsx).
// Usage: node scripts/run-tests.mjs [path-substring …]   (filters test files; default all)
// PODKIT_TEST_CONCURRENCY sets how many test files run at once (default 2).
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}
const filters = process.argv.slice(2);
const files = ['src', 'test', 'bench'].flatMap((d) => find(join(root, d))).filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(1);
}
const args = [
  '--import', 'tsx',
  '--test',
  `--test-concurrency=${process.env.PODKIT_TEST_CONCURRENCY ?? 2}`,
  `--test-timeout=${process.env.PODKIT_TEST_TIMEOUT ?? 600000}`,
  '--test-reporter=spec',
  ...files,
];
const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit', env: { ...process.env, PODKIT_LOG_FORMAT: process.env.PODKIT_LOG_FORMAT ?? 'json' } });
child.on('exit', (code, sig) => process.exit(code ?? (sig ? 1 : 0)));
