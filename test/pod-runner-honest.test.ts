/** @module An honest runner: `up -d` fails with the reason when pods did not start, finished pods stay in `ps` with their logs until `down`, `podkit exec` runs a command in a container (from its image or a host process). */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { downAllPods, psJson, podStateDir, pollUntil, runPodkit, startProcess, stopAll, tempDir, yamlFile } from './helpers/index.js';
import { dirImage } from './helpers/rootfs.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

const ps = psJson;

test('up -d exits 1 naming a pod whose hostPath is missing; that pod stays ContainerCreating with the reason, its sibling runs', async () => {
  const dir = podStateDir();
  const missing = join(tempDir('podkit-nofile-'), 'missing.conf');
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: fine }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: a, command: [sleep, '1301'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: broken }
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{ name: conf, hostPath: { path: ${missing}, type: File } }]
  containers: [{ name: a, command: [sleep, '1302'], volumeMounts: [{ name: conf, mountPath: /etc/app.conf }] }]
`);
  const up = await runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, file], { timeoutMs: 60_000 });
  assert.equal(up.code, 1, up.stderr);
  assert.match(up.stderr, new RegExp(`pod broken did not start: volume "conf": hostPath ${missing} is not a file`));
  assert.doesNotMatch(up.stderr, /running in the background/);
  const rows = await ps(dir);
  const broken = rows.find((r) => r.name === 'broken')!;
  assert.equal(broken.phase, 'Pending');
  assert.match(broken.message ?? '', /is not a file/);
  assert.equal(broken.containers?.[0].state, 'waiting');
  await pollUntil(async () => (await ps(dir)).find((r) => r.name === 'fine')?.phase === 'Running' || undefined, { timeoutMs: 20_000, what: 'the sibling running' });
  const table = await runPodkit(['ps', '--state-dir', dir]);
  assert.match(table.stdout, /broken .*ContainerCreating \(volume "conf": hostPath .* is not a file\)/);
  assert.equal(existsSync('/etc/app.conf') && readFileSync('/etc/app.conf', 'utf8') === '', false);
  const again = await runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, file], { timeoutMs: 60_000 });
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /pod "fine" is already running/);
  const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.deepEqual(await ps(dir), []);
});

test('a detached run keeps finished pods (Succeeded, Failed) in ps with their logs until podkit down', async () => {
  const dir = podStateDir();
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: ok }
spec:
  restartPolicy: Never
  containers: [{ name: a, command: [sh, -c, 'sleep 1; echo all done'] }]
---
apiVersion: v1
kind: Pod
metadata: { name: bad }
spec:
  restartPolicy: Never
  containers: [{ name: a, command: [sh, -c, 'sleep 1; echo giving up; exit 3'] }]
`);
  const up = await runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, file], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const runner = (JSON.parse(readFileSync(join(dir, 'pods', 'ok', 'state.json'), 'utf8')) as { runner: { pid: number } }).runner.pid;
  await pollUntil(() => !existsSync(`/proc/${runner}`) || /\) Z /.test(readFileSync(`/proc/${runner}/stat`, 'utf8')) || undefined, { timeoutMs: 30_000, what: 'the runner to end with its pods' });
  const rows = await ps(dir);
  assert.deepEqual(rows.map((r) => [r.name, r.phase, r.orphaned]), [['bad', 'Failed', false], ['ok', 'Succeeded', false]]);
  const table = await runPodkit(['ps', '--state-dir', dir]);
  assert.match(table.stdout, /bad\s+0\/1\s+Failed/);
  assert.match(table.stdout, /ok\s+0\/1\s+Succeeded/);
  assert.match((await runPodkit(['logs', '--state-dir', dir, 'ok'])).stdout, /all done/);
  assert.match((await runPodkit(['logs', '--state-dir', dir, 'bad'])).stdout, /giving up/);
  const exec = await runPodkit(['exec', '--state-dir', dir, 'ok', '--', 'true']);
  assert.equal(exec.code, 1);
  assert.match(exec.stderr, /pod "ok" is not running/);
  const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /ok: removed \(it had finished\)/);
  assert.deepEqual(await ps(dir), []);
});

test('podkit exec runs a command inside a host-process container: its namespaces, hostname, env and volumes; the exit code is the command\'s', async () => {
  const dir = podStateDir();
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: shell }
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{ name: scratch, emptyDir: {} }]
  containers:
  - { name: main, command: [sh, -c, 'echo hello > /scratch/x; exec sleep 1303'], env: [{ name: GREETING, value: bonjour }], volumeMounts: [{ name: scratch, mountPath: /scratch }] }
  - { name: side, command: [sleep, '1304'] }
`);
  const up = await runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, file], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  await pollUntil(async () => (await ps(dir))[0]?.phase === 'Running' || undefined, { timeoutMs: 20_000, what: 'running' });
  const r = await runPodkit(['exec', '--state-dir', dir, 'shell', '--', 'sh', '-c', 'echo $GREETING; hostname; cat /scratch/x; ip -o -4 addr show | grep -c 10.244 || true']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['bonjour', 'shell', 'hello', '1']);
  const code = await runPodkit(['exec', '--state-dir', dir, 'shell', '-c', 'side', '--', 'sh', '-c', 'exit 7']);
  assert.equal(code.code, 7);
  const input = await runPodkit(['exec', '--state-dir', dir, 'shell', '--', 'cat'], { input: 'piped in\n' });
  assert.equal(input.stdout, 'piped in\n');
  const none = await runPodkit(['exec', '--state-dir', dir, 'shell', '-c', 'nope', '--', 'true']);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no container "nope" \(it has main, side\)/);
  const noCmd = await runPodkit(['exec', '--state-dir', dir, 'shell']);
  assert.equal(noCmd.code, 2);
  const noPod = await runPodkit(['exec', '--state-dir', dir, 'ghost', '--', 'true']);
  assert.equal(noPod.code, 2);
  assert.match(noPod.stderr, /no pod "ghost"/);
});

const FIXTURE = fileURLToPath(new URL('./fixtures/pod/run-images.ts', import.meta.url));

test('podkit exec in a container run from its image runs inside the image root filesystem (busybox), as the container', async () => {
  const root = podStateDir();
  const images = join(tempDir('podkit-images-'), 'images.json');
  writeFileSync(images, JSON.stringify({ 'test.local/bb:1': dirImage({ Env: ['FROM_IMAGE=yes'] }, undefined, 'test.local/bb:1') }));
  const manifest = yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: boxed}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: a
    image: test.local/bb:1
    command: ["sh", "-c", "echo inside > /marker; exec sleep 1305"]
`);
  const runner = startProcess(process.execPath, ['--import', 'tsx', FIXTURE, root, manifest, images], { name: 'runner' });
  await pollUntil(async () => (await ps(root))[0]?.phase === 'Running' || undefined, { timeoutMs: 30_000, what: `running (${runner.stderr()})` });
  const r = await runPodkit(['exec', '--state-dir', root, 'boxed', '--', 'sh', '-c', 'cat /marker; echo $FROM_IMAGE; ls /bin/busybox']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), ['inside', 'yes', '/bin/busybox']);
  assert.equal(existsSync('/marker'), false);
  const ps1 = execFileSync('crun', ['--root', join(root, 'oci'), 'list', '-q']).toString();
  assert.match(ps1, /-a\n/);
  await runner.stop(5000);
});
