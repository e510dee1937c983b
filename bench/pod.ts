/**
 * @module `npm run bench -- pod`: sandbox setup/teardown time (target p95 ≤ 50 ms) and time to Ready of a 3-container
 * pod as host processes and from images on crun (warm store: busybox layers already unpacked), with the containers'
 * start overhead (spawn, or release of a container created ahead, → running), and `podman kube play` of the same pod where podman runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './run.js';
import { median, percentile, table } from './_table.js';
import { loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { PodRunner } from '../src/pod/runtime/pod.js';
import type { Sandbox } from '../src/pod/runtime/sandbox.js';
import { NamespacedSandbox } from '../src/pod/runtime/sandbox-ns.js';
import { HostSandbox } from '../src/pod/runtime/sandbox-host.js';
import { tool } from '../src/pod/runtime/proc.js';
import { ContainerSandbox } from '../src/pod/runtime/sandbox-oci.js';
import type { ImageProvider } from '../src/pod/images/types.js';
import { busyboxLayerDir, dirImage, mapProvider } from '../test/helpers/rootfs.js';
import { podmanKubePlay, podmanMissing } from './_podman.js';

const POD = `apiVersion: v1
kind: Pod
metadata: { name: bench }
spec:
  terminationGracePeriodSeconds: 2
  volumes: [{ name: shared, emptyDir: {} }]
  initContainers:
  - name: sidecar
    image: bench.local/busybox:1
    restartPolicy: Always
    command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.05; done']
    startupProbe: { exec: { command: ['true'] }, periodSeconds: 1 }
  containers:
  - name: web
    image: bench.local/busybox:1
    command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.05; done']
    volumeMounts: [{ name: shared, mountPath: /tmp/podkit-bench-shared }]
    readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 }
  - name: worker
    image: bench.local/busybox:1
    command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 0.05; done']
    readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 }
`;

let seq = 0;
const id = () => `bn${process.pid.toString(16).slice(-4)}${(seq++).toString(16)}`;

async function sandboxTimes(n: number, make: () => Sandbox): Promise<{ setup: number[]; teardown: number[] }> {
  const setup: number[] = [];
  const teardown: number[] = [];
  for (let i = 0; i < n; i++) {
    const sb = make();
    const t0 = performance.now();
    await sb.setup();
    const t1 = performance.now();
    await sb.teardown();
    setup.push(t1 - t0);
    teardown.push(performance.now() - t1);
  }
  return { setup, teardown };
}

async function timeToReady(n: number, make: (dir: string) => Sandbox, images?: ImageProvider, onStart?: (ms: number, held: boolean) => void, onExec?: (ms: number) => void): Promise<number[]> {
  const p = parseManifests(POD, 'bench.yaml');
  const l = loadManifests(p.objects);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'podkit-bench-'));
    const sandbox = make(dir);
    if (onStart) {
      // The container start overhead: from the spawn to the runtime having created the container and run its
      // process; for a container created ahead (held), from its release to the same point.
      const spawn = sandbox.spawn.bind(sandbox);
      sandbox.spawn = (spec) => {
        let t0 = performance.now();
        const proc = spawn(spec);
        const release = proc.release?.bind(proc);
        if (release) {
          proc.release = (run) => {
            t0 = performance.now();
            release(run);
          };
        }
        void proc.created?.then((ok) => ok && onStart(performance.now() - t0, !!release));
        return proc;
      };
    }
    if (onExec) {
      // An exec probe's cost: the sidecar's startup probe and the mains' readiness probes are on the path to Ready.
      const exec = sandbox.exec.bind(sandbox);
      sandbox.exec = async (...a) => {
        const t0 = performance.now();
        const res = await exec(...a);
        onExec(performance.now() - t0);
        return res;
      };
    }
    const r = new PodRunner({ plan: l.pods[0], configMaps: l.configMaps, secrets: l.secrets, sandbox, dir, images });
    const t0 = performance.now();
    await r.start();
    const deadline = Date.now() + 15_000;
    while (!r.status().ready) {
      if (Date.now() > deadline) throw new Error('pod not ready within 15s');
      await new Promise((res) => setTimeout(res, 1));
    }
    out.push(performance.now() - t0);
    await r.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

export default async function bench({ smoke, out }: BenchOptions): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the pod benchmark needs root (network namespaces)');
  const n = smoke ? 5 : 100;
  const m = smoke ? 1 : 10;
  await sandboxTimes(1, () => new NamespacedSandbox({ id: id() })); // creates the bridge once
  const ns = await sandboxTimes(n, () => new NamespacedSandbox({ id: id() }));
  const shared = await sandboxTimes(n, () => new NamespacedSandbox({ id: id(), shareProcessNamespace: true }));
  const host = await timeToReady(m, () => new HostSandbox());
  const nsExec: number[] = [];
  const ready = await timeToReady(m, () => new NamespacedSandbox({ id: id() }), undefined, undefined, (ms) => nsExec.push(ms));
  const images = mapProvider({ 'bench.local/busybox:1': dirImage({}, [busyboxLayerDir()], 'bench.local/busybox:1') });
  const ociRoot = mkdtempSync(join(tmpdir(), 'podkit-bench-oci-'));
  const created: number[] = [];
  const released: number[] = [];
  const ociExec: number[] = [];
  const fromImages = await timeToReady(m, (dir) => new ContainerSandbox({ id: id(), dir, runtime: { bin: 'crun', root: ociRoot }, hostname: 'bench' }), images, (ms, held) => (held ? released : created).push(ms), (ms) => ociExec.push(ms));
  rmSync(ociRoot, { recursive: true, force: true });
  const noPodman = await podmanMissing();
  const podman = noPodman ? [] : await podmanKubePlay(m, POD, busyboxLayerDir());
  // Machine baseline: what one process spawn from Node costs right now (setup needs one, plus the kernel work).
  const spawnTimes: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await tool(['true']);
    spawnTimes.push(performance.now() - t0);
  }
  const row = (name: string, v: number[]) => [name, String(v.length), median(v), percentile(v, 95), Math.max(...v)];
  out(`pod sandbox and time to Ready${smoke ? ' (smoke)' : ''}; milliseconds`);
  out(
    table(['measure', 'n', 'p50 ms', 'p95 ms', 'max ms'], [
      row('baseline: spawn `true` from Node', spawnTimes),
      row('sandbox setup (netns+veth+lo)', ns.setup),
      row('sandbox teardown', ns.teardown),
      row('sandbox setup, shared pid ns', shared.setup),
      row('3-container pod → Ready (namespaced)', ready),
      row('3-container pod → Ready (host, no isolation)', host),
      row('3-container pod → Ready (from images, crun)', fromImages),
      row('container start: spawn → running (crun run)', created),
      ...(released.length ? [row('held container start: release → running', released)] : []),
      row('exec probe, namespaced host process', nsExec),
      row('exec probe in a container (crun exec)', ociExec),
      ...(podman.length ? [row('3-container pod → running (podman kube play)', podman)] : []),
    ]),
  );
  if (noPodman) out(`podman kube play: not measured (${noPodman})`);
  else out(`podman kube play: the same pod without the native sidecar and probes (podman 4.3 has neither), timed to every container running; p50 ${median(podman).toFixed(1)} ms vs podkit from images ${median(fromImages).toFixed(1)} ms to Ready`);
  const p95 = percentile(ns.setup, 95);
  out(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
  out(`sandbox setup p95 ${p95.toFixed(1)} ms (target ≤ 50 ms: ${p95 <= 50 ? 'met' : 'NOT met'}); namespaced/host time-to-Ready ratio ${(median(ready) / median(host)).toFixed(2)}`);
  const extra = median(fromImages) - median(ready);
  const starts = [...created, ...released];
  out(`from images: p50 ${median(fromImages).toFixed(1)} ms = namespaced host processes + ${extra.toFixed(1)} ms (target ≤ +50 ms: ${extra <= 50 ? 'met' : 'NOT met'}); container start p95 ${percentile(starts, 95).toFixed(1)} ms over every start, spawn or release → running (target ≤ 100 ms: ${percentile(starts, 95) <= 100 ? 'met' : 'NOT met'})`);
}
