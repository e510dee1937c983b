/** @module The ambassador in Sentinel mode end to end: GET load while a replica is kill -9-ed, SET load while the master is. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { freePort, pollUntil, startPodkit, startTopology, stopAll, waitForPort, type Topology as Servers } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { SentinelTopology } from '../src/redis-ambassador/topology/index.js';

let servers: Servers;
let h: Handle;
const clients: Redis[] = [];
/** First receipt of +switch-master on the test's own subscriptions to every Sentinel (the reference clock). */
let switchAt = 0;
let topo: SentinelTopology;
/** A write loop over 4 clients; `stop()` ends it and returns what it saw. */
function writeLoop() {
  const writers = [client(), client(), client(), client()];
  let stopped = false;
  const st = { ok: 0, firstOkAfterSwitch: 0, errors: new Map<string, number>() };
  let i = 0;
  const loops = writers.map(async (c) => {
    while (!stopped) {
      try {
        await c.set(`e2e:w:${i++ % 1000}`, String(i));
        st.ok++;
        if (switchAt && !st.firstOkAfterSwitch) st.firstOkAfterSwitch = Date.now();
      } catch (e) {
        const msg = (e as Error).message.replace(/\d+/g, '#');
        st.errors.set(msg, (st.errors.get(msg) ?? 0) + 1);
      }
    }
  });
  return { st, stop: async () => ((stopped = true), await Promise.all(loops)) };
}
const reroutes = (m: string, k: string) => /(\d+)$/.exec(m.split('\n').find((l) => l.startsWith(`podkit_ambassador_reroutes_total{kind="${k}"}`)) ?? '')?.[1] ?? '0';

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
  for (const s of servers.sentinels) {
    const c = s.client();
    clients.push(c);
    c.on('message', () => (switchAt ||= Date.now()));
    await c.subscribe('+switch-master');
  }
  topo = new SentinelTopology(
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
  const nodes = [servers.master, ...servers.replicas];
  const reps = topo.current().replicas.filter((r) => r.healthy).map((r) => nodes.find((n) => n.port === r.port) as (typeof nodes)[number]);
  await pollUntil(async () => (await reps[0].client().get('e2e:key')) === 'v' && (await reps[1].client().get('e2e:key')) === 'v', { timeoutMs: 5000, what: 'replicated' });
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
  const victim = reps[0];
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

test('SET load while the master is kill -9-ed: no -READONLY reaches the client, writes resume after +switch-master; /readyz 503 meanwhile', { timeout: 60_000 }, async () => {
  const w = writeLoop();
  await pollUntil(() => w.st.ok > 2000, { timeoutMs: 10_000, what: 'writes flowing' });
  switchAt = 0;
  const master = [servers.master, ...servers.replicas].find((n) => n.port === topo.current().master?.port);
  assert.ok(master);
  const notReady: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      const r = await http('/readyz');
      if (r.status === 503) notReady.push(r.text.trim());
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  const killedAt = Date.now();
  master.proc.signal('SIGKILL');
  await pollUntil(() => switchAt > 0, { timeoutMs: 20_000, what: '+switch-master from a Sentinel' });
  await pollUntil(() => w.st.firstOkAfterSwitch > 0, { timeoutMs: 10_000, what: 'a write succeeding after +switch-master' });
  const okAt = w.st.ok;
  await pollUntil(() => w.st.ok > okAt + 1000, { timeoutMs: 10_000, what: 'writes flowing on the new master' });
  await w.stop();
  watching = false;
  await watch;
  const m = (await http('/metrics')).text;
  console.log(
    `# master kill -9: kill → +switch-master ${switchAt - killedAt} ms; +switch-master → first successful write ${w.st.firstOkAfterSwitch - switchAt} ms; ` +
      `${w.st.ok} SETs ok; errors ${JSON.stringify([...w.st.errors])}; writes held ${reroutes(m, 'write_held')}, retried ${reroutes(m, 'write_retried')}; /readyz 503 polls: ${notReady.length} (${notReady[0] ?? ''})`,
  );
  assert.equal([...w.st.errors.keys()].filter((k) => k.includes('READONLY')).length, 0, JSON.stringify([...w.st.errors]));
  assert.match(m, /podkit_ambassador_failovers_total 1/);
  assert.ok(notReady.some((t) => /no master/.test(t)), `readyz said: ${JSON.stringify(notReady)}`);
  assert.equal((await http('/readyz')).status, 200);
});

test('the CLI in Sentinel mode: --sentinel (repeatable) --master-name, SET/GET through it, /readyz 200, SIGTERM exits 0', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const httpPort = await freePort();
  const sentinels = servers.sentinels.flatMap((x) => ['--sentinel', `127.0.0.1:${x.port}`]);
  const p = startPodkit(['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--http-bind', `127.0.0.1:${httpPort}`, ...sentinels, '--master-name', servers.masterName]);
  await waitForPort(port, '127.0.0.1', 20_000);
  await pollUntil(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, { timeoutMs: 15_000, what: 'readyz' });
  const c = new Redis({ port, host: '127.0.0.1', commandTimeout: 10_000 });
  clients.push(c);
  await c.set('e2e:cli', 'yes');
  assert.equal(await c.get('e2e:cli'), 'yes');
  const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assert.match(m, /podkit_ambassador_master_info\{address="127\.0\.0\.1:\d+"\} 1/);
  c.disconnect();
  p.signal('SIGTERM');
  assert.equal(await p.exited, 0);
});
