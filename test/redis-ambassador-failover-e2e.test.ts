/** @module The ambassador in Sentinel mode end to end: GET load while a replica is kill -9-ed, SET load while the master is. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { pollUntil, startTopology, stopAll, type Topology as Servers } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { SentinelTopology } from '../src/redis-ambassador/topology/index.js';

let servers: Servers;
let h: Handle;
const clients: Redis[] = [];
/** First receipt of +switch-master on the test's own subscriptions to every Sentinel (the reference clock). */
let switchAt = 0;

after(async () => {
  for (const c of clients) c.disconnect();
  await h?.close();
  await stopAll();
});

const client = () => {
  const c = new Redis({ port: h.address.port, host: '127.0.0.1', maxRetriesPerRequest: 0, commandTimeout: 8000 });
  c.on('error', () => {});
  clients.push(c);
  return c;
};

const http = async (path: string) => {
  const r = await fetch(`http://127.0.0.1:${(h.httpAddress as { port: number }).port}${path}`);
  return { status: r.status, text: await r.text() };
};

before(
  async () => {
  servers = await startTopology({ replicas: 2, sentinels: 3, downAfterMs: 1000 });
  for (const n of [servers.master, ...servers.replicas]) {
    const c = n.client();
    await c.config('SET', 'repl-diskless-sync-delay', '0');
    c.disconnect();
  }
  for (const s of servers.sentinels) {
    const c = s.client();
    clients.push(c);
    c.on('message', () => (switchAt ||= Date.now()));
    await c.subscribe('+switch-master');
  }
  const topo = new SentinelTopology(
    servers.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
    servers.masterName,
  );
  h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: { host: '127.0.0.1', port: 0 }, topology: topo });
  await pollUntil(() => h.ready().ready && topo.current().replicas.filter((r) => r.healthy).length === 2, { timeoutMs: 15_000, what: 'ambassador ready with 2 healthy replicas' });
  },
  { timeout: 60_000 },
);

test('GET load with zero errors while a replica is kill -9-ed; the dead replica leaves rotation', { timeout: 60_000 }, async () => {
  const seed = client();
  await seed.set('e2e:key', 'v');
  await pollUntil(async () => (await servers.replicas[0].client().get('e2e:key')) === 'v' && (await servers.replicas[1].client().get('e2e:key')) === 'v', { timeoutMs: 5000, what: 'replicated' });
  // Four clients: sticky per client, so both replicas serve some of them.
  const readers = [client(), client(), client(), client()];
  let stop = false;
  let ok = 0;
  const errors: string[] = [];
  const loops = readers.map(async (c) => {
    while (!stop) {
      try {
        assert.equal(await c.get('e2e:key'), 'v');
        ok++;
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  });
  await pollUntil(() => ok > 2000, { timeoutMs: 10_000, what: 'reads flowing' });
  const victim = servers.replicas[0];
  victim.proc.signal('SIGKILL');
  const killedAt = ok;
  await pollUntil(async () => (await http('/metrics')).text.includes('podkit_ambassador_replicas_in_rotation 1'), { timeoutMs: 5000, what: 'replica out of rotation' });
  await pollUntil(() => ok > killedAt + 2000, { timeoutMs: 10_000, what: 'reads after the kill' });
  stop = true;
  await Promise.all(loops);
  const m = (await http('/metrics')).text;
  const retried = /podkit_ambassador_reroutes_total\{kind="read_retried"\} (\d+)/.exec(m)?.[1] ?? '0';
  console.log(`# replica kill -9: ${ok} GETs, ${errors.length} errors, ${retried} reads retried on another node`);
  assert.deepEqual(errors, []);
});

test('SET load while the master is kill -9-ed: no -READONLY reaches the client, writes resume after +switch-master', { timeout: 60_000 }, async () => {
  const writers = [client(), client(), client(), client()];
  let stop = false;
  let ok = 0;
  let firstOkAfterSwitch = 0;
  const errors = new Map<string, number>();
  let i = 0;
  const loops = writers.map(async (c) => {
    while (!stop) {
      try {
        await c.set(`e2e:w:${i++ % 1000}`, String(i));
        ok++;
        if (switchAt && !firstOkAfterSwitch) firstOkAfterSwitch = Date.now();
      } catch (e) {
        const msg = (e as Error).message.replace(/\d+/g, '#');
        errors.set(msg, (errors.get(msg) ?? 0) + 1);
      }
    }
  });
  await pollUntil(() => ok > 2000, { timeoutMs: 10_000, what: 'writes flowing' });
  const killedAt = Date.now();
  servers.master.proc.signal('SIGKILL');
  await pollUntil(() => switchAt > 0, { timeoutMs: 20_000, what: '+switch-master from a Sentinel' });
  await pollUntil(() => firstOkAfterSwitch > 0, { timeoutMs: 10_000, what: 'a write succeeding after +switch-master' });
  const okAtSwitch = ok;
  await pollUntil(() => ok > okAtSwitch + 1000, { timeoutMs: 10_000, what: 'writes flowing on the new master' });
  stop = true;
  await Promise.all(loops);
  const m = (await http('/metrics')).text;
  const n = (k: string) => /(\d+)$/.exec(m.split('\n').find((l) => l.startsWith(`podkit_ambassador_reroutes_total{kind="${k}"}`)) ?? '')?.[1] ?? '0';
  console.log(
    `# master kill -9: kill → +switch-master ${switchAt - killedAt} ms; +switch-master → first successful write ${firstOkAfterSwitch - switchAt} ms; ` +
      `${ok} SETs ok; errors ${JSON.stringify([...errors])}; writes held ${n('write_held')}, retried ${n('write_retried')}`,
  );
  assert.equal([...errors.keys()].filter((k) => k.includes('READONLY')).length, 0, JSON.stringify([...errors]));
  assert.match(m, /podkit_ambassador_failovers_total 1/);
  assert.equal((await http('/readyz')).status, 200);
});
