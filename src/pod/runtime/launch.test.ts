/** @module The container launcher script quotes every path and hands argv through untouched. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { launchScript } from './sandbox-ns.js';

test('paths with spaces and quotes reach mount unchanged; argv passes through "$@"', () => {
  const script = launchScript([{ source: "/tmp/it's a dir", target: '/mnt/$(rm -rf x) `y`', readOnly: true }], '/', false)
    // Replace the mount helper with one that prints its arguments, so the quoting can be checked without root.
    .replace(/^m\(\) \{.*\}$/m, 'm() { printf "[%s]" "$@"; echo; }');
  const out = execFileSync('sh', ['-c', script, 'podkit-launch', 'printf', '<%s>', 'a b', '$HOME'], { encoding: 'utf8' });
  assert.equal(out, "[/tmp/it's a dir][/mnt/$(rm -rf x) `y`][1]\n<a b><$HOME>");
});
