/** @module A write refused with -READONLY (the master was demoted before the ambassador heard of it) is retried on the new master, never shown to the client. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pollUntil, startRedis, stopAll, type RedisNode } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import type { ChangeListener, NodeState, SwitchListener, Topology, TopologySnapshot } from '../src/redis-ambassador/topology/index.js';

/**
 * The one test double here: a topology whose master moves when the test says, so the window in which the old master
 * answers -READONLY while the ambassador still sends to it can be held open deterministically (with real Sentinels it
 * is a race of a few ms). The Redis servers and the client are real.
 */
class ManualTopology implements Topology {
  private snap: TopologySnapshot;
  private readonly change = new Set<ChangeListener>();
  private readonly sw = new Set<SwitchListener>();
  constructor(master: RedisNode) {
    this.snap = { master: this.node(master), replicas: [], epoch: 1 };
  }
  private node(n: RedisNode): NodeState {
    return { host: '127.0.0.1', port: n.port, role: 'master', healthy: true };
  }
  current(): TopologySnapshot {
    return this.snap;
  }
  on(event: 'change' | 'switch-master', fn: ChangeListener | SwitchListener): () => void {
    const set = (event === 'change' ? this.change : this.sw) as Set<unknown>;
    set.add(fn);
    return () => set.delete(fn);
  }
  switchTo(n: RedisNode): void {
    const from = this.snap.master;
    this.snap = { master: this.node(n), replicas: [], epoch: this.snap.epoch + 1 };
    for (const f of this.sw) f(from, this.snap.master as NodeState, Date.now());
    for (const f of this.change) f(this.snap, 'switch');
  }
  caughtUp(): boolean {
    return false;
  }
  async recheck(): Promise<void> {}
  async close(): Promise<void> {}
}

let a: RedisNode;
let b: RedisNode;
let h: Handle;
const clients: Redis[] = [];

before(async () => {
  a = await startRedis();
  b = await startRedis({ replicaOf: { host: '127.0.0.1', port: a.port } });
});
after(async () => {
  for (const c of clients) c.disconnect();
  await h?.close();
  await stopAll();
});

test('-READONLY from a demoted master: the writes wait for the switch and succeed on the new master', { timeout: 60_000 }, async () => {
  const topo = new ManualTopology(a);
  h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, topology: topo });
  const writers = Array.from({ length: 4 }, () => {
    const c = new Redis({ port: h.address.port, host: '127.0.0.1', commandTimeout: 10_000, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  });
  let stop = false;
  let ok = 0;
  const errors: string[] = [];
  let i = 0;
  const loops = writers.map(async (c) => {
    while (!stop) {
      try {
        await c.set(`ro:${i++ % 100}`, String(i));
        ok++;
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  });
  const retried = () => h.metrics.registry.collect().find((f) => f.name.startsWith('podkit_ambassador_reroutes'))?.metrics.find((m) => m.labels.kind === 'write_retried')?.value ?? 0;
  await pollUntil(() => ok > 500, { timeoutMs: 10_000, what: 'writes flowing' });
  // Demote a behind the ambassador's back: b becomes master, a its replica (a now answers writes with -READONLY).
  const ac = a.client();
  const bc = b.client();
  clients.push(ac, bc);
  await bc.call('REPLICAOF', 'NO', 'ONE');
  await ac.call('REPLICAOF', '127.0.0.1', String(b.port));
  await pollUntil(() => Number(retried()) > 0, { timeoutMs: 10_000, what: 'a write refused with -READONLY and held' });
  const okBefore = ok;
  topo.switchTo(b);
  await pollUntil(() => ok > okBefore + 500, { timeoutMs: 10_000, what: 'writes succeeding on the new master' });
  stop = true;
  await Promise.all(loops);
  console.log(`# -READONLY: ${ok} SETs ok, ${retried()} writes retried after -READONLY, errors ${JSON.stringify(errors)}`);
  assert.deepEqual(errors, []);
});
