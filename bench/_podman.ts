/**
 * @module `podman kube play` of the pod benchmark's manifest, as the peer for time to running: the busybox layer
 * imported as an image, a containers.conf whose ulimits this machine's limits allow, the pod played and taken down.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const IMAGE = 'bench.local/podkit-bench-busybox:1';

/** Why podman cannot be measured here, or undefined when it can. */
export async function podmanMissing(): Promise<string | undefined> {
  try {
    await run('podman', ['--version'], { timeout: 10_000 });
    return undefined;
  } catch (e) {
    return `podman is not usable on this machine (${(e as Error).message.split('\n')[0]})`;
  }
}

/**
 * podman 4.3 has no native sidecars (an init container must exit) and no readiness from exec probes in kube play:
 * the sidecar becomes a plain container, the probes go, and the figure is `podman kube play` returning with every
 * container running — less than Ready asks of podkit.
 */
function podmanManifest(pod: string): string {
  return pod
    .replace(/ {2}initContainers:\n/, '')
    .replace(/ {4}restartPolicy: Always\n/, '')
    .replace(/ {4}(startupProbe|readinessProbe): .*\n/g, '')
    .replace(/ {2}containers:\n/, '')
    .replace(/ {2}volumes: (.*)\n/, '  volumes: $1\n  containers:\n')
    .replace(/image: \S+/g, `image: ${IMAGE}`)
    .replace(/name: bench }/, 'name: podkit-bench-podman }');
}

/** `n` runs of `podman kube play` (each followed by `podman kube down`), in milliseconds. */
export async function podmanKubePlay(n: number, pod: string, rootfs: string): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'podkit-bench-podman-'));
  // podman asks crun for RLIMIT_NOFILE 1048576 and a large RLIMIT_NPROC, which a container host with lower hard
  // limits refuses (EPERM): give it limits every machine allows.
  const conf = join(dir, 'containers.conf');
  writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const manifest = join(dir, 'pod.yaml');
  writeFileSync(manifest, podmanManifest(pod));
  const out: number[] = [];
  try {
    await run('sh', ['-c', `tar -C "$1" -cf - . | podman import --change ENV=PATH=/bin - "$2"`, 'sh', rootfs, IMAGE], { env, timeout: 120_000 });
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await run('podman', ['kube', 'play', manifest], { env, timeout: 60_000 });
      out.push(performance.now() - t0);
      await run('podman', ['kube', 'down', manifest], { env, timeout: 60_000 });
    }
  } finally {
    await run('podman', ['kube', 'down', manifest], { env, timeout: 60_000 }).catch(() => undefined);
    await run('podman', ['rmi', '-f', IMAGE], { env, timeout: 60_000 }).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}
