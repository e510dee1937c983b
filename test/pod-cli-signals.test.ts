/** @module `podkit up` under a pipe and on signals: a lost reader never crashes the runner, and pods stop the Kubernetes way. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downAllPods, podStateDir, pollUntil, startPodkit, stopAll, waitForOutput, withTimeout, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

/** A pod whose container writes a line a second and records in `mark` that it saw SIGTERM (or ignores it). */
function pod(name: string, mark: string, opts: { ignoreTerm?: boolean; grace?: number } = {}): string {
  const trap = opts.ignoreTerm ? `trap 'echo ignoring TERM' TERM` : `trap 'echo got TERM > ${mark}; exit 0' TERM`;
  return yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: ${opts.grace ?? 10}
  containers:
    - name: c
      image: busybox
      command: ["sh", "-c", "${trap}; while :; do echo tick; sleep 0.2 & wait; done"]
`, `${name}.yaml`);
}

const noTrace = (stderr: string) => assert.doesNotMatch(stderr, /EPIPE|node:events|at .*\.js:\d+/, stderr);

describe('podkit up under a pipe', () => {
  test('the reader goes away, then Ctrl-C: SIGTERM reaches the container, no crash, no pod left', async () => {
    const dir = podStateDir();
    const mark = join(mkdtempSync(join(tmpdir(), 'podkit-sig-')), 'term');
    const p = startPodkit(['up', '--sandbox=host', '--state-dir', dir, pod('piped', mark)]);
    await waitForOutput(p, /piped\/c ready/, 30_000);
    await pollUntil(() => p.stdout().includes('tick') || undefined, { timeoutMs: 10_000, what: 'a container line' });
    // What a terminal's Ctrl-C does to `podkit up | tee`: tee dies, and podkit up gets SIGINT.
    p.child.stdout!.destroy();
    p.signal('SIGINT');
    assert.equal(await withTimeout(p.exited, 30_000, 'runner exit'), 0);
    assert.equal(readFileSync(mark, 'utf8'), 'got TERM\n');
    assert.match(p.stderr(), /stopping pods \(SIGINT; Ctrl-C again to force\)/);
    noTrace(p.stderr());
    assert.equal(existsSync(join(dir, 'pods', 'piped')), false);
  });

  test('the reader goes away on its own (| head): the pods stop as for SIGTERM', async () => {
    const dir = podStateDir();
    const mark = join(mkdtempSync(join(tmpdir(), 'podkit-sig-')), 'term');
    const p = startPodkit(['up', '--sandbox=host', '--state-dir', dir, pod('headed', mark)]);
    await waitForOutput(p, /headed\/c ready/, 30_000);
    p.child.stdout!.destroy();
    assert.equal(await withTimeout(p.exited, 30_000, 'runner exit'), 0);
    assert.equal(readFileSync(mark, 'utf8'), 'got TERM\n');
    assert.match(p.stderr(), /stopping pods \(output closed\)/);
    noTrace(p.stderr());
  });
});

describe('signals', () => {
  test('SIGTERM does not offer a Ctrl-C; a container ignoring SIGTERM gets a countdown, then SIGKILL', async () => {
    const dir = podStateDir();
    const p = startPodkit(['up', '--sandbox=host', '--state-dir', dir, pod('stubborn', '/dev/null', { ignoreTerm: true, grace: 4 })]);
    await waitForOutput(p, /stubborn\/c ready/, 30_000);
    p.signal('SIGTERM');
    assert.equal(await withTimeout(p.exited, 30_000, 'runner exit'), 0);
    const err = p.stderr();
    assert.match(err, /stopping pods \(SIGTERM\)\n/);
    assert.doesNotMatch(err, /Ctrl-C/);
    assert.match(err, /stubborn\/c is still running after SIGTERM; SIGKILL in 3s\n/);
    assert.match(err, /stubborn\/c is still running after SIGTERM; SIGKILL in 1s\n/);
    assert.match(err, /stubborn\/c sigkill\n/);
    assert.match(err, /stubborn\/c exit \(killed by SIGKILL\)/);
  });
});
