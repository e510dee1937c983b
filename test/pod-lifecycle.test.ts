/** @module Kubernetes pod semantics with real processes in namespaced sandboxes: init/sidecar order, probes, restarts, termination. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil, stopAll, tempDir, withTimeout } from './helpers/index.js';
import { loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { PodRunner } from '../src/pod/runtime/pod.js';
import { NamespacedSandbox } from '../src/pod/runtime/sandbox-ns.js';
import { FakeClock, type Clock } from '../src/pod/runtime/clock.js';

const runners: PodRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  await stopAll();
});

let seq = 0;
function pod(yaml: string, opts: { clock?: Clock; maxBackoffMs?: number } = {}) {
  const p = parseManifests(yaml, 'test.yaml');
  const l = loadManifests(p.objects);
  const errors = [...p.issues, ...l.issues].filter((i) => i.severity === 'error');
  assert.deepEqual(errors, []);
  const dir = tempDir('podkit-pod-');
  const events: { container: string; event: string; detail?: string }[] = [];
  const output: string[] = [];
  const r = new PodRunner({
    plan: l.pods[0],
    configMaps: l.configMaps,
    secrets: l.secrets,
    sandbox: new NamespacedSandbox({ id: `lc${process.pid.toString(16).slice(-4)}${seq++}` }),
    dir,
    clock: opts.clock,
    backoff: opts.maxBackoffMs ? { maxMs: opts.maxBackoffMs } : undefined,
    event: (e) => events.push(e),
    output: (c, _s, line) => output.push(`${c}: ${line}`),
  });
  runners.push(r);
  const log = () => readFileSync(join(dir, 'events.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { container: string; event: string; detail?: string });
  return { r, events, log, dir, output };
}

/** Children of this process that are zombies (exited, not reaped). */
function zombieChildren(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return f[0] === 'Z' && Number(f[1]) === process.pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A container command that runs until SIGTERM, then exits 0. */
const loop = (name: string) => JSON.stringify(['sh', '-c', `trap "echo ${name} stopping; exit 0" TERM; echo ${name} up; while :; do sleep 0.05; done`]);

test('init containers in order, sidecars gated on their startup probe, stopped after mains in reverse order', async () => {
  const gate = tempDir('podkit-gate-');
  const { r, log } = pod(`apiVersion: v1
kind: Pod
metadata: { name: order }
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
  - { name: init-1, command: [sh, -c, 'echo one'] }
  - { name: init-2, command: [sh, -c, 'echo two'] }
  - name: side-a
    restartPolicy: Always
    command: ${loop('side-a')}
    startupProbe: { exec: { command: [test, -f, ${gate}/go] }, periodSeconds: 1, failureThreshold: 30 }
  - name: side-b
    restartPolicy: Always
    command: ${loop('side-b')}
  containers:
  - name: main
    command: ${loop('main')}
`);
  await r.start();
  await pollUntil(() => log().some((e) => e.container === 'side-a' && e.event === 'start'), { timeoutMs: 10_000, what: 'side-a start' });
  // While side-a's startup probe fails, side-b must not start.
  await pollUntil(() => (r.status().containers[2].probes[0]?.failures ?? 0) >= 1 || undefined, { timeoutMs: 10_000, what: 'side-a startup probe failing' });
  assert.equal(log().some((e) => e.container === 'side-b'), false, 'side-b waited for side-a startup probe');
  writeFileSync(join(gate, 'go'), '');
  await pollUntil(() => r.status().ready || undefined, { timeoutMs: 15_000, what: 'pod ready' });
  await withTimeout(r.stop(), 20_000, 'stop');
  const ev = log().filter((e) => ['start', 'started', 'exit', 'sigterm'].includes(e.event)).map((e) => `${e.container}:${e.event}`);
  const idx = (s: string) => {
    const i = ev.indexOf(s);
    assert.ok(i >= 0, `${s} missing in ${ev.join(' ')}`);
    return i;
  };
  assert.ok(idx('init-1:exit') < idx('init-2:start'));
  assert.ok(idx('init-2:exit') < idx('side-a:start'));
  assert.ok(idx('side-a:started') < idx('side-b:start'));
  assert.ok(idx('side-b:started') < idx('main:start'));
  assert.ok(idx('main:exit') < idx('side-b:sigterm'), ev.join(' '));
  assert.ok(idx('side-b:exit') < idx('side-a:sigterm'), ev.join(' '));
  assert.equal(r.phase, 'Stopped');
});

test('a readiness probe gates Ready both ways', async () => {
  const flag = tempDir('podkit-ready-');
  const { r } = pod(`apiVersion: v1
kind: Pod
metadata: { name: ready }
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.05; done']
    readinessProbe: { exec: { command: [test, -f, ${flag}/ok] }, periodSeconds: 1, failureThreshold: 1 }
`);
  await r.start();
  await pollUntil(() => r.status().containers[0].probes[0]?.last, { timeoutMs: 10_000, what: 'first probe' });
  assert.equal(r.status().ready, false);
  writeFileSync(join(flag, 'ok'), '');
  await pollUntil(() => r.status().ready || undefined, { timeoutMs: 10_000, what: 'ready' });
  rmSync(join(flag, 'ok'));
  await pollUntil(() => !r.status().ready || undefined, { timeoutMs: 10_000, what: 'unready' });
  await r.stop();
});

test('restart back-off under a fake clock: the first restart at once, then 10 s doubling to the cap', async () => {
  const clock = new FakeClock();
  const { r, events } = pod(
    `apiVersion: v1
kind: Pod
metadata: { name: crash }
spec:
  containers:
  - { name: crash, command: [sh, -c, 'exit 3'] }
`,
    { clock, maxBackoffMs: 80_000 },
  );
  await r.start();
  // The first crash restarts at once, without a back-off (as the kubelet does).
  await pollUntil(() => events.filter((e) => e.event === 'start').length >= 2 || undefined, { timeoutMs: 10_000, what: 'the immediate restart' });
  assert.ok(events.some((e) => e.event === 'restart'));
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    await pollUntil(() => events.filter((e) => e.event === 'backoff').length > i || undefined, { timeoutMs: 10_000, what: `back-off ${i}` });
    const d = Number(events.filter((e) => e.event === 'backoff')[i].detail!.replace('ms', ''));
    delays.push(d);
    clock.advance(d - 1);
    assert.equal(events.filter((e) => e.event === 'start').length, i + 2, 'no restart before the delay');
    clock.advance(1);
    assert.equal(events.filter((e) => e.event === 'start').length, i + 3, 'restart at the delay');
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 80_000]);
  assert.equal(r.status().containers[0].restarts, 6);
  await r.stop();
});

test('once the grace period has run out, each sidecar still gets the kubelet\'s 2 s between SIGTERM and SIGKILL (a main gets what is left)', async () => {
  const clock = new FakeClock();
  const stubborn = `[sh, -c, "trap '' TERM; echo up; while :; do sleep 0.05; done"]`;
  const { r, events, output } = pod(
    `apiVersion: v1
kind: Pod
metadata: { name: grace }
spec:
  terminationGracePeriodSeconds: 1
  initContainers: [{ name: side, restartPolicy: Always, command: ${stubborn} }]
  containers: [{ name: main, command: ${stubborn} }]
`,
    { clock },
  );
  await r.start();
  // Both shells must have set their trap (they print "up" after it), or a main killed by SIGTERM ends before the
  // grace period does and the sidecar's 2 s would start from an earlier clock.
  await pollUntil(() => output.includes('main: up') && output.includes('side: up'), { timeoutMs: 10_000, what: 'both containers to ignore SIGTERM' });
  const stopped = r.stop();
  const sigterm = (c: string) => pollUntil(() => events.find((e) => e.container === c && e.event === 'sigterm'), { timeoutMs: 10_000, what: `${c} SIGTERM` });
  assert.equal((await sigterm('main')).detail, 'SIGKILL in 1000ms');
  clock.advance(1000);
  assert.equal((await sigterm('side')).detail, 'SIGKILL in 2000ms');
  clock.advance(1999);
  assert.ok(!events.some((e) => e.container === 'side' && e.event === 'sigkill'));
  clock.advance(1);
  await withTimeout(stopped, 10_000, 'pod stopped');
  assert.ok(events.some((e) => e.container === 'side' && e.event === 'sigkill'));
});

test('postStart never runs before the container\'s volumes are mounted (six pods at once, each hook writes into its volume)', async () => {
  const base = `/podkit-poststart-${process.pid}`;
  const vols = Array.from({ length: 8 }, (_, i) => `v${i}`);
  const pods = Array.from({ length: 6 }, (_, n) =>
    pod(`apiVersion: v1
kind: Pod
metadata: { name: hook${n} }
spec:
  terminationGracePeriodSeconds: 1
  volumes: [${vols.map((v) => `{ name: ${v}, emptyDir: {} }`).join(', ')}]
  containers:
  - name: a
    command: [sleep, '1000']
    volumeMounts: [${vols.map((v) => `{ name: ${v}, mountPath: ${base}-${n}/${v} }`).join(', ')}]
    lifecycle: { postStart: { exec: { command: [sh, -c, 'echo hook > ${base}-${n}/v7/hook'] } } }
`),
  );
  await Promise.all(pods.map((p) => p.r.start()));
  for (const [n, p] of pods.entries()) {
    const done = await pollUntil(() => p.events.find((e) => e.event === 'postStart'), { timeoutMs: 20_000, what: `postStart of hook${n}` });
    assert.match(done.detail ?? '', /^success/i, `hook${n}: ${done.detail}`);
    assert.equal(readFileSync(join(p.dir, 'volumes', 'v7', 'hook'), 'utf8'), 'hook\n', `hook${n} wrote into its volume`);
    assert.equal(existsSync(`${base}-${n}/v7/hook`), false, `hook${n} wrote onto the host`);
  }
  await Promise.all(pods.map((p) => p.r.stop()));
});

test('restartPolicy Never: a failing init container fails the pod and mains never start', async () => {
  const { r, events } = pod(`apiVersion: v1
kind: Pod
metadata: { name: never }
spec:
  restartPolicy: Never
  initContainers: [{ name: bad, command: [sh, -c, 'exit 2'] }]
  containers: [{ name: main, command: [sh, -c, 'echo nope'] }]
`);
  await r.start();
  assert.equal(await withTimeout(r.done, 10_000, 'pod done'), 'Failed');
  assert.equal(events.some((e) => e.container === 'main'), false);
});

test('OnFailure: a main that exits 0 completes the pod (Succeeded)', async () => {
  const { r } = pod(`apiVersion: v1
kind: Pod
metadata: { name: job }
spec:
  restartPolicy: OnFailure
  containers: [{ name: main, command: [sh, -c, 'exit 0'] }]
`);
  await r.start();
  assert.equal(await withTimeout(r.done, 10_000, 'pod done'), 'Succeeded');
});

test("a container whose image is podkit's runs the local CLI with args as its argv", async () => {
  const { r, output } = pod(`apiVersion: v1
kind: Pod
metadata: { name: selfimg }
spec:
  restartPolicy: Never
  containers:
  - { name: a, image: ghcr.io/example/podkit:latest, args: [--version] }
  - { name: b, image: podkit, command: [podkit, --version] }
`);
  await r.start();
  assert.equal(await withTimeout(r.done, 20_000, 'pod done'), 'Succeeded');
  const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  assert.deepEqual(output.sort(), [`a: podkit ${version}`, `b: podkit ${version}`]);
});

test('termination: preStop, then SIGTERM, then SIGKILL when the grace period runs out', async () => {
  const mark = tempDir('podkit-prestop-');
  const { r, log } = pod(`apiVersion: v1
kind: Pod
metadata: { name: term }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: stubborn
    command: [sh, -c, 'trap "" TERM; echo up; while :; do sleep 0.05; done']
    lifecycle: { preStop: { exec: { command: [sh, -c, 'echo ran > ${mark}/prestop'] } } }
`);
  await r.start();
  await pollUntil(() => r.status().containers[0].state === 'running' || undefined, { timeoutMs: 10_000, what: 'running' });
  await withTimeout(r.stop(), 10_000, 'stop');
  const ev = log().filter((e) => e.container === 'stubborn').map((e) => e.event);
  assert.deepEqual(ev.filter((e) => ['preStop', 'sigterm', 'sigkill', 'exit'].includes(e)), ['preStop', 'sigterm', 'sigkill', 'exit']);
  assert.equal(readFileSync(join(mark, 'prestop'), 'utf8').trim(), 'ran');
});

test('a failing liveness probe restarts the container; siblings keep their network', async () => {
  const { r } = pod(
    `apiVersion: v1
kind: Pod
metadata: { name: live }
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: sick
    command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.05; done']
    livenessProbe: { exec: { command: ['false'] }, periodSeconds: 1, failureThreshold: 1 }
  - name: server
    command: [python3, -m, http.server, '8080', --bind, 0.0.0.0]
    readinessProbe: { httpGet: { port: 8080 }, periodSeconds: 1 }
`,
    { maxBackoffMs: 100 },
  );
  await r.start();
  await pollUntil(() => r.status().containers[0].restarts >= 2 || undefined, { timeoutMs: 20_000, what: 'liveness restarts' });
  await pollUntil(() => r.status().containers[1].ready || undefined, { timeoutMs: 10_000, what: 'sibling ready' });
  const res = await fetch(`http://${r.status().podIP}:8080/`);
  assert.equal(res.status, 200);
  assert.equal(r.status().containers[1].restarts, 0);
  // A child that exits this very moment is a zombie until libuv reaps it: none may stay one.
  await pollUntil(() => zombieChildren().length === 0 || undefined, { timeoutMs: 5000, what: 'the runner reaps every container it restarted' });
  await r.stop();
});
