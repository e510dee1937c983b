import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cores, cpusOf, headroom, machineBusy, pinTo, podPlacement, procCpu, procRuntime } from './_machine.js';

test('headroom: ceiling and budget follow from the peer rate, the machine CPU per request and our share', () => {
  // The peer's run costs cores × 1e6 / rps µs of machine time per request.
  const capacity = (cores * 1e6) / 100_000;
  const h = headroom(100_000, 15, 5, 1.6);
  assert.equal(h.rig, 10);
  assert.equal(h.ceiling, capacity / 10);
  assert.equal(h.budget, capacity / 1.6 - 10);
  // A proxy spending exactly the budget reaches the target: rig + budget = capacity ÷ target.
  assert.ok(Math.abs(h.rig + h.budget - capacity / 1.6) < 1e-9);
});

test('machine and process CPU counters read from /proc and only grow', () => {
  const b0 = machineBusy();
  const c0 = procCpu(process.pid);
  let x = 0;
  for (let i = 0; i < 2e7; i++) x += i;
  assert.ok(x > 0);
  assert.ok(machineBusy() >= b0);
  const c1 = procCpu(process.pid);
  assert.ok(c1.user + c1.sys >= c0.user + c0.sys);
  assert.ok(Number.isFinite(c1.user) && Number.isFinite(c1.sys));
});

test('run time per thread reads to the nanosecond and agrees with the tick counters', () => {
  const t0 = procRuntime(process.pid);
  const c0 = procCpu(process.pid);
  let x = 0;
  for (let i = 0; i < 5e7; i++) x += i;
  assert.ok(x > 0);
  const t1 = procRuntime(process.pid);
  const c1 = procCpu(process.pid);
  const ticks = c1.user + c1.sys - c0.user - c0.sys;
  assert.ok(t1 > t0);
  // Not a whole number of 10 ms ticks, and within two ticks (plus the reading's own cost) of what the ticks counted.
  assert.notEqual(Math.round((t1 - t0) * 1e9) % 10_000_000, 0);
  assert.ok(Math.abs(t1 - t0 - ticks) < 0.05, `${t1 - t0} vs ${ticks}`);
});

test('the pod placement: client and proxy on the first half of the cores, servers on the rest; off on request', () => {
  assert.deepEqual(podPlacement(2, undefined), { pod: '0', servers: '1' });
  assert.deepEqual(podPlacement(3, undefined), { pod: '0', servers: '1-2' });
  assert.deepEqual(podPlacement(8, undefined), { pod: '0-3', servers: '4-7' });
  assert.equal(podPlacement(1, undefined), null);
  assert.equal(podPlacement(2, 'off'), null);
});

test('pinTo pins every thread of a running process, as /proc reports it', { skip: cores < 2 && 'one core: nothing to pin' }, async () => {
  // node itself: several threads (V8, libuv) by the time it sleeps in setTimeout
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
  try {
    await new Promise((resolve, reject) => child.once('spawn', resolve).once('error', reject));
    const last = String(cores - 1);
    pinTo(child.pid!, last);
    assert.equal(cpusOf(child.pid!), last);
    for (const tid of readdirSync(`/proc/${child.pid}/task`))
      assert.match(readFileSync(`/proc/${child.pid}/task/${tid}/status`, 'utf8'), new RegExp(`^Cpus_allowed_list:\\s+${last}$`, 'm'));
  } finally {
    child.kill();
  }
});
