/**
 * @module `npm run bench -- images`: pull of a ~50 MB multi-layer image from a loopback registry, cold and warm,
 * side by side with `skopeo copy` of the same image in the same run; and the store's disk use for two images that
 * share layers.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from './run.js';
import { median, table } from './_table.js';
import { imageServiceFor } from '../src/pod/images/index.js';
import { buildImage, busyboxLayer, type TarEntry } from '../test/helpers/images.js';
import { pushImage, startRegistry } from '../test/helpers/registry.js';
import { run, stopAll, tempDir } from '../test/helpers/proc.js';

/** Host files (shared libraries) up to `bytes`, as a layer: realistic, compressible content. */
function hostFilesLayer(skip: number, bytes: number): TarEntry[] {
  const dir = '/usr/lib/x86_64-linux-gnu';
  const files = readdirSync(dir)
    .map((f) => join(dir, f))
    .filter((f) => {
      try {
        const st = statSync(f);
        return st.isFile() && st.size < 8 << 20;
      } catch {
        return false;
      }
    })
    .sort();
  const out: TarEntry[] = [{ name: 'usr/', type: '5' }, { name: 'usr/lib/', type: '5' }, { name: `usr/lib/l${skip}/`, type: '5' }];
  let total = 0;
  let seen = 0;
  for (const f of files) {
    const size = statSync(f).size;
    seen += size;
    if (seen <= skip) continue;
    out.push({ name: `usr/lib/l${skip}/${f.split('/').pop()}`, data: readFileSync(f), mode: 0o755 });
    total += size;
    if (total >= bytes) break;
  }
  return out;
}

const du = (path: string) => Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0]);

/** Unmounts what containers-storage mounted under `dir` (its overlay driver bind-mounts its own directory), deepest first. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) execFileSync('umount', [m]);
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

export default async function bench({ smoke, out }: BenchOptions): Promise<void> {
  const reg = await startRegistry();
  try {
    const per = smoke ? 256 << 10 : 36 << 20;
    const base = busyboxLayer();
    const layers = [base, hostFilesLayer(0, per), hostFilesLayer(per, per), hostFilesLayer(2 * per, per)];
    const img = buildImage({ layers, config: { Cmd: ['sh'] } }, 'big');
    const ref = await pushImage(img, reg, 'bench/big', 'v1');
    const other = await pushImage(buildImage({ layers: [...layers.slice(0, 3), [{ name: 'app.txt', data: 'other' }]] }, 'other'), reg, 'bench/other', 'v1');
    const size = img.layerDigests.reduce((a, d) => a + statSync(join(img.layout, 'blobs', 'sha256', d.slice(7))).size, 0);
    const runs = smoke ? 1 : 3;
    const rows = { cold: [] as number[], warm: [] as number[], skCold: [] as number[], skWarm: [] as number[], umoci: [] as number[], csCold: [] as number[], csWarm: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const state = tempDir('podkit-bench-images-');
      const svc = imageServiceFor(state);
      rows.cold.push(await timed(() => svc.pull(ref)));
      rows.warm.push(await timed(() => svc.pull(ref)));
      const skopeo = (dest: string) => () => run('skopeo', ['--policy', svc.store.policy, 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, dest], { timeoutMs: 300_000 });
      const dest = tempDir('podkit-bench-skopeo-');
      rows.skCold.push(await timed(skopeo(`oci:${dest}:big`)));
      rows.skWarm.push(await timed(skopeo(`oci:${dest}:big`)));
      // umoci unpacks an OCI layout into one rootfs: the peer for the unpack half of a pull.
      rows.umoci.push(await timed(() => run('umoci', ['raw', 'unpack', '--image', `${dest}:big`, join(dest, 'rootfs')], { timeoutMs: 300_000 })));
      // containers-storage with the overlay driver, in a store of its own: what podman pull does, each layer unpacked once.
      const graph = tempDir('podkit-bench-cs-');
      try {
        const cs = skopeo(`containers-storage:[overlay@${join(graph, 'root')}+${join(graph, 'run')}]bench/big:v1`);
        rows.csCold.push(await timed(cs));
        rows.csWarm.push(await timed(cs));
      } finally {
        unmountUnder(graph);
      }
    }
    const mbps = (ms: number) => (size / 1e6 / (ms / 1000)).toFixed(1);
    const c = median(rows.cold);
    const w = median(rows.warm);
    const peers = { sk: median(rows.skCold), cs: median(rows.csCold), umoci: median(rows.skCold) + median(rows.umoci) };
    const ratio = (peer: number, ours: number) => (peer / ours).toFixed(2);
    out(`image pull from a loopback registry${smoke ? ' (smoke)' : ''}: ${(size / 1e6).toFixed(1)} MB compressed in ${layers.length} layers, median of ${runs}`);
    out(
      table(
        ['', 'podkit pull', 'skopeo copy to containers-storage (overlay)', 'skopeo copy to an OCI layout', 'skopeo copy + umoci raw unpack'],
        [
          ['work done', 'download, verify, unpack', 'download, verify, unpack', 'download, verify', 'download, verify, unpack'],
          ['cold, ms', c.toFixed(0), peers.cs.toFixed(0), peers.sk.toFixed(0), peers.umoci.toFixed(0)],
          ['cold, MB/s', mbps(c), mbps(peers.cs), mbps(peers.sk), mbps(peers.umoci)],
          ['cold ratio (peer time / podkit time)', '', ratio(peers.cs, c), ratio(peers.sk, c), ratio(peers.umoci, c)],
          ['warm (up to date), ms', w.toFixed(0), median(rows.csWarm).toFixed(0), median(rows.skWarm).toFixed(0), ''],
          ['warm ratio (peer time / podkit time)', '', ratio(median(rows.csWarm), w), ratio(median(rows.skWarm), w), ''],
        ],
      ),
    );
    out(`like for like: skopeo copy to containers-storage does the same work as podkit pull (download, verify and unpack each layer once into a store, as podman pull does): podkit is ${ratio(peers.cs, c)}x its speed cold.`);
    out(`skopeo copy to an OCI layout only downloads and verifies the blobs, without unpacking: podkit is ${ratio(peers.sk, c)}x its speed cold.`);
    const state = tempDir('podkit-bench-share-');
    const svc = imageServiceFor(state);
    await svc.pull(ref);
    const one = { blobs: du(join(state, 'images', 'oci')), layers: du(join(state, 'images', 'layers')) };
    await svc.pull(other);
    const two = { blobs: du(join(state, 'images', 'oci')), layers: du(join(state, 'images', 'layers')) };
    out('store disk use, bytes: the second image shares its three lower layers with the first');
    out(
      table(
        ['', 'blobs (oci/)', 'unpacked (layers/)'],
        [
          ['after image 1', one.blobs, one.layers],
          ['after image 2', two.blobs, two.layers],
          ['growth', two.blobs - one.blobs, two.layers - one.layers],
        ],
      ),
    );
    out(`load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} cores`);
  } finally {
    await reg.stop();
    await stopAll();
  }
}
