/** @module The built `podkit metrics-adapter` CLI: config errors (exit 2, YAML path), SIGHUP and POST /-/reload, monotonic counters. */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { freePort, pollUntil, requireBinary, run, runPodkit, startPodkit, stopAll, tempDir, waitForOutput } from './helpers/index.js';

after(stopAll);

/** Same series and value, whatever the label order. */
function sameSeries(line: string, want: string): boolean {
  const parse = (l: string) => {
    const m = /^([^{ ]+)(?:\{(.*)\})? (.*)$/.exec(l);
    if (!m) return '';
    const labels = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean).sort().join(',');
    return `${m[1]}|${labels}|${m[3]}`;
  };
  return parse(line) === parse(want);
}

const metrics = async (port: number, path = '/metrics') => (await fetch(`http://127.0.0.1:${port}${path}`)).text();
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('podkit metrics-adapter CLI', () => {
  test('bad config exits 2 with one line naming the file and YAML path', async () => {
    const dir = tempDir();
    const cases: Array<[string, RegExp]> = [
      ['statsd:\n  mappings:\n    - match: "a.*"\n      name: "bad-name"\n', /statsd\.mappings\[0\]\.name: "bad-name" is not a metric name/],
      ['limits:\n  max_series: -1\n', /limits\.max_series: expected an integer >= 1/],
      ['limits:\n  max_tcp_connections: 0\n', /limits\.max_tcp_connections: expected an integer >= 1/],
      ['sources:\n  - name: x\n    kind: nosuch\n', /sources\[0\]\.kind: unknown source kind "nosuch"/],
      ['statsd:\n  listen_udp: nonsense\n', /statsd\.listen_udp: expected HOST:PORT/],
      ['bogus: 1\n', /bogus: unknown setting/],
      ['statsd: [\n', /invalid YAML at line/],
      ['outputs:\n  otlp:\n    interval: 5s\n', /outputs\.otlp\.endpoint: required/],
      ['outputs:\n  otlp:\n    endpoint: http://127.0.0.1:4318/v1/metrics\n    compression: zstd\n', /outputs\.otlp\.compression: expected gzip or none/],
    ];
    for (const [yaml, re] of cases) {
      const f = join(dir, 'adapter.yaml');
      writeFileSync(f, yaml);
      const r = await runPodkit(['metrics-adapter', '--config', f, '--check-config']);
      assert.equal(r.code, 2, `${yaml}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.match(r.stderr, new RegExp(`^podkit metrics-adapter: ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
    const mapping = join(dir, 'mapping.yml');
    writeFileSync(mapping, 'mappings:\n- match: a.*\n  name: x\n  observer_type: sketch\n');
    const r = await runPodkit(['metrics-adapter', '--statsd.mapping-config', mapping, '--check-config']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /mapping\.yml: mappings\[0\]\.observer_type: expected histogram or summary/);
    // An unquoted glob starting with * is a YAML alias with no anchor: exit 2 naming the file, line and path.
    writeFileSync(mapping, 'mappings:\n- match: a.*\n  name: x\n- match: *.test.*\n  name: "test_$1"\n');
    const alias = await runPodkit(['metrics-adapter', '--statsd.mapping-config', mapping, '--check-config']);
    assert.equal(alias.code, 2, alias.stderr);
    assert.match(alias.stderr, /mapping\.yml: invalid YAML at line 4 \(mappings\[1\]\.match\): Unresolved alias/);
    assert.equal(alias.stderr.trim().split('\n').length, 1, 'one line');
    const limits = join(dir, 'limits.yaml');
    writeFileSync(limits, 'sources:\n  - {name: a, kind: nginx, url: "http://127.0.0.1:1/", max_series: 0}\n  - {name: b, kind: nginx, url: "http://127.0.0.1:1/", max_body_size: lots}\n');
    const lim = await runPodkit(['metrics-adapter', '--config', limits, '--check-config']);
    assert.equal(lim.code, 2, lim.stderr);
    assert.match(lim.stderr, /sources\[0\]\.max_series: expected an integer >= 1/);
    assert.match(lim.stderr, /sources\[1\]\.max_body_size: expected a size like 16MiB/);
    const flagBad = await runPodkit(['metrics-adapter', '--http-bind', 'nope']);
    assert.equal(flagBad.code, 2);
    assert.match(flagBad.stderr, /--http-bind/);
  });

  test('--help lists the statsd_exporter spellings', async () => {
    const r = await runPodkit(['metrics-adapter', '--help']);
    assert.equal(r.code, 0);
    for (const f of ['--statsd.listen-udp', '--statsd.listen-tcp', '--statsd.listen-unixgram', '--statsd.mapping-config', '--statsd.parse-dogstatsd-tags', '--web.telemetry-path', '--http-bind', '--config']) assert.ok(r.stdout.includes(f), f);
  });

  test('a statsd_exporter mapping file is accepted unchanged via --statsd.mapping-config', async () => {
    const mapping = fileURLToPath(new URL('./fixtures/metrics-adapter/statsd/statsd_mapping.yml', import.meta.url));
    const [http, udp] = [await freePort(), await freePort()];
    const p = startPodkit([
      'metrics-adapter',
      '--statsd.mapping-config', mapping,
      '--statsd.listen-udp', `127.0.0.1:${udp}`,
      '--statsd.listen-tcp', '',
      '--http-bind', `127.0.0.1:${http}`,
      '--web.telemetry-path', '/stats',
      '--statsd.parse-influxdb-tags=false',
      '--statsd.cache-size', '1000',
    ]);
    await waitForOutput(p, /listening on http/);
    const sock = createSocket('udp4');
    const lines = [
      'test.dispatcher.FooProcessor.send.success:1|c',
      'foo_product.signup.facebook.failure:1|c',
      'test.timing.web.aws.ok:300|ms',
      'other.timing.web.gcp.ok:20|ms',
      'host1.api--https.status.500.count:2|c',
      'test.foo.bar:3|c',
      'test.foo.baz:3|g',
      'http.request.200:1|c|#code:201',
      'session.open:4|g',
      'debug.noise:1|c',
      'plain,k=v:1|c',
    ].join('\n');
    await new Promise<void>((r) => sock.send(lines, udp, '127.0.0.1', () => r()));
    sock.close();
    const t = await pollUntil(async () => {
      const m = await metrics(http, '/stats');
      return m.includes('sessions 4') ? m : undefined;
    });
    await p.stop();
    for (const series of [
      'dispatcher_events_total{action="send",job="test_dispatcher",outcome="success",processor="FooProcessor"} 1',
      'signup_events_total{job="foo_product_server",outcome="failure",provider="facebook"} 1',
      'my_timer_bucket{job="web_server",outcome="ok",provider="aws",le="0.5"} 1',
      'my_timer_bucket{job="web_server",outcome="ok",provider="aws",le="0.25"} 0',
      'other_timer{job="web_server_other",outcome="ok",provider="gcp",quantile="0.99"} 0.02',
      'request_total{code="500",exec="api",hostname="host1",protocol="https"} 2',
      'test_foo{provider="bar"} 3',
      'test_foo_baz 3',
      'http_requests_total{code="201"} 1',
      'sessions 4',
      'plain_k_v 1',
    ]) {
      const name = series.split(/[{ ]/, 1)[0];
      const line = t.split('\n').find((l) => sameSeries(l, series));
      assert.ok(line, `${series} (got:\n${t.split('\n').filter((l) => l.startsWith(name)).join('\n')})`);
    }
    assert.doesNotMatch(t, /debug/);
    assert.match(t, /^# HELP http_requests_total Total number of http requests$/m);
  });

  test('--no-statsd.parse-dogstatsd-tags keeps |# lines without labels; --statsd.counters-always-total gives promtool-clean names', async () => {
    requireBinary('promtool');
    const [http, udp] = [await freePort(), await freePort()];
    const p = startPodkit(['metrics-adapter', '--statsd.listen-udp', `127.0.0.1:${udp}`, '--statsd.listen-tcp', '', '--http-bind', `127.0.0.1:${http}`, '--no-statsd.parse-dogstatsd-tags', '--statsd.counters-always-total']);
    await waitForOutput(p, /listening on http/);
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.send('foo:100|c|#tag1:bar\nlat:5|ms|@0.5|#a:b\nhits:1|c', udp, '127.0.0.1', () => r()));
    sock.close();
    const t = await pollUntil(async () => {
      const m = await metrics(http, '/metrics');
      return m.includes('hits_total 1') ? m : undefined;
    });
    await p.stop();
    assert.match(t, /^foo_total 100$/m, 'the sample is kept, without the DogStatsD tag');
    assert.match(t, /^lat_count 2$/m);
    assert.doesNotMatch(t, /tag1|a="b"/);
    const r = await run('promtool', ['check', 'metrics'], { input: t }).catch((e: { stdout?: string; stderr?: string }) => e);
    assert.deepEqual(`${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').filter((l) => l.trim() !== ''), []);
  });

  test('SIGHUP and POST /-/reload swap the mapping; a bad config keeps the old one and says why; counters stay monotonic', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'adapter.yaml');
    const [http, udp] = [await freePort(), await freePort()];
    const write = (name: string) => writeFileSync(cfg, `statsd:\n  listen_udp: 127.0.0.1:${udp}\n  listen_tcp: ""\n  mappings:\n    - match: "app.*"\n      name: "${name}"\n      labels: { op: "$1" }\n`);
    write('app_ops_total');
    const p = startPodkit(['metrics-adapter', '--config', cfg, '--http-bind', `127.0.0.1:${http}`]);
    await waitForOutput(p, /listening on http/);
    const sock = createSocket('udp4');
    const send = (s: string) => new Promise<void>((r) => sock.send(s, udp, '127.0.0.1', () => r()));
    try {
      await send('app.get:5|c');
      await pollUntil(async () => value(await metrics(http), 'app_ops_total{op="get"}') === 5, { what: 'first sample' });

      // SIGHUP: new mapping applies to new samples, the old series keeps counting from where it was.
      write('app_requests_total');
      p.signal('SIGHUP');
      await pollUntil(async () => value(await metrics(http), 'podkit_metrics_adapter_config_reloads_total{outcome="success"}') === 1, { what: 'SIGHUP reload' });
      await send('app.get:2|c');
      const after1 = await pollUntil(async () => {
        const t = await metrics(http);
        return value(t, 'app_requests_total{op="get"}') === 2 ? t : undefined;
      });
      assert.equal(value(after1, 'app_ops_total{op="get"}'), 5, 'existing counter is kept, not reset');

      // A bad config on POST /-/reload: 400 saying why, old mapping still active.
      writeFileSync(cfg, 'statsd:\n  mappings:\n    - match: "app.*"\n      name: "bad name"\n');
      const bad = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' });
      assert.equal(bad.status, 400);
      assert.match(await bad.text(), /reload failed, keeping the running config: .*statsd\.mappings\[0\]\.name/);
      await send('app.get:1|c');
      await pollUntil(async () => value(await metrics(http), 'app_requests_total{op="get"}') === 3, { what: 'old mapping still applied' });
      const t = await metrics(http);
      assert.equal(value(t, 'podkit_metrics_adapter_config_reloads_total{outcome="failure"}'), 1);
      assert.equal(value(t, 'podkit_metrics_adapter_config_last_reload_successful'), 0);
      p.signal('SIGHUP');
      await waitForOutput(p, /reload failed; keeping the running config/);

      // Fixed config via POST: 200.
      write('app_requests_total');
      const ok = await fetch(`http://127.0.0.1:${http}/-/reload`, { method: 'POST' });
      assert.equal(ok.status, 200);
      assert.equal(value(await metrics(http), 'app_requests_total{op="get"}'), 3, 'monotonic across reloads');
    } finally {
      sock.close();
      await p.stop();
    }
    assert.equal(await p.exited, 0);
  });
});
