/**
 * @module Main containers created while the sidecars start (as root, on crun): created ahead with their process held
 * at a gate, run only once every sidecar has started, abandoned without a trace when the pod stops first.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil, stopAll, tempDir } from './helpers/index.js';
import { dirImage, mapProvider } from './helpers/rootfs.js';
import { loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { PodRunner } from '../src/pod/runtime/pod.js';
import { ContainerSandbox } from '../src/pod/runtime/sandbox-oci.js';

const runners: PodRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  await stopAll();
});

const runtimeBin = process.env.PODKIT_TEST_OCI_RUNTIME ?? 'crun';
const crunRoot = tempDir('podkit-crun-');
const image = dirImage({}, undefined, 'test.local/bb:1');
let seq = 0;

/** A pod on crun whose sandbox and runner record, in one list, spawns (held or not), releases and pod events. */
function pod(yaml: string) {
  const l = loadManifests(parseManifests(yaml, 'test.yaml').objects, { local: true, images: true });
  const plan = l.pods[0];
  const dir = tempDir('podkit-pod-');
  const id = `oh${process.pid.toString(16).slice(-4)}${seq++}`;
  const log: string[] = [];
  const pids = new Map<string, number>();
  const sandbox = new ContainerSandbox({ id, dir, runtime: { bin: runtimeBin, root: crunRoot }, hostname: plan.name });
  const spawn = sandbox.spawn.bind(sandbox);
  sandbox.spawn = (spec) => {
    log.push(`spawn ${spec.name}${spec.hold ? ' held' : ''}`);
    const proc = spawn(spec);
    pids.set(spec.name, proc.pid);
    const release = proc.release?.bind(proc);
    if (release) {
      proc.release = (run) => {
        log.push(`release ${spec.name} ${run ? 'run' : 'abandon'}`);
        release(run);
      };
    }
    return proc;
  };
  const output: string[] = [];
  const r = new PodRunner({
    plan,
    configMaps: l.configMaps,
    secrets: l.secrets,
    sandbox,
    dir,
    images: mapProvider({ 'test.local/bb:1': image }),
    output: (c, _s, line) => output.push(`${c}: ${line}`),
    event: (e) => log.push(`${e.container} ${e.event}`),
  });
  runners.push(r);
  return { r, dir, id, log, pids, output };
}

const SIDECAR = `  - name: side
    image: test.local/bb:1
    restartPolicy: Always
    volumeMounts: [{name: shared, mountPath: /shared}]`;

test('main containers are created while the sidecar starts up, and their processes run only once it has started', async () => {
  const { r, log, output } = pod(`apiVersion: v1
kind: Pod
metadata: {name: held}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
${SIDECAR}
    command: [sh, -c, 'sleep 0.3; touch /shared/go; trap "exit 0" TERM; while :; do sleep 0.05; done']
    startupProbe: {exec: {command: [test, -e, /shared/go]}, periodSeconds: 1, failureThreshold: 30}
  containers:
  - name: main
    image: test.local/bb:1
    volumeMounts: [{name: shared, mountPath: /shared}]
    command: [sh, -c, 'test -e /shared/go && echo after-sidecar || echo before-sidecar']
  - name: sub
    image: test.local/bb:1
    volumeMounts: [{name: shared, mountPath: /shared, subPath: made-by-sidecar}]
    command: [sh, -c, 'echo sub-ran']
`);
  await r.start();
  await pollUntil(() => r.containers.slice(1).every((c) => c.status.state === 'terminated'), { timeoutMs: 20_000, what: 'both mains done' });
  assert.deepEqual(output.filter((o) => !o.startsWith('side:')).sort(), ['main: after-sidecar', 'sub: sub-ran']);
  assert.equal(r.containers[1].status.exitCode, 0);
  const at = (entry: string) => {
    const i = log.indexOf(entry);
    assert.ok(i >= 0, `${entry} in:\n${log.join('\n')}`);
    return i;
  };
  // Created (held) before the sidecar had started; run only after; never both for the subPath one.
  assert.ok(at('spawn main held') < at('side started'));
  assert.ok(at('side started') < at('release main run'));
  assert.ok(at('release main run') < at('main start'));
  assert.ok(at('side started') < at('spawn sub'), 'a container with a subPath is created at its start');
  assert.equal(log.includes('spawn sub held'), false);
  await r.stop();
});

test('a pod stopped while its main container is held abandons it: it never ran, and no mount, runtime state or process is left', async () => {
  const { r, log, dir, id, pids } = pod(`apiVersion: v1
kind: Pod
metadata: {name: abandon}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
${SIDECAR}
    command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.05; done']
    startupProbe: {exec: {command: ['false']}, periodSeconds: 1, failureThreshold: 100}
  containers:
  - name: main
    image: test.local/bb:1
    volumeMounts: [{name: shared, mountPath: /shared}]
    command: [sh, -c, 'touch /shared/ran; sleep 5']
`);
  await r.start();
  const rootfs = join(dir, 'containers', 'main', 'rootfs');
  const mounted = () => {
    try {
      execFileSync('mountpoint', ['-q', rootfs]);
      return true;
    } catch {
      return false;
    }
  };
  // The root is mounted and the runtime waits at the gate: the container is made, its process held.
  const atGate = () => {
    try {
      execFileSync('pgrep', ['-f', `podkit-gate ${join(dir, 'containers', 'main', 'gate')}`]);
      return true;
    } catch {
      return false;
    }
  };
  await pollUntil(() => mounted() && atGate(), { timeoutMs: 20_000, what: 'main created and held at its gate' });
  const pid = pids.get('main');
  assert.ok(pid && pid > 0);
  assert.equal(existsSync(join(dir, 'volumes', 'shared', 'ran')), false, 'its process has not run');
  await r.stop();
  assert.ok(log.includes('release main abandon'), log.join('\n'));
  assert.equal(log.includes('main start'), false, 'a held container that never ran reports no start');
  assert.equal(log.includes('main exit'), false, 'nor an exit');
  assert.equal(r.containers[1].status.state, 'waiting');
  assert.equal(mounted(), false, 'its root is unmounted');
  const list = execFileSync(runtimeBin, ['--root', crunRoot, 'list', '-q'], { encoding: 'utf8' });
  assert.equal(list.split('\n').some((l) => l.startsWith(`${id}-`)), false, list);
  assert.throws(() => process.kill(pid, 0), 'the held launch has ended');
});
