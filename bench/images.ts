/**
 * @module `npm run bench -- images`: pull of a ~50 MB multi-layer image from a loopback registry, cold and warm,
 * side by side with `skopeo copy` of the same image in the same run (to an OCI layout: download and verify, as
 * `podkit pull`; to containers-storage: with the unpack, as `podkit up`'s pull); and the store's disk use for two
 * images that share layers.
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
    const runs = smoke ? 1 : 5;
    const rows = { cold: [] as number[], warm: [] as number[], up: [] as number[], skCold: [] as number[], skWarm: [] as number[], umoci: [] as number[], csCold: [] as number[], csWarm: [] as number[] };
    for (let i = 0; i < runs; i++) {
      const state = tempDir('podkit-bench-images-');
      const svc = imageServiceFor(state);
      rows.cold.push(await timed(() => svc.pull(ref)));
      rows.warm.push(await timed(() => svc.pull(ref)));
      // What `podkit up` does for a missing image: the pull with each layer unpacked as it arrives, in a store of its own.
      rows.up.push(await timed(() => imageServiceFor(tempDir('podkit-bench-images-')).ensure(ref, 'IfNotPresent')));
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
    const u = median(rows.up);
    const peers = { sk: median(rows.skCold), cs: median(rows.csCold), umoci: median(rows.skCold) + median(rows.umoci) };
    const ratio = (peer: number, ours: number) => (peer / ours).toFixed(2);
    out(`image pull from a loopback registry${smoke ? ' (smoke)' : ''}: ${(size / 1e6).toFixed(1)} MB compressed in ${layers.length} layers, median of ${runs}`);
    out(
      table(
        ['', 'podkit pull', 'skopeo copy to an OCI layout', 'podkit pull + unpack (podkit up)', 'skopeo copy to containers-storage (overlay)', 'skopeo copy + umoci raw unpack'],
        [
          ['work done', 'download, verify', 'download, verify', 'download, verify, unpack', 'download, verify, unpack', 'download, verify, unpack'],
          ['cold, ms', c.toFixed(0), peers.sk.toFixed(0), u.toFixed(0), peers.cs.toFixed(0), peers.umoci.toFixed(0)],
          ['cold, MB/s', mbps(c), mbps(peers.sk), mbps(u), mbps(peers.cs), mbps(peers.umoci)],
          ['cold ratio (peer time / podkit time)', '', ratio(peers.sk, c), '', ratio(peers.cs, u), ratio(peers.umoci, u)],
          ['warm (up to date), ms', w.toFixed(0), median(rows.skWarm).toFixed(0), '', median(rows.csWarm).toFixed(0), ''],
          ['warm ratio (peer time / podkit time)', '', ratio(median(rows.skWarm), w), '', ratio(median(rows.csWarm), w), ''],
        ],
      ),
    );
    out(`like for like: podkit pull and skopeo copy to an OCI layout each download and verify the blobs into a store: podkit is ${ratio(peers.sk, c)}x skopeo's speed cold.`);
    out(`with the unpack (what podkit up does for a missing image, and podman pull): podkit is ${ratio(peers.cs, u)}x skopeo copy to containers-storage cold.`);
    const state = tempDir('podkit-bench-share-');
    const svc = imageServiceFor(state);
    await svc.ensure(ref, 'IfNotPresent');
    const one = { blobs: du(join(state, 'images', 'oci')), layers: du(join(state, 'images', 'layers')) };
    await svc.ensure(other, 'IfNotPresent');
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
