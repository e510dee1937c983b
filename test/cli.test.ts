import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runPodkit, startPodkit, withTimeout } from './helpers/index.js';
import { commands } from '../src/cli/commands.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

test('podkit --version prints the package version', async () => {
  const r = await runPodkit(['--version']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, `podkit ${pkg.version}\n`);
});

test('podkit --help lists exactly the subcommands that exist', async () => {
  const r = await runPodkit(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^Usage: podkit <command> \[flags\]/);
  const listed = [...r.stdout.split('Commands:')[1].split('Flags:')[0].matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]);
  assert.deepEqual(listed, commands.map((c) => c.name));
});

test('every subcommand answers --help with its flags, and rejects an unknown flag with exit 2', async () => {
  for (const c of commands) {
    const h = await runPodkit([c.name, '--help']);
    assert.equal(h.code, 0, `${c.name} --help: ${h.stderr}`);
    assert.match(h.stdout, /^Usage: /, `${c.name} --help`);
    const bad = await runPodkit([c.name, '--definitely-not-a-flag']);
    assert.equal(bad.code, 2, `${c.name} with an unknown flag: ${bad.stdout}${bad.stderr}`);
    assert.match(bad.stderr, /--definitely-not-a-flag/);
    assert.equal(bad.stderr.trim().split('\n').length, 1, `${c.name}: one line on stderr`);
    assert.equal(bad.stderr.split(`podkit ${c.name}:`).length, 2, `${c.name}: the command is named once: ${bad.stderr}`);
  }
});

test('no command and unknown commands are usage errors (exit 2)', async () => {
  const none = await runPodkit([]);
  assert.equal(none.code, 2);
  const r = await runPodkit(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'podkit: unknown command "frobnicate" (see podkit --help)\n');
});

test('an unknown command suggests the nearest one', async () => {
  const r = await runPodkit(['upp']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'podkit: unknown command "upp" (did you mean up?) (see podkit --help)\n');
});

test('a closed stdout (podkit … | head) ends every command quietly: no stack trace', async () => {
  for (const args of [['--help'], ['up', '--help'], ['ps', '--state-dir', '/tmp/podkit-no-such-state'], ['inject', '--help']]) {
    const p = startPodkit(args);
    p.child.stdout!.destroy();
    const code = await withTimeout(p.exited, 20_000, `podkit ${args.join(' ')}`);
    assert.equal(code, 0, `podkit ${args.join(' ')}: ${p.stderr()}`);
    assert.equal(p.stderr(), '', `podkit ${args.join(' ')}`);
  }
});

test('every --help line is in one style: sentence case (the podkit: mark aside)', async () => {
  const top = await runPodkit(['--help']);
  const lines = [...top.stdout.matchAll(/^ {2}\S+ +(.+)$/gm)].map((m) => ['podkit --help', m[1]]);
  for (const c of commands) {
    const h = await runPodkit([c.name, '--help']);
    // A flag row: "  -x, --name META   Help…" or the help alone on the next line when the flag is long.
    for (const m of h.stdout.matchAll(/^ {2}(?:-\w, )?--\S+(?: \S+)? {2,}(\S.*)$|^ {8,}(\S.*)$/gm)) lines.push([`podkit ${c.name} --help`, m[1] ?? m[2]]);
    lines.push([`podkit ${c.name} --help`, h.stdout.split('\n')[2]]);
  }
  assert.deepEqual(lines.filter(([, l]) => /^(?:podkit: )?[a-z]/.test(l)), []);
});
