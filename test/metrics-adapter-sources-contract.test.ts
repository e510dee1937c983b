/** @module The one contract every metrics-adapter source passes, against live targets: valid families, promtool-clean, dead target, abort, bad options. */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startNginx, startProcess, startRedis, stopAll, tempDir, waitForPort, withTimeout, closeRedisClients } from './helpers/index.js';
import { startJolokia } from './helpers/jolokia.js';
import { createLogger } from '../src/core/log.js';
import { ConfigError, PodkitError } from '../src/core/errors.js';
import { labelKey, LABEL_NAME_RE, METRIC_NAME_RE, render, type MetricFamily } from '../src/core/metrics/index.js';
import { sourceFactories, type Source } from '../src/metrics-adapter/sources/index.js';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
  closeRedisClients();
  await stopAll();
});
const log = createLogger({ name: 'contract', level: 'silent' });

/** Peer exporters' names kept for compatibility although promtool's linter dislikes them (redis_exporter's `_sec`, nginx-prometheus-exporter's counters without `_total`). */
const LINT_ALLOWED = /^(redis_(\w+_duration_sec|instantaneous_ops_per_sec) metric names should not contain abbreviated units|nginx_connections_(accepted|handled) counter metrics should have "_total" suffix)$/;

interface Case {
  kind: string;
  /** Options for a live target. */
  live(): Promise<Record<string, unknown>>;
  /** Options pointing at a host:port. */
  at(host: string, port: number): Record<string, unknown>;
  /** Bad option sets and the YAML path the ConfigError must name (the entry sits at sources[3]). */
  bad: Array<[Record<string, unknown>, string]>;
  /** Families the live target must produce. */
  expect: string[];
}

const http = (host: string, port: number, path: string) => `http://${host}:${port}${path}`;

async function jsonServer(): Promise<number> {
  const doc = '{"service":{"up":"up","version":"1.4"},"queues":[{"name":"a","depth":3,"id":18446744073709551615},{"name":"b","depth":0,"id":12}]}';
  const s = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(doc));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => s.close(() => r())));
  return (s.address() as AddressInfo).port;
}

async function startPrometheus(): Promise<number> {
  const port = await freePort();
  const dir = tempDir('podkit-prom-');
  writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
  startProcess('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { name: 'prometheus' });
  await waitForPort(port, '127.0.0.1', 30_000);
  return port;
}

const cases: Case[] = [
  {
    kind: 'redis',
    async live() {
      const r = await startRedis();
      const c = r.client();
      await c.set('k', 'v');
      await c.get('k');
      return { address: r.addr };
    },
    at: (h, p) => ({ address: `${h}:${p}` }),
    bad: [[{}, 'sources[3].address'], [{ address: 'nohostport' }, 'sources[3].address'], [{ address: '127.0.0.1:1', pasword: 'x' }, 'sources[3].pasword']],
    expect: ['redis_up', 'redis_connected_clients', 'redis_commands_total', 'redis_commands_duration_seconds_total', 'redis_db_keys', 'redis_memory_used_bytes', 'redis_instance_info'],
  },
  {
    kind: 'nginx',
    async live() {
      const n = await startNginx({ serverExtra: 'location = /stub_status { stub_status; }' });
      return { url: `${n.url}/stub_status` };
    },
    at: (h, p) => ({ url: http(h, p, '/stub_status') }),
    bad: [[{}, 'sources[3].url'], [{ url: 'ftp://x/' }, 'sources[3].url'], [{ url: 'http://x/', headers: 'x' }, 'sources[3].headers']],
    expect: ['nginx_up', 'nginx_connections_active', 'nginx_connections_accepted', 'nginx_connections_handled', 'nginx_connections_reading', 'nginx_connections_writing', 'nginx_connections_waiting', 'nginx_http_requests_total'],
  },
  {
    kind: 'json',
    async live() {
      const port = await jsonServer();
      return {
        url: http('127.0.0.1', port, '/stats'),
        metrics: [
          { name: 'app_up', path: '$.service.up', valuetype: 'gauge', value_map: { up: 1, down: 0 }, labels: { version: '$.version' } },
          { name: 'app_queue_depth', path: '$.queues[*]', value: '$.depth', valuetype: 'gauge', labels: { queue: '$.name', id: '$.id' } },
        ],
      };
    },
    at: (h, p) => ({ url: http(h, p, '/'), metrics: [{ name: 'x', path: '$.x' }] }),
    bad: [
      [{ url: 'http://x/' }, 'sources[3].metrics'],
      [{ url: 'http://x/', metrics: [{ name: 'bad name', path: '$.a' }] }, 'sources[3].metrics[0].name'],
      [{ url: 'http://x/', metrics: [{ name: 'a', path: '$..a' }] }, 'sources[3].metrics[0].path'],
      [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', labels: { l: '$.[' } }] }, 'sources[3].metrics[0].labels.l'],
    ],
    expect: ['app_queue_depth'],
  },
  {
    kind: 'prometheus',
    async live() {
      const port = await startPrometheus();
      return {
        url: http('127.0.0.1', port, '/metrics'),
        relabel_configs: [
          { source_labels: ['__name__'], regex: 'go_.*|prometheus_.*|process_.*|promhttp_.*|net_conntrack_.*', action: 'keep' },
          { source_labels: ['__name__'], regex: '(.*)', target_label: 'origin', replacement: 'prom' },
        ],
      };
    },
    at: (h, p) => ({ url: http(h, p, '/metrics') }),
    bad: [
      [{ url: 'http://x/', relabel_configs: [{ action: 'hashmod' }] }, 'sources[3].relabel_configs[0].action'],
      [{ url: 'http://x/', relabel_configs: [{ source_labels: ['a'], regex: '(' }] }, 'sources[3].relabel_configs[0].target_label'],
      [{ url: 'http://x/', relabel_configs: [{ source_labels: ['a'], regex: '(', action: 'drop' }] }, 'sources[3].relabel_configs[0].regex'],
    ],
    expect: ['go_goroutines', 'prometheus_build_info', 'process_cpu_seconds_total'],
  },
  {
    kind: 'jolokia',
    async live() {
      const j = await startJolokia();
      return {
        url: j.url,
        mbeans: ['java.lang:type=*', 'com.example:type=Cache,*'],
        rules: [
          { pattern: 'com.example<type=Cache, name=(\\w+)><>(Hits|Misses)', name: 'cache_$2_total', type: 'COUNTER', labels: { cache: '$1' } },
          { pattern: '.*' },
        ],
        lowercaseOutputName: true,
      };
    },
    at: (h, p) => ({ url: http(h, p, '/jolokia') }),
    bad: [
      [{ url: 'http://x/', mbeans: ['nocolon'] }, 'sources[3].mbeans[0]'],
      [{ url: 'http://x/', rules: [{ pattern: '(' }] }, 'sources[3].rules[0].pattern'],
      [{ url: 'http://x/', rules: [{ pattern: 'a', type: 'HISTOGRAM' }] }, 'sources[3].rules[0].type'],
    ],
    expect: ['cache_hits_total', 'java_lang_memory_heapmemoryusage_used'],
  },
];

/** Structural checks every source's output must pass. */
function assertValid(kind: string, fams: MetricFamily[]): void {
  const names = new Set<string>();
  for (const f of fams) {
    assert.match(f.name, METRIC_NAME_RE, `${kind}: family name ${f.name}`);
    assert.ok(!names.has(f.name), `${kind}: duplicate family ${f.name}`);
    names.add(f.name);
    const keys = new Set<string>();
    for (const m of f.metrics) {
      for (const l of Object.keys(m.labels)) {
        assert.match(l, LABEL_NAME_RE, `${kind}: ${f.name} label ${l}`);
        assert.ok(!l.startsWith('__'), `${kind}: reserved label ${l}`);
      }
      const key = labelKey(m.labels);
      assert.ok(!keys.has(key), `${kind}: duplicate series ${f.name}${JSON.stringify(m.labels)}`);
      keys.add(key);
      if (f.type === 'histogram') {
        const b = m.buckets ?? [];
        assert.equal(b[b.length - 1]?.le, Infinity, `${kind}: ${f.name} ends in +Inf`);
        for (let i = 1; i < b.length; i++) assert.ok(b[i].le > b[i - 1].le && b[i].count >= b[i - 1].count, `${kind}: ${f.name} buckets`);
      } else if (f.type === 'summary') assert.ok(Array.isArray(m.quantiles), `${kind}: ${f.name} quantiles`);
      else if (f.type !== 'info') assert.equal(typeof m.value, 'number', `${kind}: ${f.name} value`);
    }
  }
}

function promtool(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool is installed (npm run setup)');
  const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '' && !LINT_ALLOWED.test(l.trim()));
  return problems;
}

/** A TCP server that accepts and never answers: the worst kind of dead target. */
async function blackhole(): Promise<number> {
  const socks = new Set<Socket>();
  const s = createTcpServer((c) => {
    socks.add(c);
    c.on('error', () => {});
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  after(() => {
    for (const c of socks) c.destroy();
    return new Promise<void>((r) => s.close(() => r()));
  });
  return (s.address() as AddressInfo).port;
}

for (const c of cases) {
  describe(`source ${c.kind}`, () => {
    const factory = sourceFactories[c.kind];
    let liveOpts: Record<string, unknown>;
    let source: Source;
    before(async () => {
      assert.ok(factory, `${c.kind} is registered`);
      liveOpts = await c.live();
      source = factory.create('live', factory.parseOptions({ name: 'live', kind: c.kind, ...liveOpts }, 'sources[0]'), { log });
    });
    after(() => source?.close?.());

    test('collects valid, promtool-clean families from a live target', async () => {
      assert.equal(source.kind, c.kind);
      assert.equal(source.name, 'live');
      const fams = await withTimeout(source.collect(AbortSignal.timeout(10_000)), 15_000, 'collect');
      assertValid(c.kind, fams);
      const names = new Set(fams.map((f) => f.name));
      for (const n of c.expect) assert.ok(names.has(n), `${c.kind}: expected family ${n}, got ${[...names].slice(0, 30).join(', ')}`);
      assert.deepEqual(promtool(render(fams, 'prometheus')), [], `${c.kind}: promtool check metrics`);
      // Collect twice: a source holds no state that breaks a second scrape.
      assertValid(c.kind, await source.collect(AbortSignal.timeout(10_000)));
    });

    test('a refused connection rejects promptly with a clear PodkitError naming the target', async () => {
      const port = await freePort();
      const s = factory.create('dead', factory.parseOptions(c.at('127.0.0.1', port), 'sources[1]'), { log });
      const err = await withTimeout(s.collect(AbortSignal.timeout(10_000)).then(() => undefined, (e: unknown) => e), 5000, 'dead collect');
      assert.ok(err instanceof PodkitError, `${c.kind}: ${String(err)}`);
      assert.match(err.message, new RegExp(String(port)));
      assert.match(err.message, /ECONNREFUSED/);
    });

    test('a target that never answers is cut off by the AbortSignal', async () => {
      const port = await blackhole();
      const s = factory.create('hole', factory.parseOptions(c.at('127.0.0.1', port), 'sources[2]'), { log });
      const err = await withTimeout(s.collect(AbortSignal.timeout(200)).then(() => undefined, (e: unknown) => e), 5000, 'collect past its signal');
      assert.ok(err instanceof PodkitError && err.code === 'PODKIT_ERR_TIMEOUT', `${c.kind}: ${String(err)}`);
      assert.match(err.message, new RegExp(`${port}.*timed out`), 'names the target');
      const ac = new AbortController();
      ac.abort(new Error('scrape cancelled'));
      await assert.rejects(s.collect(ac.signal), /scrape cancelled/, 'an already-aborted signal rejects with its reason');
      const ac2 = new AbortController();
      const p = s.collect(ac2.signal);
      ac2.abort(new Error('stop now'));
      await assert.rejects(withTimeout(p, 5000, 'abort mid-flight'), /stop now/);
    });

    test('bad options are ConfigErrors naming the YAML path', () => {
      for (const [raw, path] of c.bad) {
        assert.throws(() => factory.parseOptions(raw, 'sources[3]'), (e: unknown) => e instanceof ConfigError && e.path === path && e.exitCode === 2, `${c.kind}: ${JSON.stringify(raw)} → ${path}`);
      }
      assert.throws(() => factory.parseOptions('text', 'sources[3]'), (e: unknown) => e instanceof ConfigError && e.path === 'sources[3]');
    });
  });
}
