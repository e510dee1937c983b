/**
 * @module `npm run bench -- redis-ambassador-failover`: repeated master kill -9 under a paced ioredis write load through
 * the ambassador (1 master, 2 replicas, 3 Sentinels, down-after 1 s): resume time after +switch-master, write gap,
 * acknowledged writes lost (read back from the new master) against the ambassador's estimate; plain SET and SET + WAIT 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil, stopAll, closeRedisClients } from '../test/helpers/index.js';
import { WriteLoad } from '../test/helpers/redis-failover-load.js';
import { FailoverRig } from '../test/helpers/redis-failover-rig.js';
import type { BenchOptions } from './run.js';
import { median, percentile, table } from './_table.js';

const RATE = 2000;

export default async function main({ smoke, out }: BenchOptions): Promise<void> {
  const rounds: { mode: 'SET' | 'SET+WAIT 1'; rate: number }[] = smoke
    ? [{ mode: 'SET', rate: RATE }]
    : [...Array.from({ length: 6 }, () => ({ mode: 'SET' as const, rate: RATE })), ...Array.from({ length: 3 }, () => ({ mode: 'SET+WAIT 1' as const, rate: RATE / 2 }))];
  const rig = await FailoverRig.start();
  const rows: (string | number)[][] = [];
  const resume: number[] = [];
  const notes: string[] = [];
  try {
    for (const [i, r] of rounds.entries()) {
      if (i > 0) {
        // The node killed last round comes back empty as a replica (a restarted pod); both replicas must be promotable.
        await rig.restartDead();
        await rig.replicasReady(2, `round ${i + 1}`);
      }
      const load = new WriteLoad({ port: rig.h.address.port, clients: r.mode === 'SET' ? 4 : 8, rate: r.rate, prefix: `bench${i}`, wait: r.mode === 'SET' ? undefined : { replicas: 1, timeoutMs: 200 } });
      load.start();
      await pollUntil(() => load.acks.length >= r.rate, { timeoutMs: 15_000, what: 'writes flowing' });
      const before = rig.unreplicatedBytes();
      const f = await rig.failover(load, `round ${i + 1}`, r.rate);
      await load.stop();
      const fresh = rig.direct(rig.master().port);
      const missing = await load.missingOn(fresh);
      fresh.disconnect();
      load.close();
      const lostConfirmed = missing.filter((a) => a.waited >= 1).length;
      if (f.preempted || f.doubled) {
        // +switch-master sooner than Sentinel's down-after can follow a kill: a failover that began before it. Keep the evidence.
        const file = join(tmpdir(), `podkit-failover-bench-round${i + 1}.log`);
        writeFileSync(file, `kill at ${new Date(f.killedAt).toISOString()} of :${f.from}; +switch-master at ${new Date(f.switchAt).toISOString()}\n${rig.sentinelLogs()}`);
        notes.push(`round ${i + 1}: +switch-master ${f.killToSwitchMs} ms after the kill${f.preempted ? ' (a failover Sentinel began on its own before the kill)' : ''}${f.doubled ? ', Sentinel promoted twice' : ''}: Sentinel logs in ${file}`);
      }
      const errs = [...load.errors].map(([k, v]) => `${v} ${k.includes('connection lost') ? 'in flight at the kill' : k}`).join('; ') || '0';
      resume.push(f.switchToAckMs);
      const n = (x: number) => x.toLocaleString('en-US');
      rows.push([
        String(i + 1),
        r.mode,
        `${r.rate}/s`,
        n(f.killToSwitchMs),
        n(f.switchToAmbassadorMs),
        n(f.switchToAckMs),
        n(f.gapMs),
        n(load.acks.length),
        r.mode === 'SET' ? String(missing.length) : `${lostConfirmed} of ${load.acks.filter((a) => a.waited >= 1).length} confirmed, ${missing.length - lostConfirmed} other`,
        n(rig.unreplicatedBytes() - before),
        String(load.readonlyErrors()),
        errs,
      ]);
    }
  } finally {
    await rig.close();
    closeRedisClients();
    await stopAll();
  }
  out(`redis-ambassador failover benchmark (${smoke ? 'smoke: 1 round' : `${rounds.length} rounds`}; 1 master, 2 replicas, 3 Sentinels, down-after 1 s; ioredis open-loop writes through the ambassador)`);
  out('');
  out(table(['round', 'writes', 'rate', 'kill→+switch-master ms', '→ambassador ms', '→first OK ms', 'write gap ms', 'acked', 'acked writes lost', 'estimate bytes', '-READONLY', 'errors'], rows));
  out('');
  out(`+switch-master → first acknowledged write: median ${median(resume)} ms, max ${percentile(resume, 100)} ms (target ≤ 200 ms)`);
  for (const n of notes) out(n);
  out(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
}
