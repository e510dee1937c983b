/** @module `podkit up` as kubectl users type it: -f FILE, and YAML syntax errors that point at the line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PODKIT_MAIN, runPodkit, runStatus as run, yamlFile } from './helpers/index.js';

const FIX = new URL('./fixtures/pod/', import.meta.url).pathname;

test('podkit up -f FILE (repeatable) is the same as FILE arguments', async () => {
  const r = await runPodkit(['up', '--dry-run', '-f', join(FIX, 'redis.yaml')]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'default/redis-0: redis\ndefault/redis-1: redis\n');
  const both = await runPodkit(['up', '--dry-run', '-f', join(FIX, 'redis.yaml'), '--filename', join(FIX, 'web.yaml')]);
  assert.equal(both.code, 0, both.stderr);
  assert.match(both.stdout, /default\/redis-1: redis\ndefault\/web: /);
});

test('a YAML syntax error prints file:line:column: message, the offending line and a caret; exit 2', async () => {
  const text = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers: [ {name: a, image: b}\n';
  const file = yamlFile(text, 'broken.yaml');
  const r = await runPodkit(['up', '--dry-run', file]);
  assert.equal(r.code, 2);
  const m = /^error: (\S+broken\.yaml):(\d+):(\d+): YAML: (.+)\n {2}(.*)\n {2}( *)\^$/m.exec(r.stderr);
  assert.ok(m, r.stderr);
  const [, , line, col, , shown, pad] = m;
  assert.equal(shown, text.split('\n')[Number(line) - 1]);
  assert.equal(pad.length, Number(col) - 1);
  // The last line is the one-line summary, naming the file and position.
  assert.match(r.stderr.trim().split('\n').at(-1)!, new RegExp(`^podkit up: \\S+broken\\.yaml:${line}:${col}: YAML: `));
});

test('--sandbox=host as a user who cannot write the state folder: exit 2 naming --state-dir and PODKIT_STATE_DIR, at once', { skip: process.getuid?.() !== 0 && 'needs root to run as nobody' }, async () => {
  for (const args of [['up', '--sandbox=host'], ['up', '-d', '--sandbox=host']]) {
    const env = { ...process.env };
    delete env.PODKIT_STATE_DIR;
    const r = await run('runuser', ['-u', 'nobody', '--', process.execPath, PODKIT_MAIN, ...args, join(FIX, 'web.yaml')], { timeoutMs: 20_000, env });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, 'podkit up: --state-dir: cannot write the state folder /run/podkit (permission denied): give a writable one with --state-dir DIR or PODKIT_STATE_DIR=DIR\n');
  }
});
