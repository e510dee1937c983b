/** @module SentinelTopology under real failovers: kill -9 the master (twice, back to back, with a Sentinel gone), waited for by events. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { pollUntil, startTopology, stopAll, withTimeout, type RedisNode, type Topology as Servers } from './helpers/index.js';
import { render } from '../src/core/metrics/index.js';
import { SentinelTopology, TopologyMetrics, type NodeState, type TopologySnapshot } from '../src/redis-ambassador/topology/index.js';

after(stopAll);

let servers: Servers;
let topo: SentinelTopology;
let metrics: TopologyMetrics;
/** Receipt times of +switch-master on the test's own subscriptions to every Sentinel (the reference clock). */
const sentinelSwitches: { at: number; payload: string }[] = [];
const subs: Redis[] = [];
/** Receipt times of +switch-master inside the topology (its own Sentinel subscriptions). */
const topoSwitches: { at: number; payload: string }[] = [];
const figures: Record<string, number[]> = {};
const record = (k: string, ms: number) => (figures[k] ??= []).push(ms);

before(async () => {
  servers = await startTopology({ replicas: 2, sentinels: 3, downAfterMs: 500, failoverTimeoutMs: 2000 });
  // Any node may become master: none should wait Redis's default 5 s before a full sync to a replica.
  for (const n of [servers.master, ...servers.replicas]) {
    const c = n.client();
    await c.config('SET', 'repl-diskless-sync-delay', '0');
    c.disconnect();
  }
  for (const s of servers.sentinels) {
    const c = s.client();
    c.on('message', (_ch: string, payload: string) => sentinelSwitches.push({ at: Date.now(), payload }));
    await c.subscribe('+switch-master');
    subs.push(c);
  }
  // Only the first Sentinel is configured: the others are found through SENTINEL SENTINELS (and that one is killed later).
  topo = new SentinelTopology(
    [{ host: '127.0.0.1', port: servers.sentinels[0].port }],
    servers.masterName,
    { onSentinelEvent: (ch, payload, at) => ch === '+switch-master' && topoSwitches.push({ at, payload }) },
  );
  metrics = new TopologyMetrics(topo);
  await waitSnapshot((s) => s.master?.port === servers.master.port && s.replicas.filter((r) => r.healthy).length === 2, 'initial discovery');
  await pollUntil(() => topo.sentinels().filter((x) => x.connected).length === 3, { timeoutMs: 10_000, what: 'all 3 Sentinels discovered from the one configured' });
});
after(async () => {
  console.log('# failover figures (ms):', JSON.stringify(figures));
  metrics?.close();
  await topo?.close();
  for (const c of subs) c.disconnect();
});

function waitSnapshot(pred: (s: TopologySnapshot) => boolean, what: string, timeoutMs = 20_000): Promise<TopologySnapshot> {
  return withTimeout(
    new Promise<TopologySnapshot>((resolve) => {
      const off = topo.on('change', (s) => pred(s) && (off(), resolve(s)));
      const now = topo.current();
      if (pred(now)) {
        off();
        resolve(now);
      }
    }),
    timeoutMs,
    what,
  );
}

function nextSwitch(): Promise<{ from: NodeState | null; to: NodeState; at: number }> {
  return withTimeout(
    new Promise((resolve) => {
      const off = topo.on('switch-master', (from, to, at) => (off(), resolve({ from, to, at })));
    }),
    30_000,
    'switch-master',
  );
}

const nodeAt = (port: number): RedisNode => {
  const n = [servers.master, ...servers.replicas].find((x) => x.port === port);
  assert.ok(n, `switched to an unknown node :${port}`);
  return n;
};

/** Kill the current master; wait for our switch-master; check ROLE on the new master and measure against Sentinel's message. */
async function failover(label: string): Promise<RedisNode> {
  const old = topo.current().master;
  assert.ok(old);
  const seenBefore = sentinelSwitches.length;
  const sw = nextSwitch();
  const killedAt = Date.now();
  nodeAt(old.port).proc.signal('SIGKILL');
  const { from, to, at } = await sw;
  record(`${label}: kill -9 master → our switch-master (mostly Sentinel's down-after + election)`, at - killedAt);
  assert.equal(from?.port, old.port);
  assert.notEqual(to.port, old.port);
  const next = nodeAt(to.port);
  const c = next.client();
  const role = (await c.call('ROLE')) as unknown[];
  c.disconnect();
  assert.equal(role[0], 'master', 'the node we switched to says it is master');
  assert.equal(topo.current().master?.port, to.port);
  // Sentinels learn of a failover at different times (up to seconds apart): take the first message about THIS one.
  const payload = `${servers.masterName} 127.0.0.1 ${old.port} 127.0.0.1 ${to.port}`;
  const firstOf = (list: { at: number; payload: string }[]) => list.filter((x) => x.payload === payload).reduce<number | null>((a, b) => (a === null || b.at < a ? b.at : a), null);
  await pollUntil(() => firstOf(sentinelSwitches.slice(seenBefore)) !== null, { timeoutMs: 10_000, what: 'the test saw +switch-master' });
  record(`${label}: first +switch-master on the test's subscription → our switch-master`, at - (firstOf(sentinelSwitches) as number));
  const own = firstOf(topoSwitches);
  if (own !== null) record(`${label}: +switch-master received by the topology → its switch-master`, at - own);
  else record(`${label}: switch-master came from a re-check before any +switch-master message`, 0);
  return next;
}

/** Wait until every live Sentinel lists `replica` as a healthy replica of `master` (so it can be promoted next). */
async function sentinelsSeeReplica(master: RedisNode, replica: RedisNode, sentinels = servers.sentinels): Promise<void> {
  for (const s of sentinels) {
    const c = s.client();
    await pollUntil(
      async () => {
        const m = (await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', servers.masterName)) as string[];
        const reps = (await c.call('SENTINEL', 'REPLICAS', servers.masterName)) as string[][];
        const r = reps.map((x) => new Map(x.map((v, i) => [v, x[i + 1]]))).find((x) => x.get('port') === String(replica.port));
        return Number(m[1]) === master.port && !!r && !/s_down|disconnected/.test(r.get('flags') ?? '') && r.get('master-link-status') === 'ok';
      },
      { timeoutMs: 30_000, what: `sentinel ${s.addr} to see ${replica.addr} replicating from ${master.addr}` },
    );
    c.disconnect();
  }
}

test('kill -9 the master: switch-master to a ROLE-confirmed master; the other replica follows', async () => {
  const newMaster = await failover('failover 1');
  const other = servers.replicas.find((r) => r.port !== newMaster.port) as RedisNode;
  const s = await waitSnapshot((x) => x.replicas.find((r) => r.port === other.port)?.healthy === true, 'the other replica healthy under the new master');
  assert.equal(s.master?.port, newMaster.port);
  const dead = s.replicas.find((r) => r.port === servers.master.port);
  assert.equal(dead?.healthy, false, 'the killed old master is listed, unhealthy');
});

test('back-to-back: a Sentinel goes away, then the new master is killed too', async () => {
  const current = nodeAt(topo.current().master?.port ?? 0);
  const last = servers.replicas.find((r) => r.port !== current.port) as RedisNode;
  const alive = servers.sentinels.slice(1);
  await sentinelsSeeReplica(current, last, alive);
  servers.sentinels[0].proc.signal('SIGKILL');
  const newMaster = await failover('failover 2 (one sentinel dead)');
  assert.equal(newMaster.port, last.port);
  const snap = topo.current();
  assert.equal(snap.replicas.filter((r) => r.healthy).length, 0, 'both former masters are dead: no healthy replica');
  const text = render(metrics.collect(), 'prometheus');
  assert.match(text, /^podkit_ambassador_failovers_total 2$/m);
  assert.match(text, new RegExp(`^podkit_ambassador_master_info\\{address="127.0.0.1:${last.port}"\\} 1$`, 'm'));
  assert.match(text, /^podkit_ambassador_replicas_in_rotation 0$/m);
});

test('every Sentinel gone: the last confirmed master is kept (probes still watch it) and recheck() does not throw', async () => {
  const master = topo.current().master;
  assert.ok(master);
  for (const s of servers.sentinels) s.proc.signal('SIGKILL');
  await Promise.all(servers.sentinels.map((s) => s.proc.exited));
  await topo.recheck();
  assert.equal(topo.current().master?.port, master.port);
  // …and the master's own probe still decides: ROLE keeps confirming it.
  const before = topo.current().master?.sampledAt ?? 0;
  await pollUntil(() => (topo.current().master?.sampledAt ?? 0) > before, { timeoutMs: 5_000, what: 'a fresh master probe' });
  assert.equal(topo.current().master?.healthy, true);
});
