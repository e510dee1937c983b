/** @module Containers from images on crun (as root): own root filesystem per container, the pod's namespaces, securityContext and limits. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil, stopAll, tempDir } from './helpers/index.js';
import { dirImage, layerDir, busyboxLayerDir, mapProvider } from './helpers/rootfs.js';
import { loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { PodRunner } from '../src/pod/runtime/pod.js';
import { ContainerSandbox } from '../src/pod/runtime/sandbox-oci.js';
import type { UnpackedImage } from '../src/pod/images/types.js';
import type { ContainerProcess, Sandbox } from '../src/pod/runtime/sandbox.js';
import { execFileSync } from 'node:child_process';
import { containerStatus, podDisplayStatus } from '../src/pod/cli/pod-status.js';

const runners: PodRunner[] = [];
after(async () => {
  await Promise.all(runners.map((r) => r.stop()));
  await stopAll();
});

const runtimeBin = process.env.PODKIT_TEST_OCI_RUNTIME ?? 'crun';
const crunRoot = tempDir('podkit-crun-');
let seq = 0;

function pod(yaml: string, images: Record<string, UnpackedImage>) {
  const p = parseManifests(yaml, 'test.yaml');
  const l = loadManifests(p.objects, { local: true, images: true });
  assert.deepEqual([...p.issues, ...l.issues].filter((i) => i.severity === 'error'), []);
  const dir = tempDir('podkit-pod-');
  const id = `oc${process.pid.toString(16).slice(-4)}${seq++}`;
  const output: string[] = [];
  const plan = l.pods[0];
  const sandbox = new ContainerSandbox({ id, dir, runtime: { bin: runtimeBin, root: crunRoot }, hostname: plan.name, hostNetwork: plan.spec.hostNetwork, shareProcessNamespace: plan.spec.shareProcessNamespace });
  const r = new PodRunner({ plan, configMaps: l.configMaps, secrets: l.secrets, sandbox, dir, images: mapProvider(images), output: (c, _s, line) => output.push(`${c}: ${line}`), backoff: { maxMs: 200 } });
  runners.push(r);
  const lines = (c: string) => output.filter((o) => o.startsWith(`${c}: `)).map((o) => o.slice(c.length + 2));
  return { r, dir, id, output, lines };
}

const containers = (list: unknown[]) => JSON.stringify(list);

test('two containers from different images share an emptyDir and localhost; writes elsewhere stay in each container', async () => {
  const web = dirImage({ Entrypoint: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'] }, [busyboxLayerDir(), layerDir({ 'www/index.html': 'from-web-image\n' })], 'test.local/web:1');
  const tools = dirImage({ Cmd: ['sh'] }, [busyboxLayerDir()], 'test.local/tools:1');
  const hostTmp = `/tmp/x-podkit-${process.pid}`;
  const { r, lines } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: share}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - name: web
    image: test.local/web:1
    volumeMounts: [{name: shared, mountPath: /www/shared}]
  - name: client
    image: test.local/tools:1
    volumeMounts: [{name: shared, mountPath: /data}]
    command: ${containers(['sh', '-c', `echo hello > /data/note; echo mine > /tmp/x; echo mine > ${hostTmp}; for i in $(seq 100); do wget -q -O - http://localhost:8080/shared/note 2>/dev/null && break; sleep 0.05; done; wget -q -O - http://127.0.0.1:8080/index.html; hostname; test -e /www && echo sees-web-root || echo own-root`])}
`,
    { 'test.local/web:1': web, 'test.local/tools:1': tools },
  );
  await r.start();
  await pollUntil(() => r.containers[1].status.state === 'terminated', { timeoutMs: 20_000, what: 'client done' });
  assert.equal(r.containers[1].status.exitCode, 0, lines('client').join('\n'));
  assert.deepEqual(lines('client'), ['hello', 'from-web-image', 'share', 'own-root']);
  assert.equal(existsSync(hostTmp), false, 'a write to /tmp inside the container must not reach the host');
  const ex = await r.containers[0]['deps'].sandbox.exec(
    (r.containers[0] as unknown as { proc: never }).proc,
    ['sh', '-c', 'test -e /tmp/x && echo has-x || echo no-x; cat /www/shared/note'],
    { PATH: '/bin' },
    undefined,
    5000,
  );
  assert.equal(ex.output, 'no-x\nhello\n');
  await r.stop();
});

test('a restarted container starts on a fresh root; its volumes persist', async () => {
  const { r, lines, dir } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: fresh}
spec:
  restartPolicy: OnFailure
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: c
    image: test.local/bb:1
    volumeMounts: [{name: v, mountPath: /v}]
    command: ["sh", "-c", "if [ -e /marker ]; then echo stale-root; fi; if [ -e /v/once ]; then echo second; exit 0; fi; touch /marker /v/once; echo first; exit 1"]
`,
    { 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') },
  );
  await r.start();
  await pollUntil(() => r.containers[0].status.state === 'terminated' && r.containers[0].status.exitCode === 0, { timeoutMs: 20_000, what: 'second run' });
  assert.deepEqual(lines('c'), ['first', 'second']);
  await r.stop();
  assert.equal(existsSync(join(dir, 'containers', 'c', 'rootfs', 'bin')), false, 'overlay unmounted');
});

test('runAsUser sees its files as its uid; readOnlyRootFilesystem refuses writes; dropped capabilities are gone; fsGroup owns the emptyDir', async () => {
  const { r, lines, dir } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  restartPolicy: Never
  securityContext: {fsGroup: 3000}
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: user
    image: test.local/bb:1
    securityContext: {runAsUser: 1000}
    volumeMounts: [{name: v, mountPath: /v}]
    command: ["sh", "-c", "id -u; id -G; touch /v/f; stat -c '%u %g' /v/f; grep CapEff /proc/self/status"]
  - name: ro
    image: test.local/bb:1
    securityContext: {readOnlyRootFilesystem: true, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}, allowPrivilegeEscalation: false}
    command: ["sh", "-c", "touch /x 2>&1; grep -E 'CapEff|NoNewPrivs' /proc/self/status"]
`,
    { 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') },
  );
  await r.start();
  await pollUntil(() => r.containers.every((c) => c.status.state === 'terminated'), { timeoutMs: 20_000, what: 'both done' });
  assert.deepEqual(lines('user'), ['1000', '1000 2000 3000', '1000 3000', 'CapEff:\t0000000000000000']);
  const ro = lines('ro');
  assert.match(ro[0], /Read-only file system/);
  assert.equal(ro[1], 'CapEff:\t0000000000000400', 'only CAP_NET_BIND_SERVICE (bit 10)');
  assert.equal(ro[2], 'NoNewPrivs:\t1');
  assert.equal(statSync(join(dir, 'volumes', 'v', 'f')).uid, 1000);
  await r.stop();
});

test('runAsNonRoot with a root image is refused with Kubernetes message', async () => {
  const { r } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: test.local/bb:1
    securityContext: {runAsNonRoot: true}
    command: ["true"]
`,
    { 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') },
  );
  const events: string[] = [];
  await r.start();
  await pollUntil(() => r.containers[0].status.lastTermination !== undefined, { timeoutMs: 10_000, what: 'refusal' });
  events.push(readFileSync(join(r['o'].dir, 'events.log'), 'utf8'));
  assert.match(events.join(''), /container has runAsNonRoot and image will run as root/);
  await r.stop();
});

test('over its memory limit a container is OOMKilled (exit 137)', async () => {
  const { r } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: oom}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: test.local/bb:1
    resources: {limits: {memory: 32Mi, cpu: 500m}}
    command: ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"]
`,
    { 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') },
  );
  await r.start();
  await pollUntil(() => r.containers[0].status.state === 'terminated', { timeoutMs: 30_000, what: 'oom' });
  assert.equal(r.containers[0].status.exitCode, 137);
  assert.equal(r.containers[0].status.reason, 'OOMKilled');
  // What podkit ps, the status page and /status.json show.
  assert.deepEqual((containerStatus(r.containers[0].status).state as { terminated: { reason: string; exitCode: number } }).terminated.reason, 'OOMKilled');
  await r.stop();
});

test('exec liveness probe runs inside the container (the Kubernetes exec-liveness example); postStart and preStop act inside it; SIGTERM ends it', async () => {
  const marker = `/tmp/healthy-podkit-${process.pid}`;
  const out = tempDir('podkit-hooks-out-');
  const { r } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{name: out, hostPath: {path: ${out}}}]
  containers:
  - name: liveness
    image: test.local/bb:1
    args: ["/bin/sh", "-c", "touch ${marker}; sleep 1; rm -f ${marker}; sleep 600"]
    livenessProbe: {exec: {command: [cat, ${marker}]}, periodSeconds: 1, failureThreshold: 1}
  - name: lifecycle
    image: test.local/bb:1
    volumeMounts: [{name: out, mountPath: /out}]
    command: ["sh", "-c", "trap 'echo term > /out/term; exit 0' TERM; while :; do sleep 0.1; done"]
    lifecycle:
      postStart: {exec: {command: ["/bin/sh", "-c", "mkdir -p /usr/share; echo Hello from the postStart handler > /usr/share/message"]}}
      preStop: {exec: {command: ["/bin/sh", "-c", "cp /usr/share/message /out/prestop"]}}
`,
    { 'test.local/bb:1': dirImage({ Entrypoint: [], Cmd: ['sh'] }, undefined, 'test.local/bb:1') },
  );
  await r.start();
  await pollUntil(() => r.containers[0].status.restarts >= 1, { timeoutMs: 30_000, what: 'liveness restart' });
  assert.equal(existsSync(marker), false, 'the probe file lives in the container, not on the host');
  assert.equal(existsSync('/usr/share/message'), false, 'postStart wrote inside the container');
  await r.stop();
  assert.equal(readFileSync(join(out, 'prestop'), 'utf8'), 'Hello from the postStart handler\n');
  assert.equal(readFileSync(join(out, 'term'), 'utf8'), 'term\n');
  assert.equal(r.containers[1].status.exitCode, 0);
});

test('an httpGet readiness probe reaches the container on the pod IP', async () => {
  const { r } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: ready}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: test.local/web:2
    readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 1}
`,
    { 'test.local/web:2': dirImage({ Entrypoint: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'] }, [busyboxLayerDir(), layerDir({ 'www/index.html': 'ok\n' })], 'test.local/web:2') },
  );
  await r.start();
  await pollUntil(() => r.status().ready, { timeoutMs: 20_000, what: 'ready' });
  const res = await fetch(`http://${r.status().podIP}:8080/index.html`);
  assert.equal(await res.text(), 'ok\n');
  // An exec that outlives its timeout is ended inside the container too, not only the runtime's exec.
  const c = r.containers[0] as unknown as { proc: ContainerProcess; deps: { sandbox: Sandbox } };
  const slow = await c.deps.sandbox.exec(c.proc, ['sleep', '31'], { PATH: '/bin' }, undefined, 300);
  assert.equal(slow.timedOut, true);
  await pollUntil(() => !execFileSync('ps', ['-eo', 'args']).toString().includes('sleep 31'), { timeoutMs: 5000, what: 'the exec process gone' });
  await r.stop();
});

test('a hostile image (absolute symlinks at a mountPath and over /etc/passwd) does not reach the host', async () => {
  const escape = `/tmp/podkit-escape-${process.pid}`;
  const evil = dirImage({}, [busyboxLayerDir(), layerDir({ data: { link: escape }, 'etc/passwd': { link: '/etc/shadow' }, up: { link: '../../../../' } })], 'test.local/evil:1');
  const { r, lines } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: evil}
spec:
  restartPolicy: Never
  volumes: [{name: v, emptyDir: {}}]
  containers:
  - name: mount
    image: test.local/evil:1
    volumeMounts: [{name: v, mountPath: /data}]
    command: ["sh", "-c", "echo x > /data/x"]
  - name: read
    image: test.local/evil:1
    command: ["sh", "-c", "cat /etc/passwd 2>&1 | head -c 40; echo; ls /up/; echo ok"]
`,
    { 'test.local/evil:1': evil },
  );
  await r.start();
  await pollUntil(() => r.containers.every((c) => c.status.state === 'terminated'), { timeoutMs: 20_000, what: 'done' });
  assert.equal(existsSync(escape), false, 'a mount at a symlink pointing out of the root never lands on the host');
  // crun refuses the mount (the link leaves the root), runc mounts at the link's target inside the root: neither reaches the host.
  const out = lines('read').join('\n');
  assert.doesNotMatch(out, /root:[^x]/, 'the host shadow file is not readable through the image link');
  assert.match(out, /\bbin\b[\s\S]*\bup\b[\s\S]*ok$/, 'a link climbing out of the root stays at the container root');
  await r.stop();
});

test("podkit's own image runs as the local CLI when the store has no such image; the host-process annotation runs a container on the host", async () => {
  const { r, lines } = pod(
    `apiVersion: v1
kind: Pod
metadata:
  name: own
  annotations: {host-process.podkit.io/dev: "true"}
spec:
  restartPolicy: Never
  containers:
  - name: cli
    image: ghcr.io/podkit/podkit:test
    args: ["--version"]
  - name: dev
    image: test.local/bb:1
    command: ["sh", "-c", "test -d /proc/1 && test -x ${process.execPath} && echo host-fs"]
`,
    { 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') },
  );
  await r.start();
  await pollUntil(() => r.containers.every((c) => c.status.state === 'terminated'), { timeoutMs: 20_000, what: 'both done' });
  assert.equal(r.containers[0].status.exitCode, 0, lines('cli').join('\n'));
  assert.match(lines('cli').join('\n'), /\d+\.\d+\.\d+/);
  assert.deepEqual(lines('dev'), ['host-fs'], 'the opted-out container sees the host filesystem (node is not in the image)');
  await r.stop();
});

test('a setuid-root binary in the image gains root inside the container, and nothing with allowPrivilegeEscalation false (no_new_privs)', async () => {
  const dir = tempDir('podkit-suid-');
  writeFileSync(join(dir, 'euid.c'), '#include <stdio.h>\n#include <unistd.h>\nint main(void){printf("%d\\n",(int)geteuid());return 0;}\n');
  execFileSync('gcc', ['-static', '-O1', '-o', join(dir, 'euid'), join(dir, 'euid.c')]);
  const suid = dirImage({}, [busyboxLayerDir(), layerDir({ 'bin/euid': { content: readFileSync(join(dir, 'euid')), mode: 0o4755 } })], 'test.local/suid:1');
  const { r, lines } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: suid}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000}
  containers:
  - name: gains
    image: test.local/suid:1
    command: ["/bin/euid"]
  - name: nnp
    image: test.local/suid:1
    securityContext: {allowPrivilegeEscalation: false}
    command: ["/bin/euid"]
`,
    { 'test.local/suid:1': suid },
  );
  await r.start();
  await pollUntil(() => r.containers.every((c) => c.status.state === 'terminated'), { timeoutMs: 20_000, what: 'both done' });
  assert.deepEqual(lines('gains'), ['0'], "setuid root works inside the container (its own root filesystem and the default capabilities), as in Kubernetes");
  assert.deepEqual(lines('nnp'), ['1000']);
  await r.stop();
});

test('an image that cannot be pulled: the container waits in ErrImagePull then ImagePullBackOff, its siblings run, a later pull starts it', async () => {
  const store: Record<string, UnpackedImage> = { 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') };
  const { r, lines } = pod(
    `apiVersion: v1
kind: Pod
metadata: {name: pullfail}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: ok
    image: test.local/bb:1
    command: ["sh", "-c", "echo running; exec sleep 100"]
  - name: later
    image: test.local/later:1
    command: ["sh", "-c", "echo finally; exec sleep 100"]
`,
    store,
  );
  await r.start();
  await pollUntil(() => lines('ok').includes('running'), { timeoutMs: 20_000, what: 'the sibling runs' });
  await pollUntil(() => r.containers[1].status.reason === 'ImagePullBackOff', { timeoutMs: 20_000, what: 'back-off' });
  assert.equal(r.containers[1].status.state, 'waiting');
  assert.equal(podDisplayStatus(r.status()), 'ImagePullBackOff');
  store['test.local/later:1'] = dirImage({}, undefined, 'test.local/later:1');
  await pollUntil(() => lines('later').includes('finally'), { timeoutMs: 20_000, what: 'started after the image appeared' });
  await r.stop();
});
