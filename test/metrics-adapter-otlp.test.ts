/** @module OTLP output: a local HTTP receiver decodes what the pusher sent (independent protobuf decoder) and checks values, temporality, attributes. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pollUntil, stopAll } from './helpers/index.js';
import { decodeRequest, startOtlpReceiver } from './helpers/otlp-receiver.js';
import { createLogger } from '../src/core/log.js';
import { ConfigError, UpstreamError } from '../src/core/errors.js';
import type { MetricFamily } from '../src/core/metrics/model.js';
import { startOtlpPusher } from '../src/metrics-adapter/outputs/otlp.js';
import { encodeMetricsRequest } from '../src/metrics-adapter/outputs/otlp-encode.js';
import { ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, DataPointType, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ValueType } from '@opentelemetry/api';

after(stopAll);
const log = createLogger({ name: 'otlp-test', level: 'silent' });

async function receiver(status = 200) {
  const rx = await startOtlpReceiver(status);
  after(() => rx.close());
  return rx;
}

function families(n: number): MetricFamily[] {
  return [
    { name: 'requests_total', help: 'Requests', type: 'counter', metrics: [{ labels: { code: '200' }, value: 10 * n }, { labels: { code: '500' }, value: n }] },
    { name: 'temperature', help: 'Temp', type: 'gauge', metrics: [{ labels: {}, value: -3.5 }] },
    { name: 'latency_seconds', help: 'Latency', type: 'histogram', metrics: [{ labels: { route: '/a' }, buckets: [{ le: 0.1, count: 1 }, { le: 1, count: 3 }, { le: Infinity, count: 4 * n }], sum: 2.5, count: 4 * n }] },
    { name: 'rpc_seconds', help: 'RPC', type: 'summary', metrics: [{ labels: {}, quantiles: [{ quantile: 0.5, value: 1 }, { quantile: 0.9, value: 2 }], sum: 10, count: 5 }] },
    { name: 'build_info', help: 'Build', type: 'info', metrics: [{ labels: { version: '1.2.3' } }] },
    { name: 'misc', help: '', type: 'untyped', metrics: [{ labels: { a: 'b' }, value: 7 }] },
  ];
}

test('every model type arrives with the right OTLP shape, cumulative temporality and attributes', async () => {
  const rx = await receiver();
  let n = 1;
  const p = startOtlpPusher({ endpoint: rx.url, intervalMs: 60_000, headers: { 'x-api-key': 'k123' }, resource: { 'k8s.pod.name': 'web-0' }, collect: () => families(n), log });
  try {
    await p.flush();
    const r = rx.got[0];
    assert.equal(r.path, '/v1/metrics');
    assert.equal(r.headers['content-type'], 'application/x-protobuf');
    assert.equal(r.headers['x-api-key'], 'k123');
    const d = decodeRequest(r.body);
    assert.deepEqual(d.resource, { 'service.name': 'podkit-metrics-adapter', 'k8s.pod.name': 'web-0' });
    assert.equal(d.scope, 'podkit.metrics-adapter');
    const by = Object.fromEntries(d.metrics.map((m) => [m.name, m]));
    assert.equal(by.requests_total.kind, 'sum');
    assert.equal(by.requests_total.temporality, 2, 'CUMULATIVE');
    assert.equal(by.requests_total.monotonic, true);
    assert.deepEqual(by.requests_total.points.map((x) => [x.attrs, x.value]), [[{ code: '200' }, 10], [{ code: '500' }, 1]]);
    assert.equal(by.temperature.kind, 'gauge');
    assert.equal(by.temperature.points[0].value, -3.5);
    const h = by.latency_seconds;
    assert.equal(h.kind, 'histogram');
    assert.equal(h.temporality, 2);
    assert.deepEqual(h.points[0].bounds, [0.1, 1]);
    assert.deepEqual(h.points[0].bucketCounts, [1n, 2n, 1n], 'per-bucket counts from cumulative ones');
    assert.equal(h.points[0].count, 4n);
    assert.equal(h.points[0].sum, 2.5);
    assert.deepEqual(h.points[0].attrs, { route: '/a' });
    assert.equal(by.rpc_seconds.kind, 'summary');
    assert.deepEqual(by.rpc_seconds.points[0].quantiles, [[0.5, 1], [0.9, 2]]);
    assert.equal(by.rpc_seconds.points[0].count, 5n);
    assert.equal(by.rpc_seconds.points[0].sum, 10);
    assert.equal(by.build_info.kind, 'gauge');
    assert.deepEqual([by.build_info.points[0].attrs, by.build_info.points[0].value], [{ version: '1.2.3' }, 1]);
    assert.equal(by.misc.kind, 'gauge');
    assert.equal(by.misc.points[0].value, 7);

    // Second push: cumulative values (not deltas), same start time per series, later sample time.
    n = 3;
    await p.flush();
    const d2 = decodeRequest(rx.got[1].body);
    const by2 = Object.fromEntries(d2.metrics.map((m) => [m.name, m]));
    assert.deepEqual(by2.requests_total.points.map((x) => x.value), [30, 3]);
    assert.equal(by2.requests_total.points[0].start, by.requests_total.points[0].start, 'start time stable');
    assert.equal(by2.latency_seconds.points[0].start, h.points[0].start);
    assert.ok(by2.requests_total.points[0].time >= by.requests_total.points[0].time);
    assert.ok(by.requests_total.points[0].start <= by.requests_total.points[0].time);
    assert.deepEqual(p.stats(), { pushes: 2, failures: 0 });
  } finally {
    await p.close();
  }
});

test('a counter reset starts a new cumulative run (new start time); created wins when known', async () => {
  const rx = await receiver();
  let t = 1_700_000_000_000;
  let v = 100;
  const fams = (): MetricFamily[] => [
    { name: 'c_total', help: '', type: 'counter', metrics: [{ labels: {}, value: v }] },
    { name: 'k_total', help: '', type: 'counter', metrics: [{ labels: {}, value: 1, created: 1_600_000_000 }] },
  ];
  const p = startOtlpPusher({ endpoint: `${rx.url}/custom/path`, intervalMs: 60_000, collect: fams, log, now: () => t });
  await p.flush();
  t += 10_000;
  v = 5;
  await p.flush();
  await p.close();
  const [a, b] = rx.got.slice(0, 2).map((r) => decodeRequest(r.body).metrics);
  assert.equal(rx.got[0].path, '/custom/path', 'an endpoint with a path is used as is');
  assert.equal(a[0].points[0].start, 1_700_000_000_000n * 1_000_000n);
  assert.equal(b[0].points[0].start, (1_700_000_000_000n + 10_000n) * 1_000_000n);
  assert.equal(b[0].points[0].value, 5);
  assert.equal(a[1].points[0].start, 1_600_000_000_000n * 1_000_000n);
});

test('the timer pushes on its own, gzip works, and close() sends a final push', async () => {
  const rx = await receiver();
  const p = startOtlpPusher({ endpoint: rx.url, intervalMs: 50, compression: 'gzip', collect: () => families(1), log });
  const r = await rx.next();
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.equal(decodeRequest(r.body).metrics.length, 6);
  const before = rx.got.length;
  await p.close();
  assert.ok(rx.got.length > before, 'final push on close');
});

test('receiver errors surface as UpstreamError and are counted; bad endpoints are ConfigErrors', async () => {
  const rx = await receiver(503);
  const p = startOtlpPusher({ endpoint: rx.url, intervalMs: 60_000, collect: () => families(1), log });
  await assert.rejects(p.flush(), (e: unknown) => e instanceof UpstreamError && /HTTP 503/.test(e.message));
  assert.equal(p.stats().failures, 1);
  await p.close();
  const dead = startOtlpPusher({ endpoint: 'http://127.0.0.1:1', intervalMs: 60_000, collect: () => [], log });
  await assert.rejects(dead.flush(), UpstreamError);
  await dead.close();
  assert.throws(() => startOtlpPusher({ endpoint: 'not a url', intervalMs: 1000, collect: () => [], log }), ConfigError);
  assert.throws(() => startOtlpPusher({ endpoint: 'ftp://x/', intervalMs: 1000, collect: () => [], log }), ConfigError);
});

test('a collector that answers with an endless body: the push reads a little of it and is done (no hang, no growth)', async () => {
  let written = 0;
  let closes = 0;
  const srv = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(req.url === '/v1/metrics' ? 200 : 503);
      const chunk = Buffer.alloc(64 * 1024, 120);
      let closed = false;
      // Written for as long as the pusher reads: only its cancel ends it.
      const more = () => {
        while (!closed && res.write(chunk)) written += chunk.length;
        if (!closed) res.once('drain', more);
      };
      res.on('close', () => {
        closed = true;
        closes++;
      });
      more();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  after(() => new Promise((r) => srv.close(r)));
  const port = (srv.address() as AddressInfo).port;
  const ok = startOtlpPusher({ endpoint: `http://127.0.0.1:${port}`, intervalMs: 60_000, timeoutMs: 60_000, collect: () => families(1), log });
  await ok.flush();
  assert.deepEqual(ok.stats(), { pushes: 1, failures: 0 });
  await pollUntil(() => closes > 0 || undefined, { what: 'the pusher dropping the rest of the body' });
  assert.ok(written < 64 * 1024 * 1024, `read ${written} bytes`);
  await ok.close();
  const bad = startOtlpPusher({ endpoint: `http://127.0.0.1:${port}/other`, intervalMs: 60_000, timeoutMs: 60_000, collect: () => families(1), log });
  await assert.rejects(bad.flush(), (e: Error) => e instanceof UpstreamError && /HTTP 503 x{200}$/.test(e.message));
  await bad.close().catch(() => undefined);
});

test('the hand encoder agrees with @opentelemetry/otlp-transformer for the types the SDK has (sum, gauge, histogram)', () => {
  const start = 1_700_000_000_000;
  const now = start + 5000;
  const fams: MetricFamily[] = families(1).filter((f) => ['requests_total', 'temperature', 'latency_seconds'].includes(f.name));
  const ours = decodeRequest(Buffer.from(encodeMetricsRequest(fams, { resource: { 'service.name': 's' }, scopeName: 'podkit.metrics-adapter', nowMs: now, startMs: () => start })));
  const hr = (ms: number): [number, number] => [Math.floor(ms / 1000), (ms % 1000) * 1e6];
  const rm: ResourceMetrics = {
    resource: resourceFromAttributes({ 'service.name': 's' }),
    scopeMetrics: [{
      scope: { name: 'podkit.metrics-adapter' },
      metrics: [
        { descriptor: { name: 'requests_total', description: 'Requests', unit: '', valueType: ValueType.DOUBLE }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true,
          dataPoints: [{ startTime: hr(start), endTime: hr(now), attributes: { code: '200' }, value: 10 }, { startTime: hr(start), endTime: hr(now), attributes: { code: '500' }, value: 1 }] },
        { descriptor: { name: 'temperature', description: 'Temp', unit: '', valueType: ValueType.DOUBLE }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE,
          dataPoints: [{ startTime: hr(start), endTime: hr(now), attributes: {}, value: -3.5 }] },
        { descriptor: { name: 'latency_seconds', description: 'Latency', unit: '', valueType: ValueType.DOUBLE }, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM,
          dataPoints: [{ startTime: hr(start), endTime: hr(now), attributes: { route: '/a' }, value: { buckets: { boundaries: [0.1, 1], counts: [1, 2, 1] }, sum: 2.5, count: 4 } }] },
      ],
    }],
  };
  const theirs = decodeRequest(Buffer.from(ProtobufMetricsSerializer.serializeRequest(rm)!));
  assert.deepEqual(ours.metrics, theirs.metrics);
  assert.deepEqual(ours.resource, theirs.resource);
});
