import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { negotiate, render, renderChunks, formatValue } from './exposition.js';
import { Registry } from './registry.js';
import type { MetricFamily } from './model.js';

function sample(): MetricFamily[] {
  const r = new Registry();
  const c = r.counter({ name: 'podkit_requests_total', help: 'Requests served.', labelNames: ['route', 'code'] });
  c.inc({ route: '/a', code: '200' }, 3);
  c.inc({ route: 'quote"back\\slash\nnewline', code: '500' });
  const g = r.gauge({ name: 'podkit_temperature_celsius', help: 'Temperature.\nSecond line with \\.', unit: 'celsius' });
  g.set({}, -1.5);
  const h = r.histogram({ name: 'podkit_latency_seconds', help: 'Latency.', labelNames: ['op'], buckets: [0.1, 1, 0.5] });
  for (const v of [0.05, 0.2, 0.7, 3]) h.observe({ op: 'get' }, v);
  r.info({ name: 'podkit_build', help: 'Build information.', labelNames: ['version'] }).set({ version: '1.2.3' });
  r.addCollector(() => [
    { name: 'podkit_rpc_duration_seconds', help: 'RPC latency.', type: 'summary', metrics: [{ labels: {}, quantiles: [{ quantile: 0.5, value: 0.01 }, { quantile: 0.99, value: 0.2 }], sum: 12.5, count: 1000 }] },
    { name: 'podkit_legacy', help: 'Untyped thing.', type: 'untyped', metrics: [{ labels: { a: 'b' }, value: NaN, timestampMs: 1_700_000_000_123 }] },
    { name: 'podkit_empty_total', help: 'No series yet.', type: 'counter', metrics: [] },
  ]);
  return r.collect();
}

test('Prometheus text 0.0.4: types, escaping, cumulative buckets, +Inf, info as gauge', () => {
  const text = render(sample(), 'prometheus');
  assert.match(text, /^# HELP podkit_requests_total Requests served\.\n# TYPE podkit_requests_total counter\npodkit_requests_total\{route="\/a",code="200"\} 3\n/);
  assert.ok(text.includes('podkit_requests_total{route="quote\\"back\\\\slash\\nnewline",code="500"} 1\n'));
  assert.ok(text.includes('# HELP podkit_temperature_celsius Temperature.\\nSecond line with \\\\.\n'));
  assert.ok(text.includes('podkit_latency_seconds_bucket{op="get",le="0.1"} 1\npodkit_latency_seconds_bucket{op="get",le="0.5"} 2\npodkit_latency_seconds_bucket{op="get",le="1"} 3\npodkit_latency_seconds_bucket{op="get",le="+Inf"} 4\n'));
  assert.ok(text.includes('podkit_latency_seconds_sum{op="get"} 3.95\npodkit_latency_seconds_count{op="get"} 4\n'));
  assert.ok(text.includes('# TYPE podkit_build_info gauge\npodkit_build_info{version="1.2.3"} 1\n'));
  assert.ok(text.includes('podkit_rpc_duration_seconds{quantile="0.99"} 0.2\n'));
  assert.ok(text.includes('podkit_legacy{a="b"} NaN 1700000000123\n'));
  assert.ok(!text.includes('podkit_empty_total'), 'families without series are left out of the text format');
  assert.ok(!text.includes('_created'), 'no _created lines in 0.0.4');
  assert.ok(!text.includes('# EOF'));
});

test('OpenMetrics 1.0: counter family without _total, units, info, unknown, _created, # EOF', () => {
  const text = render(sample(), 'openmetrics');
  assert.match(text, /# TYPE podkit_requests counter\npodkit_requests_total\{route="\/a",code="200"\} 3\npodkit_requests_created\{route="\/a",code="200"\} \d+(\.\d+)?\n/);
  assert.ok(text.includes('# TYPE podkit_temperature_celsius gauge\n# UNIT podkit_temperature_celsius celsius\n'));
  assert.ok(text.includes('# TYPE podkit_build info\npodkit_build_info{version="1.2.3"} 1\n'));
  assert.ok(text.includes('# TYPE podkit_legacy unknown\npodkit_legacy{a="b"} NaN 1700000000.123\n'));
  assert.ok(text.includes('# TYPE podkit_empty counter\n'));
  assert.ok(text.endsWith('# EOF\n'));
  assert.equal(text.split('# EOF').length, 2);
});

test('OpenMetrics: a counter named only `_total` (an info only `_info`) keeps it as its family name, never an empty one', () => {
  // StatsD `_total:14|c` made `# TYPE  counter` / `_total 14`: no family name, an exposition no parser reads.
  const om = render([
    { name: '_total', help: '', type: 'counter', metrics: [{ labels: {}, value: 14 }] },
    { name: '_info', help: '', type: 'info', metrics: [{ labels: { v: '1' } }] },
  ], 'openmetrics');
  assert.equal(om, '# HELP _total \n# TYPE _total counter\n_total_total 14\n# HELP _info \n# TYPE _info info\n_info_info{v="1"} 1\n# EOF\n');
});

test('renderChunks yields one chunk per family, joined equal to render', () => {
  const fams = sample();
  const chunks = [...renderChunks(fams, 'openmetrics')];
  assert.equal(chunks.length, fams.length + 1);
  assert.equal(chunks.join(''), render(fams, 'openmetrics'));
});

test('values: +Inf, -Inf, NaN, integers and floats', () => {
  assert.deepEqual([Infinity, -Infinity, NaN, 42, 0.25, 1e21].map(formatValue), ['+Inf', '-Inf', 'NaN', '42', '0.25', '1e+21']);
});

test('Accept negotiation', () => {
  assert.equal(negotiate(undefined), 'prometheus');
  assert.equal(negotiate('text/plain'), 'prometheus');
  assert.equal(negotiate('application/openmetrics-text; version=1.0.0; charset=utf-8'), 'openmetrics');
  // What Prometheus 2.x sends by default.
  assert.equal(negotiate('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'), 'openmetrics');
  assert.equal(negotiate('text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.2'), 'prometheus');
  assert.equal(negotiate('application/openmetrics-text; version=2.0.0'), 'prometheus');
  assert.equal(negotiate('application/json'), 'prometheus');
});

test('promtool check metrics accepts the Prometheus text output', () => {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: render(sample(), 'prometheus'), encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool is installed (npm run setup)');
  assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
  assert.equal((r.stdout + r.stderr).trim(), '');
});
