/**
 * @module `npm run bench -- redis-ambassador-consistency`: the full read-your-writes run (10⁵ `SET k v; GET k`,
 * sequential and pipelined, replica SIGSTOP-ed 200 ms every second) for --consistency session and eventual, and the
 * cost of session mode: the share of a client's reads sent to the master, and GET latency, at several write rates.
 */
import { readFileSync } from 'node:fs';
import { closeRedisClients, stopAll } from '../test/helpers/index.js';
import { ConsistencyRig, getsByRoute, staleReads } from '../test/helpers/redis-consistency.js';
import type { BenchOptions } from './run.js';
import { percentile, table } from './_table.js';

type Mode = 'eventual' | 'session';

/** One client: GETs back to back, and a SET every `writeEveryMs` (0: never), for `ms`. */
async function mixed(rig: ConsistencyRig, mode: Mode, writeEveryMs: number, ms: number): Promise<{ toMaster: number; gets: number; p50: number; p99: number }> {
  // Seeded on the master directly: a write through the ambassador would send the first reads to the master too.
  const m = rig.master.client();
  await m.set('cost:k', '0');
  m.disconnect();
  const { h, c } = await rig.ambassador(mode);
  const before = getsByRoute(h);
  const lat: number[] = [];
  const end = Date.now() + ms;
  let nextWrite = Date.now();
  let i = 0;
  while (Date.now() < end) {
    if (writeEveryMs > 0 && Date.now() >= nextWrite) {
      await c.set('cost:k', String(++i));
      nextWrite += writeEveryMs;
    }
    const t0 = performance.now();
    await c.get('cost:k');
    lat.push((performance.now() - t0) * 1000);
  }
  const after = getsByRoute(h);
  await rig.closeAmbassadors();
  return { toMaster: after.master - before.master, gets: after.master + after.replica - before.master - before.replica, p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

export default async function main({ smoke, out }: BenchOptions): Promise<void> {
  const N = smoke ? 2000 : 100_000;
  const rig = await ConsistencyRig.start();
  const stale: (string | number)[][] = [];
  const cost: (string | number)[][] = [];
  try {
    for (const mode of ['session', 'eventual'] as Mode[]) {
      // One ambassador at a time: the self-metrics' route counts are per process (shared diagnostics channel).
      const { c } = await rig.ambassador(mode);
      rig.startPausing(200, 1000);
      try {
        for (const how of ['sequential', 'pipelined'] as const) {
          const r = await staleReads(c, N, how, `${mode}:${how}`);
          stale.push([mode, how, N.toLocaleString('en-US'), r.stale.toLocaleString('en-US'), ((r.ms * 1000) / N).toFixed(0)]);
        }
      } finally {
        rig.stopPausing();
        await rig.closeAmbassadors();
      }
    }
    const phaseMs = smoke ? 1000 : 5000;
    for (const every of smoke ? [100, 0] : [10, 100, 300, 1000, 3000, 0]) {
      for (const mode of ['session', 'eventual'] as Mode[]) {
        const r = await mixed(rig, mode, every, phaseMs);
        cost.push([every === 0 ? 'never' : `every ${every} ms`, mode, r.gets.toLocaleString('en-US'), `${((100 * r.toMaster) / Math.max(1, r.gets)).toFixed(1)} %`, r.p50.toFixed(0), r.p99.toFixed(0)]);
      }
    }
  } finally {
    await rig.close();
    closeRedisClients();
    await stopAll();
  }
  out(`redis-ambassador read-your-writes (${smoke ? 'smoke' : 'full'}): master + 1 replica, the replica SIGSTOP-ed 200 ms every second; ioredis through the ambassador`);
  out('');
  out(table(['consistency', 'SET k v; GET k', 'pairs', 'stale GETs', 'µs/pair'], stale));
  out('');
  out('cost of session mode: one client reading back to back and writing at the given interval (replica not paused)');
  out(table(['writes', 'consistency', 'GETs', 'GETs to the master', 'GET p50 µs', 'GET p99 µs'], cost));
  out('');
  out(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}
