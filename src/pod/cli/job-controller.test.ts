/** @module The Job controller's rules against pods that end when told, under a fake clock: back-off, limits, deadline, naming. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../runtime/clock.js';
import type { PodPhase, PodStatus } from '../runtime/pod.js';
import type { JobPlan, PodPlan } from '../spec/index.js';
import { JobController, ranges, type JobPod, type JobResult } from './job-controller.js';

class FakePod implements JobPod {
  readonly done: Promise<PodPhase>;
  private end!: (p: PodPhase) => void;
  phase: PodPhase = 'Pending';
  restarts = 0;
  constructor(readonly name: string) {
    this.done = new Promise((r) => (this.end = r));
  }
  status(): PodStatus {
    return { name: this.name, namespace: 'default', phase: this.phase, podIP: '', ready: false, setup: 'ready', containers: [{ name: 'c', kind: 'main', state: 'running', reason: '', restarts: this.restarts, started: true, ready: false, probes: [] }] };
  }
  finish(p: PodPhase): void {
    if (this.phase === 'Succeeded' || this.phase === 'Failed' || this.phase === 'Stopped') return;
    this.phase = p;
    this.end(p);
  }
  stop(): Promise<void> {
    this.finish('Stopped');
    return Promise.resolve();
  }
}

const flush = () => new Promise((r) => setImmediate(r));

function rig(job: Partial<JobPlan>, n = job.completions ?? 1) {
  const plan: JobPlan = { name: 'j', namespace: 'default', parallelism: 1, indexed: false, backoffLimit: 6, restartPolicy: 'Never', source: 't', ...job };
  const clock = new FakeClock();
  const pods: FakePod[] = [];
  const running: FakePod[] = [];
  const logs: string[] = [];
  const made: PodPlan[] = [];
  let seq = 0;
  const plans = Array.from({ length: n }, (_, i): PodPlan => ({ name: `j-${i}`, namespace: 'default', uid: `u${i}`, labels: {}, annotations: {}, spec: { containers: [] }, job: { key: 'default/j', index: i }, source: 't' }));
  const initial = plans.map((p) => {
    const pod = new FakePod(p.name);
    pods.push(pod);
    return { plan: p, pod };
  });
  const c = new JobController(plan, initial, {
    clock,
    backoff: { firstMs: 10_000, maxMs: 360_000 },
    start: async (p) => {
      (p as FakePod).phase = 'Running';
      running.push(p as FakePod);
    },
    create: async (p) => {
      made.push(p);
      const pod = new FakePod(p.name);
      pods.push(pod);
      return pod;
    },
    ended: () => undefined,
    stopping: () => false,
    log: (l) => logs.push(l),
    changed: () => undefined,
    suffix: () => `r${seq++}`,
  });
  let result: JobResult | undefined;
  void c.done.then((r) => (result = r));
  c.run();
  const live = () => running.filter((p) => p.phase === 'Running');
  return { c, clock, pods, live, logs, made, result: () => result };
}

test('Never: each failed pod is replaced after 10 s, 20 s, 40 s … (6 min cap); the 7th failure passes backoffLimit 6: Failed, BackoffLimitExceeded', async () => {
  const r = rig({});
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    await flush();
    assert.equal(r.live().length, 1, `attempt ${i + 1} running`);
    r.live()[0].finish('Failed');
    await flush();
    if (i < 6) {
      delays.push(r.clock.pending()[0]);
      assert.equal(r.live().length, 0, 'no pod during the back-off');
      r.clock.advance(r.clock.pending()[0]);
    }
  }
  await flush();
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 320_000]);
  assert.equal(r.result(), 'Failed');
  const st = r.c.status();
  assert.deepEqual([st.succeeded, st.failed, st.active, st.condition?.type, st.condition?.reason], [0, 7, 0, 'Failed', 'BackoffLimitExceeded']);
  assert.deepEqual(r.pods.map((p) => p.name), ['j-0', 'j-0-r0', 'j-0-r1', 'j-0-r2', 'j-0-r3', 'j-0-r4', 'j-0-r5']);
});

test('the back-off is capped at 6 minutes and a success starts it over', async () => {
  const r = rig({ completions: 2, backoffLimit: 20 });
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    await flush();
    r.live()[0].finish('Failed');
    await flush();
    delays.push(r.clock.pending()[0]);
    r.clock.advance(r.clock.pending()[0]);
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 360_000]);
  await flush();
  r.live()[0].finish('Succeeded');
  await flush();
  assert.equal(r.live().length, 1, 'the next pod at once after a success');
  r.live()[0].finish('Failed');
  await flush();
  assert.deepEqual(r.clock.pending(), [10_000]);
});

test('backoffLimit 0: the first failure fails the Job, no replacement', async () => {
  const r = rig({ backoffLimit: 0 });
  await flush();
  r.live()[0].finish('Failed');
  await flush();
  assert.equal(r.result(), 'Failed');
  assert.equal(r.pods.length, 1);
});

test('Indexed: a failed index is retried in that index (same hostname); parallelism bounds the pods; the Job completes with every index', async () => {
  const r = rig({ completions: 3, parallelism: 2, indexed: true }, 3);
  await flush();
  assert.deepEqual(r.live().map((p) => p.name), ['j-0', 'j-1']);
  r.live()[1].finish('Failed');
  await flush();
  r.clock.advance(10_000);
  await flush();
  assert.deepEqual(r.live().map((p) => p.name), ['j-0', 'j-1-r0'], 'index 1 again, before index 2');
  assert.deepEqual([r.made[0].job?.index, r.made[0].spec.hostname], [1, 'j-1']);
  for (const p of r.live()) p.finish('Succeeded');
  await flush();
  assert.deepEqual(r.live().map((p) => p.name), ['j-2']);
  r.live()[0].finish('Succeeded');
  await flush();
  assert.equal(r.result(), 'Complete');
  assert.deepEqual([r.c.status().succeeded, r.c.status().failed, r.c.status().completedIndexes], [3, 1, '0-2']);
});

test('OnFailure: container restarts of the running pods count; reaching backoffLimit fails the Job and stops its pod', async () => {
  const r = rig({ restartPolicy: 'OnFailure', backoffLimit: 2 });
  await flush();
  const pod = r.live()[0];
  pod.restarts = 1;
  r.c.observe();
  assert.equal(r.result(), undefined);
  pod.restarts = 2;
  r.c.observe();
  await flush();
  assert.equal(pod.phase, 'Stopped');
  assert.equal(r.result(), 'Failed');
  assert.equal(r.c.status().condition?.reason, 'BackoffLimitExceeded');
  assert.equal(r.c.status().failed, 1, 'the stopped pod counts as failed');
});

test('activeDeadlineSeconds: the Job fails with DeadlineExceeded and its running pods are stopped', async () => {
  const r = rig({ completions: 2, parallelism: 2, activeDeadlineSeconds: 30 }, 2);
  await flush();
  r.clock.advance(29_999);
  assert.equal(r.live().length, 2);
  r.clock.advance(1);
  await flush();
  assert.equal(r.result(), 'Failed');
  assert.equal(r.c.status().condition?.reason, 'DeadlineExceeded');
  assert.ok(r.pods.every((p) => p.phase === 'Stopped'));
});

test('a work queue (no completions): done once one pod succeeded and none runs', async () => {
  const r = rig({ parallelism: 2 }, 2);
  await flush();
  r.live()[0].finish('Succeeded');
  await flush();
  assert.equal(r.result(), undefined, 'the other pod still runs');
  assert.equal(r.live().length, 1);
  r.live()[0].finish('Succeeded');
  await flush();
  assert.equal(r.result(), 'Complete');
});

test('completedIndexes as Kubernetes writes them', () => {
  assert.equal(ranges([4, 0, 1, 2, 7, 8]), '0-2,4,7-8');
  assert.equal(ranges([]), '');
});
