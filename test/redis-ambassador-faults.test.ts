/** @module Faults: the master killed mid-pipeline, /readyz while it is down, reconnect with backoff once it is back. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { closeRedisClients, freePort, pollUntil, rawClient, resp, startRedis, stopAll, withTimeout, type RedisNode } from './helpers/index.js';
import { BAD, NEED, scanState, scanValue } from '../src/redis-ambassador/resp/scanner.js';
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
  const sock = connect({ port: amb.address.port, host: '127.0.0.1' });
  await new Promise((r) => sock.once('connect', r));
  const st = scanState();
  let buf: Buffer = Buffer.alloc(0);
  const replies: string[] = [];
  let killed = false;
  const done = new Promise<void>((resolve, reject) => {
    sock.on('data', (c: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, c]) : c;
      let p = 0;
      for (;;) {
        const e = scanValue(buf, p, buf.length, st);
        if (e === NEED) break;
        if (e === BAD) return reject(new Error(st.error));
        replies.push(buf.toString('latin1', p, e));
        p = e;
      }
      buf = buf.subarray(p);
      if (!killed && replies.length >= 1000) {
        killed = true;
        master.proc.signal('SIGKILL');
      }
      if (replies.length >= N) resolve();
    });
    sock.on('close', () => reject(new Error(`closed after ${replies.length} replies`)));
  });
  // SET (a write, to the master) with a unique value, each followed by nothing else: a reply is +OK or an error.
  // Interleaved ECHOs (also to the master) carry their index, so a misdelivered reply would show.
  const parts: Buffer[] = [];
  for (let i = 0; i < N; i++) parts.push(i % 2 ? resp('ECHO', `e${i}`) : resp('SET', `f:${i}`, `v${i}`));
  sock.write(Buffer.concat(parts));
  await withTimeout(done, 60_000, 'all replies');
  sock.destroy();
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
