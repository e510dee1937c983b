/** @module End to end: the adapter (StatsD via hot-shots + a real Redis source) pushes OTLP; the receiver sees cumulative counters converted from StatsD deltas. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { StatsD } from 'hot-shots';
import { closeRedisClients, pollUntil, startRedis, stopAll } from './helpers/index.js';
import { decodeRequest, startOtlpReceiver, type DecodedMetric } from './helpers/otlp-receiver.js';
import { start, type Handle } from '../src/metrics-adapter/index.js';

let h: Handle | undefined;
after(async () => {
  await h?.close();
  closeRedisClients();
  await stopAll();
});

test('StatsD deltas arrive as one cumulative monotonic Sum with a stable start time; source families ride along', async () => {
  const rx = await startOtlpReceiver();
  after(() => rx.close());
  const redis = await startRedis();
  await redis.client().set('k', 'v'); // so commandstats has a line
  h = await start({
    httpBind: { host: '127.0.0.1', port: 0 },
    overrides: { listenUdp: '127.0.0.1:0', listenTcp: '127.0.0.1:0' },
    doc: {
      sources: [{ name: 'cache', kind: 'redis', address: redis.addr }],
      outputs: { otlp: { endpoint: rx.url, interval: '200ms', headers: { 'x-tenant': 't1' }, resource: { 'service.name': 'shop' }, compression: 'gzip' } },
    },
  });
  const c = new StatsD({ host: '127.0.0.1', port: h.statsd.udp!.port, errorHandler: (e: Error) => assert.fail(e.message) });
  after(() => new Promise<void>((r) => c.close(() => r())));
  await h.collect(); // one scrape so the push carries the source's last families

  /** Wait for a push whose `jobs_done` counter has this value. */
  const pushWith = (value: number) =>
    pollUntil(() => {
      for (const r of [...rx.got].reverse()) {
        const d = decodeRequest(r.body);
        const m = d.metrics.find((x) => x.name.startsWith('jobs_done'));
        if (m && m.points[0]?.value === value) return { d, m, headers: r.headers };
      }
      return undefined;
    }, { timeoutMs: 15_000, what: `an OTLP push with jobs_done = ${value}` });

  c.increment('jobs.done', 2);
  c.increment('jobs.done', 1);
  const first = await pushWith(3);
  c.increment('jobs.done', 4);
  const second = await pushWith(7);

  const sum = (m: DecodedMetric) => ({ kind: m.kind, temporality: m.temporality, monotonic: m.monotonic });
  assert.deepEqual(sum(first.m), { kind: 'sum', temporality: 2, monotonic: true });
  assert.deepEqual(sum(second.m), { kind: 'sum', temporality: 2, monotonic: true });
  assert.equal(second.m.points[0].start, first.m.points[0].start, 'same start time: cumulative, not deltas');
  assert.ok(second.m.points[0].time > first.m.points[0].time);
  assert.equal(first.headers['x-tenant'], 't1');
  assert.equal(first.headers['content-encoding'], 'gzip', 'outputs.otlp.compression from the YAML');
  assert.equal(first.d.resource['service.name'], 'shop', 'outputs.otlp.resource from the YAML');

  const names = new Set(second.d.metrics.map((m) => m.name));
  assert.ok(names.has('redis_connected_clients'), `source families pushed too: ${[...names].slice(0, 20).join(', ')}`);
  const cmds = second.d.metrics.find((m) => m.name === 'redis_commands_total');
  assert.equal(cmds?.kind, 'sum');
  assert.ok(cmds.points.every((p) => typeof p.attrs.cmd === 'string'), 'labels become attributes');
});
