/**
 * @module A Job's failures as the Job controller handles them, with real pods: failed pods replaced (fresh names) until
 * backoffLimit, restarts counted under OnFailure, the Job's and the pod's activeDeadlineSeconds, and the Job's status
 * in `podkit ps`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, pollUntil, podStateDir, psJson, runPodkit, stopAll, tempDir, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

/** A Job whose pods share `dir` (at /shared) and run `script`. */
function job(name: string, dir: string, spec: string, script: string, restartPolicy = 'Never'): string {
  return yamlFile(`apiVersion: batch/v1
kind: Job
metadata: { name: ${name} }
spec:
${spec}
  template:
    spec:
      restartPolicy: ${restartPolicy}
      terminationGracePeriodSeconds: 1
      volumes: [{ name: shared, hostPath: { path: ${dir}, type: Directory } }]
      containers:
      - name: w
        volumeMounts: [{ name: shared, mountPath: /shared }]
        command:
        - sh
        - -c
        - |
${script.trim().split('\n').map((l) => `          ${l}`).join('\n')}
`);
}

const lines = (f: string) => (existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').filter(Boolean) : []);
const up = (file: string, ...flags: string[]) => runPodkit(['up', '--status-bind', '', '--job-backoff', '100ms', '--max-backoff', '100ms', ...flags, '--state-dir', podStateDir(), file], { timeoutMs: 120_000 });

/** Each attempt records its hostname, and how many attempts run at that moment. */
const COUNTED = `
echo "$HOSTNAME" >> /shared/attempts
touch /shared/running-$HOSTNAME
ls /shared | grep -c running >> /shared/concurrent
sleep 0.3
rm /shared/running-$HOSTNAME
`;

test('restartPolicy Never: every failed pod is replaced (a fresh name) until failures pass backoffLimit, never more than parallelism at once; then the Job fails (BackoffLimitExceeded) and up exits 1', async () => {
  const dir = tempDir('podkit-jobfail-');
  const r = await up(job('flaky', dir, '  completions: 2\n  parallelism: 2\n  backoffLimit: 3', `${COUNTED}\nexit 1`));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /job flaky failed: BackoffLimitExceeded \(Job has reached the specified backoff limit; 0 succeeded, [45] failed\)/);
  const attempts = lines(join(dir, 'attempts'));
  // backoffLimit + 1 failures end it; the other pod running then is stopped (and counted failed).
  assert.ok(attempts.length >= 4 && attempts.length <= 5, `attempts: ${attempts}`);
  assert.deepEqual(attempts.slice(0, 2).sort(), ['flaky-0', 'flaky-1']);
  for (const h of attempts.slice(2)) assert.match(h, /^flaky-[01]-[b-z2-9]{5}$/);
  assert.equal(new Set(attempts).size, attempts.length, 'each replacement has a name of its own');
  assert.ok(Math.max(...lines(join(dir, 'concurrent')).map(Number)) <= 2);
  assert.match(r.stderr, /job flaky: \d failed \(backoffLimit 3\); next pod in/);
});

test('backoffLimit 0: the first failed pod fails the Job; no replacement', async () => {
  const dir = tempDir('podkit-jobfail-');
  const r = await up(job('once', dir, '  backoffLimit: 0', `${COUNTED}\nexit 2`));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /job once failed: BackoffLimitExceeded/);
  assert.deepEqual(lines(join(dir, 'attempts')), ['once-0']);
});

test('a pod that fails, then its replacement succeeds: the Job completes and up exits 0', async () => {
  const dir = tempDir('podkit-jobfail-');
  const r = await up(job('retry', dir, '  backoffLimit: 2', `${COUNTED}\nif [ -e /shared/tried ]; then echo second try works; else touch /shared/tried; echo first try fails; exit 1; fi`));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /job retry complete \(1 succeeded, 1 failed\)/);
  assert.match(r.stdout, /^retry-0\/w \| first try fails$/m);
  assert.match(r.stdout, /^retry-0-[b-z2-9]{5}\/w \| second try works$/m);
});

test('restartPolicy OnFailure: the container restarts in its pod, and the restarts count against backoffLimit; then the Job fails and its pod is stopped', async () => {
  const dir = tempDir('podkit-jobfail-');
  const r = await up(job('crashy', dir, '  backoffLimit: 2', 'echo run >> /shared/runs\necho crashing\nexit 1', 'OnFailure'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /job crashy failed: BackoffLimitExceeded/);
  // The second restart is counted as it begins: the Job may stop the pod before that run writes its line.
  assert.ok(lines(join(dir, 'runs')).length >= 2, 'the first run and its restarts');
  assert.doesNotMatch(r.stdout, /crashy-0-/, 'restarted in place, never replaced');
  assert.match(r.stderr, /crashy-0\/w restart \(at once \(first crash\)\)[^]*crashy-0\/w backoff/);
});

test('a Job\'s activeDeadlineSeconds: its running pods are stopped and the Job fails with DeadlineExceeded; up exits 1', async () => {
  const dir = tempDir('podkit-jobfail-');
  const r = await up(job('slow', dir, '  activeDeadlineSeconds: 2\n  completions: 3\n  parallelism: 2', 'echo started\nexec sleep 300'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /job slow failed: DeadlineExceeded \(Job was active longer than specified deadline; 0 succeeded, 2 failed\)/);
  assert.equal([...r.stdout.matchAll(/\| started$/gm)].length, 2, 'the third pod never started');
});

test('a pod\'s activeDeadlineSeconds: the kubelet fails it (DeadlineExceeded) that long after it started', async () => {
  const f = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: bounded }
spec:
  restartPolicy: Never
  activeDeadlineSeconds: 1
  terminationGracePeriodSeconds: 1
  containers:
  - { name: s, command: [sh, -c, 'echo started; exec sleep 300'] }
`);
  const r = await up(f);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /podkit: bounded deadline \(DeadlineExceeded after 1s\)/);
  assert.match(r.stderr, /bounded pod-finished \(Failed\)/);
  assert.doesNotMatch(r.stderr, /warning.*activeDeadlineSeconds/);
});

test('a Job\'s status in podkit ps (and ps --json): succeeded and failed counts and the reason it failed', async () => {
  const dir = tempDir('podkit-jobfail-');
  const state = podStateDir();
  const f = job('shown', dir, '  backoffLimit: 1\n  completions: 2', 'exit 1');
  const d = await runPodkit(['up', '-d', '--job-backoff', '100ms', '--state-dir', state, f], { timeoutMs: 60_000 });
  assert.equal(d.code, 0, d.stderr);
  const rec = await pollUntil(
    async () => {
      const ps = await runPodkit(['ps', '--json', '--state-dir', state]);
      const rows = JSON.parse(ps.stdout) as { job?: { failed: number; succeeded: number; condition?: { type: string; reason?: string } } }[];
      return rows.map((x) => x.job).find((j) => j?.condition?.type === 'Failed');
    },
    { timeoutMs: 60_000, what: 'the Job failed in ps --json' },
  );
  assert.deepEqual([rec.succeeded, rec.failed, rec.condition?.reason], [0, 2, 'BackoffLimitExceeded']);
  const ps = await runPodkit(['ps', '--state-dir', state]);
  assert.match(ps.stdout, /^JOB +STATUS +COMPLETIONS +ACTIVE +FAILED +DURATION$/m);
  assert.match(ps.stdout, /^shown +Failed \(BackoffLimitExceeded\) +0\/2 +0 +2 /m);
  const down = await runPodkit(['down', '--all', '--state-dir', state], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
});

test('podkit down of a detached Job waiting out its back-off (only finished pods left) stops the Job: its runner ends, no replacement comes', async () => {
  const dir = tempDir('podkit-jobfail-');
  const state = podStateDir();
  const f = job('waiting', dir, '  backoffLimit: 5', `${COUNTED}\nexit 1`);
  const d = await runPodkit(['up', '-d', '--job-backoff', '60s', '--state-dir', state, f], { timeoutMs: 60_000 });
  assert.equal(d.code, 0, d.stderr);
  const row = await pollUntil(async () => (await psJson(state)).find((p) => p.name === 'waiting-0' && p.phase === 'Failed'), { timeoutMs: 30_000, what: 'waiting-0 Failed' });
  assert.ok(row);
  const runner = JSON.parse(readFileSync(join(state, 'pods', 'waiting-0', 'state.json'), 'utf8')) as { runner: { pid: number } };
  const down = await runPodkit(['down', '--all', '--state-dir', state], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  await pollUntil(() => !isAlive(runner.runner.pid) || undefined, { timeoutMs: 30_000, what: 'the runner to end' });
  assert.deepEqual(lines(join(dir, 'attempts')), ['waiting-0']);
  assert.deepEqual(await psJson(state), []);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
