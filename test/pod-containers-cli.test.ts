/** @module The runner with containers from images, in its own process: SIGKILL of the runner, then `podkit down --all` leaves no mount, cgroup, runtime state or process. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { downAllPods, podStateDir, pollUntil, runPodkit, startProcess, stopAll, tempDir, yamlFile } from './helpers/index.js';
import { dirImage } from './helpers/rootfs.js';

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
    command: ["sh", "-c", "echo up; exec sleep 1000"]
    resources: {limits: {memory: 64Mi, cpu: "1"}}
  - name: b
    image: test.local/bb:1
    command: ["sh", "-c", "exec sleep 1001"]
`);
  const runner = startProcess(process.execPath, ['--import', 'tsx', FIXTURE, root, manifest, images], { name: 'runner' });
  const dir = join(root, 'pods', 'doomed');
  await pollUntil(() => {
    const st = existsSync(join(dir, 'status.json')) && (JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8')) as { containers: { state: string }[] });
    return st && st.containers.every((c) => c.state === 'running');
  }, { timeoutMs: 30_000, what: `containers running (${runner.stderr()})` });
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { id: string; oci: { root: string } };
  const sleepers = () => execFileSync('ps', ['-eo', 'args']).toString().split('\n').filter((l) => /^sleep 100[01]$/.test(l.trim()));
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
