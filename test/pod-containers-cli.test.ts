/** @module The runner with containers from images, in its own process: SIGKILL of the runner, then `podkit down --all` leaves no mount, cgroup, runtime state or process. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { downAllPods, podStateDir, pollUntil, runPodkit, startProcess, stopAll, tempDir, yamlFile } from './helpers/index.js';
import { dirImage } from './helpers/rootfs.js';
import { buildImage, busyboxLayer } from './helpers/images.js';
import { pushImage, startRegistry } from './helpers/registry.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

const FIXTURE = fileURLToPath(new URL('./fixtures/pod/run-images.ts', import.meta.url));

test('SIGKILL of the runner, then podkit down --all: no overlay mount, cgroup, runtime state or container process left', async () => {
  const root = podStateDir();
  const images = join(tempDir('podkit-images-'), 'images.json');
  writeFileSync(images, JSON.stringify({ 'test.local/bb:1': dirImage({}, undefined, 'test.local/bb:1') }));
  const manifest = yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: doomed}
spec:
  shareProcessNamespace: true
  containers:
  - name: a
    image: test.local/bb:1
    command: ["sh", "-c", "echo up; exec sleep 2718"]
    resources: {limits: {memory: 64Mi, cpu: "1"}}
  - name: b
    image: test.local/bb:1
    command: ["sh", "-c", "exec sleep 2719"]
`);
  const runner = startProcess(process.execPath, ['--import', 'tsx', FIXTURE, root, manifest, images], { name: 'runner' });
  const dir = join(root, 'pods', 'doomed');
  await pollUntil(() => {
    const st = existsSync(join(dir, 'status.json')) && (JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as { containers: { state: string }[] });
    return st && st.containers.every((c) => c.state === 'running');
  }, { timeoutMs: 30_000, what: `containers running (${runner.stderr()})` });
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { id: string; oci: { root: string } };
  // Numbers no other test's pod sleeps for: test files run two at a time, and the process table is the machine's.
  const sleepers = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => /^sleep 271[89]$/.test(l.trim()));
  await pollUntil(() => sleepers().length === 2, { timeoutMs: 10_000, what: 'both container processes' });
  assert.ok(readFileSync('/proc/mounts', 'utf8').includes(join(dir, 'containers', 'a', 'rootfs')));
  process.kill(runner.pid, 'SIGKILL');
  await runner.exited;
  assert.equal(sleepers().length, 2, 'containers outlive their runner until cleaned up');
  const down = await runPodkit(['down', '--all', '--state-dir', root], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /doomed: cleaned up/);
  assert.deepEqual(sleepers(), []);
  assert.equal(readFileSync('/proc/mounts', 'utf8').includes(dir), false, 'no mount under the pod folder');
  for (const h of readdirSync('/sys/fs/cgroup')) assert.equal(existsSync(join('/sys/fs/cgroup', h, 'podkit', state.id)), false, `cgroup ${h}/podkit/${state.id}`);
  const left = execFileSync('crun', ['--root', state.oci.root, 'list', '-q']).toString().trim();
  assert.equal(left, '');
  assert.equal(existsSync(dir), false);
});

test('podkit up (containers from images by default): two containers from two images pulled from a registry share an emptyDir and localhost', async () => {
  const reg = await startRegistry();
  const web = buildImage({ layers: [busyboxLayer(['sh', 'httpd', 'cat']), [{ name: 'www/', type: '5' }, { name: 'www/index.html', data: 'from the web image\n' }]], config: { Entrypoint: ['/bin/httpd', '-f', '-p', '8080', '-h', '/www'] } }, 'v1');
  const tools = buildImage({ layers: [busyboxLayer()], config: { Cmd: ['sh'] } }, 'v1');
  const webRef = await pushImage(web, reg, 'web', 'v1');
  const toolsRef = await pushImage(tools, reg, 'tools', 'v1');
  const root = podStateDir();
  const manifest = yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: imaged}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  containers:
  - name: web
    image: ${webRef}
    volumeMounts: [{name: shared, mountPath: /www/shared}]
  - name: client
    image: ${toolsRef}
    volumeMounts: [{name: shared, mountPath: /data}]
    command: ["sh", "-c", "echo hello > /data/note; until wget -q -O - http://localhost:8080/shared/note; do sleep 0.1; done; wget -q -O - http://localhost:8080/; exec sleep 1000"]
`);
  // No flag: images are the default (the environment's PODKIT_HOST_PROCESSES, if any, emptied).
  const up = await runPodkit(['up', '-d', '--state-dir', root, '--status-bind', '', manifest], { timeoutMs: 90_000, env: { ...process.env, PODKIT_HOST_PROCESSES: '' } });
  assert.equal(up.code, 0, up.stderr);
  await pollUntil(async () => {
    const l = await runPodkit(['logs', '--state-dir', root, 'imaged', 'client']);
    return /hello\nfrom the web image/.test(l.stdout);
  }, { timeoutMs: 30_000, what: `client output (${readdirSync(root).filter((f) => f.startsWith('runner-')).map((f) => readFileSync(join(root, f), 'utf8')).join('')})` });
  const images = readFileSync(join(root, 'images', 'images.json'), 'utf8');
  assert.match(images, /web/);
  const down = await runPodkit(['down', '--state-dir', root, 'imaged'], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.equal(readFileSync('/proc/mounts', 'utf8').includes(join(root, 'pods')), false);
});

test('podkit up --host-processes: every container is a host process running its command (its image is never pulled)', async () => {
  const root = podStateDir();
  const mark = join(tempDir('podkit-host-processes-'), 'mark');
  const manifest = yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: onhost}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: registry.invalid/nothing:1
    imagePullPolicy: Never
    command: ["sh", "-c", "touch ${mark}; exec sleep 1000"]
`);
  const up = await runPodkit(['up', '-d', '--host-processes', '--state-dir', root, '--status-bind', '', manifest], { timeoutMs: 60_000, env: { ...process.env, PODKIT_FROM_IMAGES: 'true' } });
  assert.equal(up.code, 0, up.stderr);
  await pollUntil(() => existsSync(mark), { timeoutMs: 20_000, what: 'the host process writing on the host' });
  const down = await runPodkit(['down', '--state-dir', root, 'onhost'], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
});
