/** @module Probe worker schedule and thresholds under a fake clock (Kubernetes defaults: period 10 s, failureThreshold 3). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.js';
import { ProbeWorker, type ProbeResult } from './probes.js';

const target = { host: '127.0.0.1', ports: {}, exec: async () => ({ code: 0, output: '' }) };
const tick = () => new Promise((r) => setImmediate(r));

function worker(probe: object, results: ProbeResult[]) {
  const clock = new FakeClock();
  const transitions: string[] = [];
  const calls: number[] = [];
  let i = 0;
  const w = new ProbeWorker('readiness', probe, target, clock, (r) => transitions.push(`${r}@${clock.now()}`), undefined, async () => {
    calls.push(clock.now());
    return { result: results[Math.min(i++, results.length - 1)], detail: '' };
  });
  w.start();
  return { clock, transitions, calls, w };
}

test('defaults: first probe after initialDelay, then every 10 s; 3 failures to fail, 1 success to pass', async () => {
  const { clock, transitions, calls, w } = worker({ exec: { command: ['x'] }, initialDelaySeconds: 5 }, ['failure', 'failure', 'failure', 'success', 'failure']);
  for (let t = 0; t < 5; t++) {
    clock.advance(t === 0 ? 5000 : 10_000);
    await tick();
  }
  assert.deepEqual(calls, [5000, 15_000, 25_000, 35_000, 45_000]);
  assert.deepEqual(transitions, ['failure@25000', 'success@35000']);
  w.stop();
  clock.advance(100_000);
  await tick();
  assert.equal(calls.length, 5, 'no probes after stop');
});

test('successThreshold and failureThreshold are counted consecutively', async () => {
  const { clock, transitions } = worker({ exec: { command: ['x'] }, periodSeconds: 1, successThreshold: 2, failureThreshold: 2 }, ['success', 'failure', 'success', 'success', 'failure', 'success', 'failure', 'failure']);
  for (let t = 0; t < 8; t++) {
    clock.advance(t === 0 ? 0 : 1000);
    await tick();
  }
  assert.deepEqual(transitions, ['success@3000', 'failure@7000']);
});
