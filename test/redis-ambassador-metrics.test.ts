/** @module Two ambassadors in one process: each one's /metrics counts only its own commands, connections and errors. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { start, type Handle } from '../src/redis-ambassador/index.js';
import { closeRedisClients, startRedis, stopAll } from './helpers/index.js';

after(async () => {
  closeRedisClients();
  await stopAll();
});

function value(h: Handle, family: string, labels: Record<string, string>): number {
  const f = h.metrics.collect().find((x) => x.name === family);
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m ? Number(m.value) : 0;
}

test('two ambassadors in one process do not count each other', async () => {
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
  } finally {
    ca.disconnect();
    cb.disconnect();
    await a.close();
    await b.close();
  }
});
