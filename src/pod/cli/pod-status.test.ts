/** @module The Job's and a failed pod's status as kubectl and the status page show them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PodStatus } from '../runtime/pod.js';
import type { JobStatus } from './job-controller.js';
import { jobDisplayStatus, jobObject, podDisplayStatus, podList } from './pod-status.js';
import { statusPage } from './status-page.js';

const failed: JobStatus = { name: 'work', namespace: 'default', completions: 3, parallelism: 2, active: 0, succeeded: 1, failed: 7, completedIndexes: '0', startTime: 0, condition: { type: 'Failed', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', at: 5000 } };

test('a Job as batch/v1 shows it: counters, completedIndexes, the Failed condition with its reason', () => {
  const o = jobObject(failed);
  assert.equal(o.kind, 'Job');
  assert.deepEqual([o.status.active, o.status.succeeded, o.status.failed, o.status.completedIndexes], [0, 1, 7, '0']);
  assert.deepEqual(o.status.conditions, [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: new Date(5000).toISOString() }]);
  assert.equal(jobDisplayStatus(failed), 'Failed (BackoffLimitExceeded)');
  assert.equal(jobDisplayStatus({ ...failed, condition: undefined }), 'Running');
  assert.deepEqual(podList([], 0, [failed]).items.map((i) => i.kind), ['Job']);
});

test('the status page lists the Jobs, a failed one marked with its reason', () => {
  const html = statusPage([], 10_000, [failed]);
  assert.match(html, /<tr class="job failing" data-job="work"><td>default\/work<\/td><td class="state">Failed \(BackoffLimitExceeded\)<\/td><td>1\/3<\/td><td>0<\/td><td>7<\/td>/);
});

test('a pod the kubelet failed past its activeDeadlineSeconds shows the reason as its status (and in its PodStatus)', () => {
  const p: PodStatus = { name: 'p', namespace: 'default', phase: 'Failed', podIP: '', ready: false, containers: [], setup: 'ready', reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline' };
  assert.equal(podDisplayStatus(p), 'DeadlineExceeded');
  const item = podList([{ status: p }]).items[0] as { status: { reason?: string; message?: string; phase: string } };
  assert.deepEqual([item.status.phase, item.status.reason, item.status.message], ['Failed', 'DeadlineExceeded', 'Pod was active on the node longer than the specified deadline']);
});
