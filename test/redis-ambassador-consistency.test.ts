/** @module --consistency session (read-your-writes) vs eventual, through real master + replica, the replica SIGSTOP-ed 200 ms every second. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pollUntil, startRedis, stopAll, type RedisNode } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { StaticTopology } from '../src/redis-ambassador/topology/index.js';

let master: RedisNode;
let replica: RedisNode;
const handles: Handle[] = [];
const clients: Redis[] = [];
let pauser: NodeJS.Timeout | undefined;

after(async () => {
  if (pauser) clearInterval(pauser);
  replica?.proc.signal('SIGCONT');
  for (const c of clients) c.disconnect();
  for (const h of handles) await h.close();
  await stopAll();
});

before(async () => {
  master = await startRedis();
  replica = await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } });
  const m = master.client();
  clients.push(m);
  await pollUntil(async () => /connected_slaves:1/.test(await m.info('replication')), { timeoutMs: 10_000, what: 'replica attached' });
});

async function ambassador(consistency: 'eventual' | 'session'): Promise<Redis> {
  const topology = new StaticTopology({ host: '127.0.0.1', port: master.port }, [{ host: '127.0.0.1', port: replica.port }]);
  const h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, topology, consistency });
  handles.push(h);
  await pollUntil(() => h.ready().ready && topology.current().replicas.some((r) => r.healthy), { timeoutMs: 10_000, what: 'replica in rotation' });
  const c = new Redis({ port: h.address.port, host: '127.0.0.1', commandTimeout: 10_000 });
  c.on('error', () => {});
  clients.push(c);
  return c;
}

/** SET k i; GET k, n times, sequential or as 2-command pipelines: how many GETs returned an older value. */
async function staleReads(c: Redis, n: number, mode: 'sequential' | 'pipelined', prefix: string): Promise<number> {
  let stale = 0;
  for (let i = 1; i <= n; i++) {
    const k = `${prefix}:${i % 50}`;
    let got: string | null;
    if (mode === 'sequential') {
      await c.set(k, String(i));
      got = await c.get(k);
    } else {
      const r = (await c.pipeline().set(k, String(i)).get(k).exec()) ?? [];
      got = r[1]?.[1] as string | null;
    }
    if (got !== String(i)) stale++;
  }
  return stale;
}

test('session: 0 stale reads (sequential and pipelined); eventual: stale reads observed — replica SIGSTOP-ed 200 ms every second', { timeout: 120_000 }, async () => {
  const session = await ambassador('session');
  const eventual = await ambassador('eventual');
  pauser = setInterval(() => {
    replica.proc.signal('SIGSTOP');
    setTimeout(() => replica.proc.signal('SIGCONT'), 200).unref();
  }, 1000);
  const N = 3000;
  const t0 = Date.now();
  const s1 = await staleReads(session, N, 'sequential', 'ses:seq');
  const s2 = await staleReads(session, N, 'pipelined', 'ses:pipe');
  const e2 = await staleReads(eventual, N, 'pipelined', 'ev:pipe');
  const e1 = await staleReads(eventual, N, 'sequential', 'ev:seq');
  clearInterval(pauser);
  pauser = undefined;
  replica.proc.signal('SIGCONT');
  const fams = await handles[0].metrics.collect();
  const text = fams.find((f) => f.name.startsWith('podkit_ambassador_reroutes'));
  console.log(`# consistency, ${N} SET+GET each (${Date.now() - t0} ms): session sequential ${s1} stale, session pipelined ${s2} stale; eventual pipelined ${e2} stale, eventual sequential ${e1} stale; session reroutes (reads sent to the master instead) ${JSON.stringify(text?.metrics.map((x) => [x.labels.kind, x.value]))}`);
  assert.equal(s1, 0);
  assert.equal(s2, 0);
  assert.ok(e1 + e2 > 0, 'eventual consistency should show stale reads here (proof the test can fail)');
});
