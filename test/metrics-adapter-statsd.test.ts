/** @module metrics-adapter with hot-shots as the StatsD client over UDP, TCP and unix datagrams; /metrics negotiation, gzip, promtool. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { createSocket } from 'node:dgram';
import { StatsD, type ClientOptions } from 'hot-shots';
import { pollUntil, run, stopAll, tempDir } from './helpers/index.js';
import { requireBinary } from './helpers/redis.js';
import { start, type Handle } from '../src/metrics-adapter/index.js';
import type { Source, SourceFactory } from '../src/metrics-adapter/sources/source.js';

after(stopAll);

function get(port: number, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

const text = async (port: number) => (await get(port)).body.toString();

function client(opts: ClientOptions): StatsD {
  return new StatsD({ errorHandler: (e: Error) => assert.fail(`hot-shots: ${e.message}`), ...opts });
}

const closeClient = (c: StatsD) => new Promise<void>((r) => c.close(() => r()));

/** A fake source kind, only for wiring: one that works and one that always fails. */
const fakeFactory: SourceFactory<{ fail: boolean }> = {
  kind: 'fake',
  parseOptions: (raw) => ({ fail: Boolean((raw as { fail?: boolean }).fail) }),
  create: (name, o): Source => ({
    name,
    kind: 'fake',
    async collect() {
      if (o.fail) throw new Error('connection refused');
      // Includes a family that collides with a StatsD one and a duplicate series: both must be dropped, not a 500.
      return [
        { name: 'app_requests_total', help: 'from the app', type: 'counter', metrics: [{ labels: { code: '200' }, value: 7 }, { labels: { code: '200' }, value: 8 }] },
        { name: 'hits_total', help: 'collides with StatsD', type: 'gauge', metrics: [{ labels: {}, value: 1 }] },
        { name: 'app_build_info', help: 'build', type: 'info', metrics: [{ labels: { version: '1.2.3' } }] },
        { name: 'app_legacy', help: 'untyped', type: 'untyped', metrics: [{ labels: { 'bad-label': 'x' }, value: 3 }] },
      ];
    },
  }),
};

describe('metrics-adapter StatsD ingest (hot-shots)', () => {
  let h: Handle;
  let sock: string;
  before(async () => {
    const dir = tempDir();
    sock = join(dir, 'statsd.sock');
    h = await start({
      httpBind: { host: '127.0.0.1', port: 0 },
      overrides: { listenUdp: '127.0.0.1:0', listenTcp: '127.0.0.1:0', listenUnixgram: sock },
      factories: { fake: fakeFactory as SourceFactory<unknown> },
      doc: {
        statsd: {
          defaults: { observer_type: 'histogram', buckets: [0.01, 0.1, 1] },
          mappings: [
            { match: 'app.*.hits', name: 'hits_total', labels: { service: '$1' } },
            { match: 'app.*.latency', name: 'latency_seconds', labels: { service: '$1' } },
            { match: 'app.*.render', name: 'render_seconds', observer_type: 'summary', labels: { service: '$1' } },
            { match: 'noise.*', action: 'drop', name: 'dropped' },
          ],
        },
        sources: [
          { name: 'good', kind: 'fake' },
          { name: 'broken', kind: 'fake', fail: true, timeout: '1s' },
        ],
      },
    });
  });
  after(() => h?.close());

  test('UDP: counters, timers at a sample rate, gauges, sets, DogStatsD tags', async () => {
    const c = client({ host: '127.0.0.1', port: h.statsd.udp!.port });
    c.increment('app.api.hits', 3);
    c.timing('app.api.latency', 50, 1);
    c.gauge('queue.depth', 42, { env: 'prod' });
    c.set('users.unique', 'alice');
    c.set('users.unique', 'bob');
    c.histogram('payload.bytes', 1024, { route: 'upload' });
    c.distribution('job.seconds', 2);
    c.timing('app.api.render', 30);
    c.increment('noise.x');
    const out = await pollUntil(async () => {
      const t = await text(h.httpAddress.port);
      return t.includes('job_seconds_count') ? t : undefined;
    });
    await closeClient(c);
    assert.match(out, /^hits_total\{service="api"\} 3$/m);
    assert.match(out, /^latency_seconds_bucket\{service="api",le="0\.1"\} 1$/m);
    assert.match(out, /^latency_seconds_sum\{service="api"\} 0\.05$/m);
    assert.match(out, /^queue_depth\{env="prod"\} 42$/m);
    assert.match(out, /^users_unique 2$/m);
    assert.match(out, /^render_seconds\{service="api",quantile="0\.5"\} 0\.03$/m);
    assert.match(out, /^render_seconds_count\{service="api"\} 1$/m);
    assert.match(out, /^payload_bytes_count\{route="upload"\} 1$/m);
    assert.doesNotMatch(out, /noise/);
    assert.match(out, /^podkit_metrics_adapter_dropped_samples_total\{reason="mapping_drop"\} 1$/m);
  });

  test('TCP and unix datagram transports, InfluxDB (telegraf) tags', async () => {
    const tcp = client({ host: '127.0.0.1', port: h.statsd.tcp!.port, protocol: 'tcp' });
    tcp.increment('via.tcp', 2);
    const uds = client({ protocol: 'uds', path: sock });
    uds.increment('via.uds', 5);
    const tg = client({ host: '127.0.0.1', port: h.statsd.udp!.port, telegraf: true });
    tg.increment('via.telegraf', 1, { region: 'eu' });
    const out = await pollUntil(async () => {
      const t = await text(h.httpAddress.port);
      return /^via_tcp 2$/m.test(t) && /^via_uds 5$/m.test(t) && t.includes('via_telegraf') ? t : undefined;
    });
    await Promise.all([closeClient(tcp), closeClient(uds), closeClient(tg)]);
    assert.match(out, /^via_telegraf\{region="eu"\} 1$/m);
    assert.match(out, /^podkit_metrics_adapter_statsd_packets_total\{transport="unixgram"\} [1-9]/m);
    assert.match(out, /^podkit_metrics_adapter_statsd_tcp_connections_total [1-9]/m);
  });

  test('malformed lines are counted by reason; collisions are dropped with a counter, never a 500', async () => {
    // Raw bytes no client library would send.
    const c = createSocket('udp4');
    const raw = (s: string) => new Promise<void>((r) => c.send(s, h.statsd.udp!.port, '127.0.0.1', () => r()));
    await raw('garbage\nx:1|zz\nclash:1|c\nclash:2|g\nclash_total:2|g\nclash_created:1|g\n');
    const out = await pollUntil(async () => {
      const t = await text(h.httpAddress.port);
      return t.includes('reason="illegal_stat_type"') && t.includes('reason="name_conflict"') ? t : undefined;
    });
    c.close();
    assert.match(out, /^podkit_metrics_adapter_statsd_parse_errors_total\{reason="malformed_line"\} 1$/m);
    assert.match(out, /^podkit_metrics_adapter_dropped_samples_total\{reason="type_conflict"\} 1$/m);
    assert.match(out, /^clash 1$/m);
  });

  test('a failing source gives up{source} 0 and an error counter; the rest is served', async () => {
    const res = await get(h.httpAddress.port);
    assert.equal(res.status, 200);
    const out = res.body.toString();
    assert.match(out, /^up\{source="good"\} 1$/m);
    assert.match(out, /^up\{source="broken"\} 0$/m);
    assert.match(out, /^podkit_metrics_adapter_source_errors_total\{source="broken"\} [1-9]/m);
    assert.match(out, /^app_requests_total\{code="200"\} 7$/m);
    assert.doesNotMatch(out, /^app_requests_total\{code="200"\} 8$/m);
    assert.match(out, /^podkit_metrics_adapter_conflicts_total\{reason="duplicate_series"\} [1-9]/m);
    assert.match(out, /^podkit_metrics_adapter_conflicts_total\{reason="name_conflict"\} [1-9]/m);
    assert.match(out, /^podkit_metrics_adapter_source_scrape_duration_seconds_count\{source="good"\} [1-9]/m);
    assert.match(out, /^app_build_info\{version="1\.2\.3"\} 1$/m);
    assert.match(out, /^app_legacy\{bad_label="x"\} 3$/m, 'label names from sources are sanitized');
  });

  test('/metrics negotiates OpenMetrics and gzip; promtool check metrics is clean on both formats', async () => {
    requireBinary('promtool');
    const om = await get(h.httpAddress.port, { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5', 'accept-encoding': 'gzip' });
    assert.equal(om.status, 200);
    assert.match(String(om.headers['content-type']), /^application\/openmetrics-text; version=1\.0\.0/);
    assert.equal(om.headers['content-encoding'], 'gzip');
    const omText = gunzipSync(om.body).toString();
    assert.match(omText, /# EOF\n$/);
    assert.match(omText, /^hits_total\{service="api"\} 3$/m);
    assert.match(omText, /^# TYPE hits counter$/m);
    assert.match(omText, /^# TYPE app_build info$/m);
    assert.match(omText, /^# TYPE app_legacy unknown$/m);
    const prom = await get(h.httpAddress.port, { accept: 'text/plain' });
    assert.match(String(prom.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    // promtool reads the 0.0.4 text format; the OpenMetrics output is checked by a real Prometheus (prometheus test).
    const r = await run('promtool', ['check', 'metrics'], { input: prom.body.toString() }).catch((e: { stdout?: string; stderr?: string }) => e);
    // StatsD counters keep statsd_exporter's bare names by default, which promtool's linter flags (and only that);
    // statsd.counters_always_total trades compatibility for a lint-clean text (checked in the CLI test).
    const problems = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== '');
    assert.deepEqual(problems.filter((l) => !/^(via_tcp|via_uds|via_telegraf|clash|x) counter metrics should have "_total" suffix$/.test(l)), []);
  });
});
