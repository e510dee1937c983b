/** The test harness itself: real servers start on free ports and are gone afterwards, even when a test dies. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { git, livePids, makeRepo, pollUntil, startRedis, startTopology, stopAll, withTimeout, freePorts, startNginx } from './helpers/index.js';

after(stopAll);

/** Running (a zombie awaiting its reaper counts as gone). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
const gone = (pid: number) => pollUntil(() => !alive(pid), { timeoutMs: 5000, what: `pid ${pid} to exit` });

test('redis topology: master, replicas and sentinels on distinct free ports, replication working', async () => {
  const topo = await startTopology({ replicas: 2, sentinels: 3 });
  const ports = [topo.master, ...topo.replicas, ...topo.sentinels].map((n) => n.port);
  assert.equal(new Set(ports).size, 6);
  const m = topo.master.client();
  await m.set('k', 'v');
  await m.call('WAIT', '2', '2000');
  for (const r of topo.replicas) assert.equal(await r.client().get('k'), 'v');
  const s = topo.sentinels[0].client();
  const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', topo.masterName)) as string[];
  assert.deepEqual(addr, ['127.0.0.1', String(topo.master.port)]);
  const pids = [topo.master, ...topo.replicas, ...topo.sentinels].map((n) => n.proc.pid);
  await topo.stop();
  for (const pid of pids) await gone(pid);
});

test('a server that cannot bind its port is an error, never mistaken for the one already there', async () => {
  const a = await startRedis();
  await assert.rejects(startRedis({ port: a.port }), /redis-server on port \d+ did not start/);
  await a.stop();
});

test('git repos: bare remote + working clone; commit pushes and returns the hash', () => {
  const repo = makeRepo({ 'index.html': '<h1>v1</h1>\n' });
  const h1 = repo.head();
  const h2 = repo.commit({ 'index.html': '<h1>v2</h1>\n', 'sub/new.txt': 'x' }, 'second');
  assert.notEqual(h1, h2);
  assert.equal(repo.head(), h2);
  assert.equal(git(repo.bare, 'show', `${h2}:index.html`), '<h1>v2</h1>');
  const h3 = repo.commit({ 'sub/new.txt': null });
  assert.equal(git(repo.bare, 'ls-tree', '-r', '--name-only', h3), 'index.html');
});

test('nginx serves a directory on a free port', async () => {
  const repo = makeRepo({ 'index.html': 'served\n' });
  const n = await startNginx({ root: repo.work });
  const body = await (await fetch(`${n.url}/index.html`)).text();
  assert.equal(body, 'served\n');
  await n.stop();
  await gone(n.proc.pid);
});

test('poll-until and withTimeout fail with a message naming what was awaited', async () => {
  await assert.rejects(pollUntil(() => false, { timeoutMs: 50, what: 'the impossible' }), /timed out after 50 ms waiting for the impossible/);
  await assert.rejects(withTimeout(new Promise(() => {}), 20, 'a hang'), /timed out after 20 ms: a hang/);
  const [a, b] = await freePorts(2);
  assert.notEqual(a, b);
});

test('servers started by a test that crashes are still stopped (by PID), temp dirs removed', async () => {
  const script = fileURLToPath(new URL('./fixtures/harness/crash.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.notEqual(r.status, 0, 'the fixture dies on purpose');
  const info = JSON.parse(readFileSync(join(r.stdout.trim()), 'utf8')) as { pids: number[]; dirs: string[] };
  assert.ok(info.pids.length >= 2);
  for (const pid of info.pids) await gone(pid);
  for (const d of info.dirs) assert.equal(existsSync(d), false, `${d} removed`);
  assert.deepEqual(livePids(), []);
});
