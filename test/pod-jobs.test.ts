/** @module Jobs as the Job controller runs them locally: completions at most parallelism at once, Indexed completion mode (JOB_COMPLETION_INDEX and the index annotation), `backoffLimit` (failed pods replaced, restarts counted), `activeDeadlineSeconds` (Job and pod), the Job's status, and `podkit up`'s exit code from the Job's result. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, podStateDir, runPodkit, stopAll, tempDir, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

/** The Kubernetes documentation's application/job/indexed-job.yaml, unchanged. */
const INDEXED = new URL('./fixtures/pod/indexed-job.yaml', import.meta.url).pathname;

test('the documentation\'s Indexed Job: five completions, three at a time, each pod reversing its item: oof rab zab xuq zyx; up exits 0', async () => {
  const r = await runPodkit(['up', '--status-bind', '', '--state-dir', podStateDir(), INDEXED], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  const words = [...r.stdout.matchAll(/^indexed-job-(\d)\/worker \| (\w+)$/gm)].sort((a, b) => Number(a[1]) - Number(b[1])).map((m) => m[2]);
  assert.equal(words.join(' '), 'oof rab zab xuq zyx');
});

test('a Job with completions runs that many pods, never more than parallelism at once; the index annotation is readable; a failed pod makes up exit 1', async () => {
  const shared = tempDir('podkit-job-');
  const job = (fail: boolean) =>
    yamlFile(`apiVersion: batch/v1
kind: Job
metadata: { name: work${fail ? 'fail' : ''} }
spec:
  completions: 4
  parallelism: 2
  backoffLimit: 1
  completionMode: Indexed
  template:
    metadata: { labels: { app: work } }
    spec:
      restartPolicy: Never
      volumes: [{ name: shared, hostPath: { path: ${shared}, type: Directory } }]
      containers:
      - name: w
        env: [{ name: IDX, valueFrom: { fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } }]
        volumeMounts: [{ name: shared, mountPath: /shared }]
        command:
        - sh
        - -c
        - |
          touch /shared/running-$JOB_COMPLETION_INDEX
          ls /shared | grep -c running >> /shared/concurrent
          sleep 0.5
          rm /shared/running-$JOB_COMPLETION_INDEX
          echo "index $JOB_COMPLETION_INDEX annotation $IDX" >> /shared/done
          ${fail ? 'test "$JOB_COMPLETION_INDEX" != 2' : 'true'}
`);
  const ok = await runPodkit(['up', '--status-bind', '', '--state-dir', podStateDir(), job(false)], { timeoutMs: 90_000 });
  assert.equal(ok.code, 0, ok.stderr);
  const done = readFileSync(join(shared, 'done'), 'utf8').trim().split('\n').sort();
  assert.deepEqual(done, [0, 1, 2, 3].map((i) => `index ${i} annotation ${i}`));
  const counts = readFileSync(join(shared, 'concurrent'), 'utf8').trim().split('\n').map(Number);
  assert.equal(counts.length, 4);
  assert.ok(Math.max(...counts) <= 2, `at most 2 at once: ${counts}`);
  const failed = await runPodkit(['up', '--status-bind', '', '--job-backoff', '100ms', '--state-dir', podStateDir(), job(true)], { timeoutMs: 90_000 });
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stderr, /job workfail failed: BackoffLimitExceeded/);
});
