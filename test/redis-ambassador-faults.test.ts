/** @module Faults: the master killed mid-pipeline, /readyz while it is down, reconnect with backoff once it is back. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeRedisClients, freePort, pollUntil, rawClient, resp, startRedis, stopAll, withTimeout, type RedisNode } from './helpers/index.js';
import { start, type Handle } from '../src/redis-ambassador/index.js';

let master: RedisNode;
let replica: RedisNode;
let amb: Handle;

before(async () => {
  master = await startRedis();
  replica = await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } });
  amb = await start({
    listen: { host: '127.0.0.1', port: 0 },
    master: { host: '127.0.0.1', port: master.port },
    replicas: [{ host: '127.0.0.1', port: replica.port }],
    readPolicy: 'prefer-replica',
    httpBind: { host: '127.0.0.1', port: 0 },
  });
});

after(async () => {
  closeRedisClients();
  await amb?.close();
  await stopAll();
});

async function readyz(): Promise<number> {
  const a = amb.httpAddress as { host: string; port: number };
  return (await fetch(`http://${a.host}:${a.port}/readyz`)).status;
}

test('the master killed mid-pipeline: in-flight commands get -ERR, never another command’s reply; reconnect after restart', { timeout: 120_000 }, async () => {
  assert.equal(await readyz(), 200);
  const N = 200_000;
  const raw = await rawClient(amb.address.port);
  // SET (a write, to the master) with a unique value, each followed by nothing else: a reply is +OK or an error.
  // Interleaved ECHOs (also to the master) carry their index, so a misdelivered reply would show.
  const parts: Buffer[] = [];
  for (let i = 0; i < N; i++) parts.push(i % 2 ? resp('ECHO', `e${i}`) : resp('SET', `f:${i}`, `v${i}`));
  raw.socket.write(Buffer.concat(parts));
  const first = await withTimeout(raw.read(1000), 60_000, 'the first 1000 replies');
  master.proc.signal('SIGKILL');
  const rest = await withTimeout(raw.read(N - 1000), 60_000, 'all replies');
  raw.close();
  const replies = [...first, ...rest].map((r) => r.toString('latin1'));
  let ok = 0;
  let errors = 0;
  for (let i = 0; i < N; i++) {
    const r = replies[i];
    if (r.startsWith('-ERR upstream') || r.startsWith('-ERR master unavailable')) {
      errors++;
      continue;
    }
    const want = i % 2 ? `$${`e${i}`.length}\r\ne${i}\r\n` : '+OK\r\n';
    assert.equal(r, want, `reply ${i}`);
    ok++;
  }
  assert.ok(ok >= 1000, `${ok} commands succeeded before the kill`);
  assert.ok(errors > 0, 'commands in flight at the kill got -ERR');

  await pollUntil(async () => (await readyz()) === 503, { what: '/readyz to go false while the master is down' });
  const c = await rawClient(amb.address.port);
  const [r] = await withTimeout(c.send(resp('SET', 'down', '1'), 1), 10_000, 'a write while the master is down');
  assert.match(r.toString(), /^-ERR /, 'a write while the master is down fails fast');

  // Same port again: the ambassador reconnects on its own (with backoff) and the data path works.
  const again = await startRedis({ port: master.port });
  master = again;
  await pollUntil(async () => (await readyz()) === 200, { what: '/readyz to return', timeoutMs: 15_000 });
  await pollUntil(async () => (await c.send(resp('SET', 'back', '1'), 1))[0].toString() === '+OK\r\n', { what: 'writes to work again' });
  c.close();
  const lost = amb.metrics.collect().find((f) => f.name === 'podkit_ambassador_errors_total')?.metrics.find((m) => m.labels.kind === 'upstream_lost');
  assert.ok((lost?.value ?? 0) >= 1, 'the lost connection is counted');
});

test('a master that is down at start: static table and not ready; the live table and readiness follow once it is up', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const late = await start({ listen: { host: '127.0.0.1', port: 0 }, master: { host: '127.0.0.1', port }, httpBind: null, connectTimeoutMs: 300 });
  try {
    assert.equal(late.tableSource(), 'static');
    assert.equal(late.ready().ready, false);
    assert.match(late.ready().reason ?? '', /unreachable/);
    const c = await rawClient(late.address.port);
    const [r] = await c.send(resp('GET', 'x'), 1);
    assert.match(r.toString(), /^-ERR /, 'commands fail fast while the master is down');
    await startRedis({ port });
    await pollUntil(() => late.ready().ready && late.tableSource() === 'live', { what: 'readiness and the live table', timeoutMs: 20_000 });
    await pollUntil(async () => (await c.send(resp('SET', 'late', '1'), 1))[0].toString() === '+OK\r\n', { what: 'writes to work' });
    c.close();
  } finally {
    await late.close();
  }
});
