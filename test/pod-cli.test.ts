/** @module podkit up / ps / logs / down end to end, as root, with the built CLI: redis pods, hostPort, Ctrl-C, SIGKILL cleanup. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, freePort, podStateDir, pollUntil, requireBinary, runPodkit, startPodkit, stopAll, waitForOutput, withTimeout, yamlFile } from './helpers/index.js';

const FIX = new URL('./fixtures/pod/', import.meta.url).pathname;
after(async () => {
  await downAllPods();
  await stopAll();
});

interface PsRow {
  name: string;
  phase: string;
  ready: boolean;
  orphaned: boolean;
  podIP: string;
}
async function ps(dir: string): Promise<PsRow[]> {
  const r = await runPodkit(['ps', '--json', '--state-dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as PsRow[];
}
function podState(dir: string, pod: string): { netns: string; pids: { pid: number }[]; runner: { pid: number } } {
  return JSON.parse(readFileSync(join(dir, 'pods', pod, 'state.json'), 'utf8'));
}
const netnsList = () => execFileSync('ip', ['netns', 'list']).toString();
const mounts = () => readFileSync('/proc/mounts', 'utf8');
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('validation before anything starts', () => {
  test('an error names the YAML path and exits 2; nothing is created', async () => {
    const dir = podStateDir();
    const r = await runPodkit(['up', '--state-dir', dir, join(FIX, 'invalid.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /invalid\.yaml#1: spec\.containers\[1\]\.volumeMounts\[1\]\.name: volume "missing" is not defined/);
    assert.deepEqual(await ps(dir), []);
  });

  test('bad usage exits 2', async () => {
    assert.equal((await runPodkit(['up'])).code, 2);
    assert.equal((await runPodkit(['up', '--bogus', 'x.yaml'])).code, 2);
    assert.equal((await runPodkit(['down'])).code, 2);
    assert.equal((await runPodkit(['logs', '--state-dir', podStateDir(), 'nope'])).code, 2);
  });

  test('--dry-run lists pods and prints warnings for unhonoured fields', async () => {
    const r = await runPodkit(['up', '--dry-run', join(FIX, 'redis.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'default/redis-0: redis\ndefault/redis-1: redis\n');
    assert.match(r.stderr, /warning: .*redis\.yaml#1: spec\.template\.spec\.containers\[0\]\.resources: ignored: resource requests and limits are not enforced locally/);
  });

  test('without root: a clear PermissionError', async () => {
    const r = await withTimeout(
      new Promise<{ code: number; stderr: string }>((resolve) => {
        try {
          execFileSync('runuser', ['-u', 'nobody', '--', process.execPath, 'dist/cli/main.js', 'up', '--state-dir', '/tmp/podkit-nobody', join(FIX, 'web.yaml')], { stdio: 'pipe' });
          resolve({ code: 0, stderr: '' });
        } catch (e) {
          const err = e as { status: number; stderr: Buffer };
          resolve({ code: err.status, stderr: err.stderr.toString() });
        }
      }),
      20_000,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /root is needed for pod namespaces .* --sandbox=host/);
  });
});

describe('running pods', () => {
  test('two redis pods each on 127.0.0.1:6379: no conflict, no shared data; ps, logs, down', async () => {
    requireBinary('redis-server');
    const dir = podStateDir();
    const up = await runPodkit(['up', '-d', '--state-dir', dir, join(FIX, 'redis.yaml')], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    await pollUntil(async () => (await ps(dir)).filter((p) => p.ready).length === 2 || undefined, { timeoutMs: 30_000, what: 'both redis pods ready' });
    const cli = (pod: string, ...args: string[]) => execFileSync('ip', ['netns', 'exec', podState(dir, pod).netns, 'redis-cli', '-p', '6379', ...args]).toString().trim();
    assert.equal(cli('redis-0', 'set', 'who', 'zero'), 'OK');
    assert.equal(cli('redis-1', 'get', 'who'), '');
    assert.equal(cli('redis-1', 'set', 'who', 'one'), 'OK');
    assert.equal(cli('redis-0', 'get', 'who'), 'zero');
    const logs = await runPodkit(['logs', '--state-dir', dir, 'redis-0', 'redis']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /Ready to accept connections/);
    const ns = podState(dir, 'redis-0').netns;
    const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await ps(dir), []);
    assert.doesNotMatch(netnsList(), new RegExp(ns));
  });

  test('foreground: logs prefixed pod/container, hostPort published, Ctrl-C stops the pod the Kubernetes way', async () => {
    const dir = podStateDir();
    const port = await freePort();
    const file = yamlFile(readFileSync(join(FIX, 'web.yaml'), 'utf8').replace('hostPort: 18080', `hostPort: ${port}`), 'web.yaml');
    const p = startPodkit(['up', '--state-dir', dir, file]);
    await waitForOutput(p, /web\/server ready/, 30_000);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(await res.text(), '<h1>hello from web</h1>\n');
    assert.match(p.stdout(), /^web\/server \| .*GET \/ HTTP/m);
    const ns = podState(dir, 'web').netns;
    const status = JSON.parse(readFileSync(join(dir, 'pods', 'web', 'state.json'), 'utf8')).statusURL as string;
    const page = await (await fetch(status)).text();
    assert.match(page, /server/);
    const metrics = await (await fetch(new URL('/metrics', status))).text();
    assert.match(metrics, /podkit_pod_ready\{namespace="default",pod="web"\} 1/);
    assert.match(metrics, /podkit_container_restarts\{pod="web",container="server"\} 0/);
    assert.match(metrics, /podkit_pod_events_total\{pod="web",event="start"\} [1-9]/);
    assert.equal((await fetch(new URL('/readyz', status))).status, 200);
    p.signal('SIGINT');
    assert.equal(await withTimeout(p.exited, 30_000, 'runner exit'), 0);
    assert.match(p.stderr(), /web\/sidecar exit/);
    assert.doesNotMatch(netnsList(), new RegExp(ns));
    assert.doesNotMatch(mounts(), new RegExp(dir));
    assert.deepEqual(await ps(dir), []);
  });

  test('a Job runs to completion and up exits with its result', async () => {
    const file = yamlFile(`apiVersion: batch/v1
kind: Job
metadata: { name: once }
spec:
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: work, command: [sh, -c, 'echo working in $(POD)'], env: [{ name: POD, valueFrom: { fieldRef: { fieldPath: metadata.name } } }] }]
`, 'job.yaml');
    const r = await runPodkit(['up', '--status-bind', '', '--state-dir', podStateDir(), file], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /once-0\/work \| working in once-0/);
    assert.match(r.stdout, /once-1\/work \| working in once-1/);
    // Failed pods are replaced (after a back-off, lowered here) until failures pass the default backoffLimit of 6.
    const bad = await runPodkit(['up', '--status-bind', '', '--job-backoff', '50ms', '--state-dir', podStateDir(), '-'], { input: readFileSync(file, 'utf8').replace("'echo working in $(POD)'", "'exit 4'"), timeoutMs: 60_000 });
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /job once failed: BackoffLimitExceeded/);
  });

  test('SIGKILL of the runner, then down --all: no processes, namespaces or mounts remain', async () => {
    const dir = podStateDir();
    const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: victim }
spec:
  shareProcessNamespace: true
  volumes: [{ name: mem, emptyDir: { medium: Memory } }]
  containers:
  - { name: a, command: [sh, -c, 'echo hi > /mem/x; exec sleep 1170'], volumeMounts: [{ name: mem, mountPath: /mem }] }
  - { name: b, command: [sleep, '1170'] }
`, 'kill.yaml');
    const up = await runPodkit(['up', '-d', '--state-dir', dir, file], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    const st = podState(dir, 'victim');
    await pollUntil(() => st.pids.length >= 1 || undefined, { timeoutMs: 5000 });
    const pids = () => podState(dir, 'victim').pids.map((p) => p.pid);
    await pollUntil(() => pids().length >= 3 || undefined, { timeoutMs: 10_000, what: 'pause + 2 containers recorded' });
    const recorded = pids();
    assert.match(mounts(), new RegExp(`${dir}/pods/victim/volumes/mem`));
    process.kill(st.runner.pid, 'SIGKILL');
    await pollUntil(async () => (await ps(dir))[0]?.orphaned || undefined, { timeoutMs: 10_000, what: 'orphaned' });
    const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.match(down.stdout, /victim: cleaned up/);
    assert.doesNotMatch(netnsList(), new RegExp(st.netns));
    assert.doesNotMatch(mounts(), new RegExp(dir));
    for (const pid of recorded) assert.equal(alive(pid), false, `pid ${pid} still alive`);
    // 1170: no other test's pod sleeps for it (test files run two at a time; the process table is the machine's).
    assert.equal(execFileSync('ps', ['-eo', 'stat=,args=']).toString().split('\n').filter((l) => /sleep 1170$/.test(l)).length, 0);
  });
});

describe('orphans', () => {
  test('after a SIGKILLed runner, the next podkit up cleans up its pods first', async () => {
    const dir = podStateDir();
    const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: orphan }
spec:
  containers: [{ name: a, command: [sleep, '1001'] }]
`, 'orphan.yaml');
    const up = await runPodkit(['up', '-d', '--state-dir', dir, file], { timeoutMs: 60_000 });
    assert.equal(up.code, 0, up.stderr);
    const st = podState(dir, 'orphan');
    await pollUntil(() => podState(dir, 'orphan').pids.length >= 1 || undefined, { timeoutMs: 10_000, what: 'container recorded' });
    const pids = podState(dir, 'orphan').pids.map((p) => p.pid);
    process.kill(st.runner.pid, 'SIGKILL');
    await pollUntil(async () => (await ps(dir))[0]?.orphaned || undefined, { timeoutMs: 10_000, what: 'orphaned' });
    const job = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: next }
spec:
  restartPolicy: Never
  containers: [{ name: a, command: ['true'] }]
`, 'job.yaml');
    const next = await runPodkit(['up', '--status-bind', '', '--state-dir', dir, job], { timeoutMs: 30_000 });
    assert.equal(next.code, 0, next.stderr);
    assert.match(next.stderr, /cleaned up pod orphan left by a runner that is gone/);
    assert.doesNotMatch(netnsList(), new RegExp(st.netns));
    for (const pid of pids) assert.equal(alive(pid), false);
    assert.deepEqual(await ps(dir), []);
  });
});
