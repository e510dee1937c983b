/** @module Two ambassadors in one process: each one's /metrics counts only its own commands, connections and errors. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { closeRedisClients, rawClient, startRedis, stopAll } from './helpers/index.js';

after(async () => {
  closeRedisClients();
  await stopAll();
});

function value(h: Handle, family: string, labels: Record<string, string>): number {
  const f = h.metrics.collect().find((x) => x.name === family);
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m ? Number(m.value) : 0;
}

test('two ambassadors in one process do not count each other: commands, unknown commands, bytes, connections, errors', async () => {
  const master = await startRedis();
  const mk = () => start({ listen: { host: '127.0.0.1', port: 0 }, master: { host: '127.0.0.1', port: master.port }, httpBind: null });
  const [a, b] = [await mk(), await mk()];
  const ca = new Redis({ port: a.address.port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false });
  const cb = new Redis({ port: b.address.port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false });
  try {
    await ca.connect();
    await cb.connect();
    for (let i = 0; i < 10; i++) await ca.set(`m:${i}`, 'x');
    for (let i = 0; i < 3; i++) await cb.get(`m:${i}`);
    await assert.rejects(cb.call('SET'), /wrong number of arguments/);
    assert.equal(value(a, 'podkit_ambassador_commands_total', { command: 'set', route: 'master' }), 10);
    assert.equal(value(b, 'podkit_ambassador_commands_total', { command: 'set', route: 'master' }), 1);
    assert.equal(value(a, 'podkit_ambassador_commands_total', { command: 'get', route: 'master' }), 0);
    assert.equal(value(b, 'podkit_ambassador_commands_total', { command: 'get', route: 'master' }), 3);
    assert.equal(value(a, 'podkit_ambassador_connections', { kind: 'client' }), 1);
    assert.equal(value(b, 'podkit_ambassador_connections', { kind: 'client' }), 1);
    // A command in no table, sent to B only.
    await assert.rejects(cb.call('NOSUCHCMD'), /unknown command/);
    assert.equal(value(b, 'podkit_ambassador_commands_total', { command: 'unknown', route: 'master' }), 1);
    assert.equal(value(a, 'podkit_ambassador_commands_total', { command: 'unknown', route: 'master' }), 0);
    // Bytes: A moves 1 MB, B a few hundred bytes.
    const big = 'v'.repeat(100 * 1024);
    for (let i = 0; i < 10; i++) await ca.set(`big:${i}`, big);
    for (const dir of ['client_in', 'upstream_out']) {
      assert.ok(value(a, 'podkit_ambassador_bytes_total', { direction: dir }) > 1_000_000, `A ${dir}`);
      assert.ok(value(b, 'podkit_ambassador_bytes_total', { direction: dir }) < 10_000, `B ${dir}`);
    }
    for (const dir of ['client_out', 'upstream_in']) assert.ok(value(b, 'podkit_ambassador_bytes_total', { direction: dir }) < 10_000, `B ${dir}`);
    // A protocol error on A only.
    const raw = await rawClient(a.address.port);
    await raw.send('*1\r\n$01\r\nP\r\n', 1);
    raw.close();
    assert.equal(value(a, 'podkit_ambassador_errors_total', { kind: 'protocol' }), 1);
    assert.equal(value(b, 'podkit_ambassador_errors_total', { kind: 'protocol' }), 0);
  } finally {
    ca.disconnect();
    cb.disconnect();
    await a.close();
    await b.close();
  }
});
