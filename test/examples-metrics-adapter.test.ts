/** @module examples/metrics-adapter end to end: a real Prometheus scrapes the pod's adapter and sees StatsD, JSON and nginx metrics. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startPrometheus, stopAll } from './helpers/index.js';
import { renderExample, upExample } from './helpers/examples.js';

after(stopAll);

test('Prometheus scrapes the adapter on the hostPort and sees the normalized metrics of all three sources', async () => {
  const port = await freePort();
  const ex = await upExample([renderExample('metrics-adapter/pod.yaml', { 9102: port })]);
  const prom = await startPrometheus({ targets: [`127.0.0.1:${port}`], scrapeIntervalMs: 500 });
  const positive = (r: { value: [number, string] }[]) => r.some((s) => Number(s.value[1]) > 0);

  // StatsD counter and timer, renamed by the example's mappings (timer ms → seconds, as statsd_exporter does).
  await prom.waitFor('app_ticks_total{job="adapter"}', positive, 30_000);
  const buckets = await prom.waitFor('app_tick_duration_seconds_bucket{le="+Inf"}', positive, 30_000);
  assert.equal(buckets.length, 1);
  // The app's JSON stats and nginx stub_status, named like json_exporter / nginx-prometheus-exporter.
  await prom.waitFor('app_stats_ticks_total', positive, 30_000);
  await prom.waitFor('nginx_http_requests_total', positive, 30_000);
  await prom.waitFor('app_queue_depth', (r) => r.length === 1, 30_000);
  const up = await prom.waitFor('up{source=~"app|nginx"} == 1', (r) => r.length === 2, 30_000);
  assert.deepEqual(up.map((s) => s.metric.source).sort(), ['app', 'nginx']);
  // Prometheus's own view of the target.
  assert.equal((await prom.query('up{job="adapter"}'))[0]?.value[1], '1');
  await prom.stop();
  await ex.stop();
});
