/** @module SIGHUP reload of the built CLI (--config FILE) while redis-benchmark -l runs through it: 0 client errors. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { start } from '../src/redis-ambassador/index.js';
import { StaticTopology } from '../src/redis-ambassador/topology/index.js';
import { closeRedisClients, freePort, pollUntil, runPodkit, startPodkit, startProcess, startTopology, stopAll, tempDir, waitForOutput, type Proc, type RedisNode, type Topology } from './helpers/index.js';

let topo: Topology;
let dir: string;
const clients: Redis[] = [];

before(async () => {
  topo = await startTopology({ replicas: 3 });
  dir = tempDir('podkit-amb-reload-');
});

after(async () => {
  for (const c of clients) c.disconnect();
  closeRedisClients();
  await stopAll();
});

const addr = (n: RedisNode) => `127.0.0.1:${n.port}`;

function writeConfig(path: string, o: { replicas: RedisNode[]; policy: string; consistency: string }): void {
  const lines = [`master: ${addr(topo.master)}`, `replica: [${o.replicas.map(addr).join(', ')}]`, `read-policy: ${o.policy}`, `consistency: ${o.consistency}`];
  writeFileSync(path, lines.join('\n') + '\n');
}

/** Every sample of the ambassador's /metrics as "name{labels}" → value. */
async function scrape(httpPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

const sum = (m: Map<string, number>, re: RegExp) => [...m].filter(([k]) => re.test(k)).reduce((a, [, v]) => a + v, 0);

/** GETs each node has served (its own INFO commandstats). */
async function gets(c: Redis): Promise<number> {
  const m = /cmdstat_get:calls=(\d+)/.exec(await c.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

/** Wait until `grows` has grown by at least `by` while `still` did not move at all. */
async function growsWhileStill(grows: () => Promise<number>, still: () => Promise<number>, by: number, what: string): Promise<void> {
  await pollUntil(
    async () => {
      const [g0, s0] = [await grows(), await still()];
      await pollUntil(async () => (await grows()) >= g0 + by, { timeoutMs: 10_000, what: `${what}: traffic` });
      return (await still()) === s0;
    },
    { timeoutMs: 20_000, what },
  );
}

test('bad --config path or content at start → one line on stderr, exit 2', async () => {
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'read-policy: sometimes\n');
  const list = join(dir, 'list.yaml');
  writeFileSync(list, '- master\n');
  const nested = join(dir, 'nested.yaml');
  writeFileSync(nested, `master: {host: 127.0.0.1}\n`);
  const unknown = join(dir, 'unknown.yaml');
  writeFileSync(unknown, `master: ${addr(topo.master)}\nreplicas: [1.2.3.4:5]\n`);
  for (const [args, re] of [
    [['--config', '/nonexistent/ambassador.yaml'], /config: cannot read \/nonexistent\/ambassador\.yaml: ENOENT/],
    [['--master', addr(topo.master), '--config', bad], /bad\.yaml: read-policy: expected one of replica\|prefer-replica\|master/],
    [['--config', unknown], /unknown\.yaml: unknown setting "replicas"/],
    [['--config', list], /config: .*list\.yaml: expected a mapping of flag names to values/],
    [['--config', nested], /config: .*nested\.yaml: master: expected a value or a list of values/],
  ] as [string[], RegExp][]) {
    const r = await runPodkit(['redis-ambassador', ...args], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('SIGHUP applies replica list, read policy and consistency changes with 0 client errors under redis-benchmark -l', { timeout: 180_000 }, async () => {
  const [r1, r2, r3] = topo.replicas;
  const cfg = join(dir, 'ambassador.yaml');
  writeConfig(cfg, { replicas: [r1, r2], policy: 'replica', consistency: 'eventual' });
  const port = await freePort();
  const httpPort = await freePort();
  const amb = startPodkit(['redis-ambassador', '--config', cfg, '--listen', `127.0.0.1:${port}`, '--http-bind', `127.0.0.1:${httpPort}`, '--log-format', 'json']);
  await waitForOutput(amb, /redis ambassador listening/, 20_000);
  const log = () => amb.stdout() + amb.stderr();
  let reloads = 0;
  const reload = async (o: Parameters<typeof writeConfig>[1], changed: string) => {
    writeConfig(cfg, o);
    amb.signal('SIGHUP');
    reloads++;
    await pollUntil(() => (log().match(/configuration reloaded/g) ?? []).length >= reloads, { timeoutMs: 10_000, what: `reload ${reloads}` });
    const last = log().split('\n').filter((l) => l.includes('configuration reloaded')).pop() ?? '';
    assert.ok(last.includes(changed), `reload ${reloads} should change ${changed}: ${last}`);
  };
  const bench: Proc = startProcess('redis-benchmark', ['-h', '127.0.0.1', '-p', String(port), '-l', '-t', 'get,set', '-c', '20', '-n', '5000', '-r', '1000', '-q'], { name: 'redis-benchmark -l' });
  const [c1, c2, c3, cm] = [r1.client(), r2.client(), r3.client(), topo.master.client()];
  const m = async () => scrape(httpPort);
  const replicaGets = async () => (await m()).get('podkit_ambassador_commands_total{command="get",route="replica"}') ?? 0;
  const masterGets = async () => (await m()).get('podkit_ambassador_commands_total{command="get",route="master"}') ?? 0;
  await pollUntil(async () => (await gets(c1)) > 500 && (await gets(c2)) > 500, { timeoutMs: 20_000, what: 'GETs on both replicas' });

  // 1. A replica joins: it starts serving GETs.
  await reload({ replicas: [r1, r2, r3], policy: 'replica', consistency: 'eventual' }, 'replicas');
  const g3 = await gets(c3);
  await pollUntil(async () => (await gets(c3)) > g3 + 500, { timeoutMs: 20_000, what: 'GETs on the added replica' });

  // 2. A replica leaves: its clients move to the others, its connections drain and close.
  await reload({ replicas: [r2, r3], policy: 'replica', consistency: 'eventual' }, 'replicas');
  await growsWhileStill(async () => (await gets(c2)) + (await gets(c3)), () => gets(c1), 1000, 'the removed replica serves no more GETs');
  await pollUntil(async () => !(await m()).has(`podkit_ambassador_upstream_up{node="replica:${addr(r1)}"}`), { timeoutMs: 10_000, what: 'removed replica gone from /metrics' });
  await pollUntil(async () => !/cmd=get/.test(String(await c1.call('CLIENT', 'LIST'))), { timeoutMs: 10_000, what: "the removed replica's connections closed" });

  // 3. Read policy replica → master → prefer-replica.
  await reload({ replicas: [r2, r3], policy: 'master', consistency: 'eventual' }, 'read-policy');
  await growsWhileStill(masterGets, replicaGets, 1000, 'GETs go to the master only');
  const masterServed = await gets(cm);
  assert.ok(masterServed > 0);
  await reload({ replicas: [r2, r3], policy: 'prefer-replica', consistency: 'eventual' }, 'read-policy');
  await growsWhileStill(replicaGets, masterGets, 1000, 'GETs go back to the replicas');

  // 4. Consistency eventual → session (reads after a client's writes go to the master) → eventual.
  const protectedReads = async () => sum(await m(), /^podkit_ambassador_reroutes_total\{kind="stale_read_protected"\}/);
  assert.equal(await protectedReads(), 0);
  // redis-benchmark's GET clients never write, so an app client writes and reads its own key alongside.
  const app = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null });
  app.on('error', () => {});
  clients.push(app);
  /** SET then GET the same key; returns how many GETs saw an older value (possible only under eventual). */
  const readOwnWrites = async (n: number) => {
    let stale = 0;
    for (let i = 0; i < n; i++) {
      await app.set('reload:own', String(i));
      if ((await app.get('reload:own')) !== String(i)) stale++;
    }
    return stale;
  };
  await reload({ replicas: [r2, r3], policy: 'prefer-replica', consistency: 'session' }, 'consistency');
  assert.equal(await readOwnWrites(200), 0, 'session: no stale read');
  // Most of the 200 reads are protected; one may go to the replica when a probe has already seen it catch up.
  assert.ok((await protectedReads()) >= 100, `stale-read protections ${await protectedReads()}`);
  assert.ok((await m()).has('podkit_ambassador_config_info{read_policy="prefer-replica",consistency="session",replicas="' + [r2, r3].map(addr).join(',') + '"}'));
  await reload({ replicas: [r2, r3], policy: 'prefer-replica', consistency: 'eventual' }, 'consistency');
  const p0 = await protectedReads();
  await readOwnWrites(200);
  assert.equal(await protectedReads(), p0, 'no stale-read protection under eventual');
  app.disconnect();

  // 5. A bad file: the running config stays, an error is logged, the process lives on.
  writeFileSync(cfg, 'read-policy: [unclosed\n');
  amb.signal('SIGHUP');
  await pollUntil(() => /reload failed; keeping the running config/.test(log()), { timeoutMs: 10_000, what: 'reload error logged' });
  writeFileSync(cfg, `master: ${addr(topo.master)}\nread-policy: sometimes\n`);
  amb.signal('SIGHUP');
  await pollUntil(() => (log().match(/reload failed; keeping the running config/g) ?? []).length >= 2, { timeoutMs: 10_000, what: 'second reload error logged' });
  await growsWhileStill(replicaGets, masterGets, 1000, 'still prefer-replica after the bad reloads');
  const after = await m();
  assert.equal(after.get('podkit_ambassador_reloads_total{result="error"}'), 2);
  assert.equal(after.get('podkit_ambassador_reloads_total{result="ok"}'), reloads);

  // A setting that needs a restart: a warning, the rest still applied.
  writeFileSync(cfg, `pool-size: 4\nmaster: ${addr(topo.master)}\nreplica: [${addr(r2)}]\n`);
  amb.signal('SIGHUP');
  reloads++;
  await pollUntil(() => (log().match(/configuration reloaded/g) ?? []).length >= reloads, { timeoutMs: 10_000, what: 'reload with a restart-only setting' });
  assert.match(log(), /need a restart to take effect.*--pool-size/);

  // redis-benchmark saw no error (it exits at the first error reply or dropped connection) and is still looping.
  const state = await Promise.race([bench.exited.then((c) => `exited ${c}`), new Promise((r) => setTimeout(r, 10, 'running'))]);
  assert.equal(state, 'running', bench.stderr());
  await bench.stop();
  assert.equal(bench.stderr().trim(), '', 'redis-benchmark stderr');
  assert.doesNotMatch(bench.stdout(), /error/i);
  const loops = (bench.stdout().match(/GET: [\d.]+ requests per second/g) ?? []).length;
  const final = await m();
  const errors = [...final].filter(([k, v]) => k.startsWith('podkit_ambassador_errors_total') && v > 0);
  assert.deepEqual(errors, [], 'ambassador error counters');
  console.log(`# reload under redis-benchmark -l: ${loops} GET+SET rounds, ${reloads} reloads applied, 2 bad ones refused; GETs served by the master ${await gets(cm)}, replicas ${await gets(c1)}/${await gets(c2)}/${await gets(c3)}; stale-read protections ${await protectedReads()}; 0 benchmark errors, 0 ambassador errors`);
  assert.ok(amb.child.exitCode === null, 'ambassador still running');
  await amb.stop();
});

test('in-process: reconfigure() in topology mode (StaticTopology) and reload() from a source that fails', { timeout: 60_000 }, async () => {
  const [r1, r2] = topo.replicas;
  const hp = (n: RedisNode) => ({ host: '127.0.0.1', port: n.port });
  let source: () => { readPolicy: 'master' } = () => ({ readPolicy: 'master' });
  const h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, topology: new StaticTopology(hp(topo.master), [hp(r1)]), reloadSource: () => source() });
  try {
    const keys = () => h.live().replicas.map((r) => r.port);
    await pollUntil(() => keys().join() === String(r1.port), { timeoutMs: 10_000, what: 'r1 in rotation' });
    assert.deepEqual(await h.reconfigure({ replicas: [hp(r2)], consistency: 'session' }), { ok: true, changed: ['replicas', 'consistency'] });
    await pollUntil(() => keys().join() === String(r2.port), { timeoutMs: 10_000, what: 'r2 replaces r1 in rotation' });
    assert.deepEqual(await h.reconfigure({ replicas: [hp(r2)] }), { ok: true, changed: [] });
    assert.deepEqual(await h.reload(), { ok: true, changed: ['read-policy'] });
    source = () => {
      throw new Error('bad file');
    };
    assert.deepEqual(await h.reload(), { ok: false, changed: [], error: 'bad file' });
    // A pair that cannot work is refused whole: nothing of it is applied.
    const refused = await h.reconfigure({ readPolicy: 'replica', replicas: [hp(r1)] });
    assert.equal(refused.ok, false);
    assert.match(String(refused.error), /--consistency: session needs --read-policy prefer-replica or master/);
    assert.deepEqual({ ...h.live(), replicas: keys() }, { replicas: [r2.port], readPolicy: 'master', consistency: 'session' });
  } finally {
    await h.close();
  }
});
