/** @module Per-source behaviour against real servers: redis replication and auth, nginx counts and nginx-prometheus-exporter side by side, JSON big-int labels, prometheus relabel + OpenMetrics, Jolokia bulk reads. */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeRedisClients, freePort, pollUntil, startNginx, startProcess, startRedis, stopAll, tempDir, waitForPort } from './helpers/index.js';
import { startJolokia } from './helpers/jolokia.js';
import { createLogger, type Logger } from '../src/core/log.js';
import { AuthError, ProtocolError, UpstreamError } from '../src/core/errors.js';
import { startHttpServer } from '../src/core/http.js';
import type { MetricFamily } from '../src/core/metrics/model.js';
import { sourceFactories } from '../src/metrics-adapter/sources/index.js';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers) await c();
  closeRedisClients();
  await stopAll();
});
const silent = createLogger({ name: 'live', level: 'silent' });

async function collect(kind: string, raw: Record<string, unknown>, log: Logger = silent): Promise<MetricFamily[]> {
  const f = sourceFactories[kind];
  return f.create(kind, f.parseOptions(raw, 'sources[0]'), { log }).collect(AbortSignal.timeout(10_000));
}
const series = (fams: MetricFamily[], name: string) => (fams.find((f) => f.name === name)?.metrics ?? []).map((m) => [m.labels, m.value ?? m.count]);
const one = (fams: MetricFamily[], name: string, labels: Record<string, string> = {}) =>
  fams.find((f) => f.name === name)?.metrics.find((m) => JSON.stringify(m.labels) === JSON.stringify({ ...m.labels, ...labels }))?.value;

describe('redis', () => {
  test('commandstats count exactly; master and replica report replication like redis_exporter', async () => {
    const master = await startRedis();
    const replica = await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } });
    const c = master.client();
    for (let i = 0; i < 5; i++) await c.set(`k${i}`, 'v');
    await pollUntil(async () => one(await collect('redis', { address: replica.addr }), 'redis_master_link_up') === 1, { timeoutMs: 15_000, what: 'replica link up' });
    const online = (fams: MetricFamily[]) => fams.find((f) => f.name === 'redis_connected_slave_offset_bytes')?.metrics[0]?.labels.slave_state === 'online';
    const m = await pollUntil(async () => {
      const fams = await collect('redis', { address: master.addr });
      return online(fams) ? fams : undefined;
    }, { timeoutMs: 15_000, what: 'master to see its replica online' });
    assert.deepEqual(series(m, 'redis_commands_total').find(([l]) => (l as Record<string, string>).cmd === 'set'), [{ cmd: 'set' }, 5]);
    assert.equal(one(m, 'redis_db_keys', { db: 'db0' }), 5);
    assert.equal(m.filter((f) => f.name === 'redis_db_keys')[0].metrics.length, 16, 'every database up to CONFIG GET databases');
    assert.equal(one(m, 'redis_db_keys_expiring', { db: 'db15' }), 0);
    assert.equal(one(m, 'redis_connected_slaves'), 1);
    const slave = m.find((f) => f.name === 'redis_connected_slave_offset_bytes')?.metrics[0];
    assert.deepEqual(slave && { ...slave.labels }, { slave_ip: '127.0.0.1', slave_port: String(replica.port), slave_state: 'online' });
    assert.equal(m.find((f) => f.name === 'redis_instance_info')?.metrics[0].labels.role, 'master');
    const r = await collect('redis', { address: replica.addr });
    assert.equal(r.find((f) => f.name === 'redis_instance_info')?.metrics[0].labels.role, 'slave');
    assert.deepEqual(r.find((f) => f.name === 'redis_slave_info')?.metrics[0].labels, { master_host: '127.0.0.1', master_port: String(master.port), read_only: '1' });
  });

  test('AUTH with a password; a missing password is an AuthError', async () => {
    const node = await startRedis({ password: 's3cret-pw' });
    const fams = await collect('redis', { address: node.addr, password: 's3cret-pw' });
    assert.equal(one(fams, 'redis_up'), 1);
    await assert.rejects(collect('redis', { address: node.addr }), AuthError);
    await assert.rejects(collect('redis', { address: node.addr, password: 'wrong' }), AuthError);
  });
});

test('nginx: http_requests_total counts every request, including the stub_status scrape itself', async () => {
  const n = await startNginx({ serverExtra: 'location = /stub_status { stub_status; }' });
  const opts = { url: `${n.url}/stub_status` };
  const before = one(await collect('nginx', opts), 'nginx_http_requests_total')!;
  for (let i = 0; i < 3; i++) await (await fetch(`${n.url}/`)).arrayBuffer();
  const fams = await collect('nginx', opts);
  assert.equal(one(fams, 'nginx_http_requests_total'), before + 4);
  assert.equal(one(fams, 'nginx_up'), 1);
  assert.ok(one(fams, 'nginx_connections_accepted')! >= 1);
  assert.ok(one(fams, 'nginx_connections_active')! >= 1, 'the scrape itself is active');
});

test('json: labels keep every digit of integers beyond 2^53 over real HTTP', async () => {
  const body = '{"accounts":[{"id":18446744073709551615,"balance":12.5,"state":"open"},{"id":9007199254740993,"balance":1,"state":"closed"}]}';
  const s = createServer((_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => s.close(() => r())));
  const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}/`;
  const fams = await collect('json', { url, metrics: [
    { name: 'account_balance', path: '$.accounts[*]', value: '$.balance', valuetype: 'gauge', labels: { id: '$.id' } },
    { name: 'account_open', path: '$.accounts[*]', value: '$.state', value_map: { open: 1, closed: 0 }, labels: { id: '$.id' } },
  ] });
  assert.deepEqual(series(fams, 'account_balance'), [[{ id: '18446744073709551615' }, 12.5], [{ id: '9007199254740993' }, 1]]);
  assert.deepEqual(series(fams, 'account_open'), [[{ id: '18446744073709551615' }, 1], [{ id: '9007199254740993' }, 0]]);
  const bad = createServer((_q, res) => res.writeHead(200).end('{"oops":'));
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => bad.close(() => r())));
  await assert.rejects(collect('json', { url: `http://127.0.0.1:${(bad.address() as AddressInfo).port}/`, metrics: [{ name: 'x', path: '$.x' }] }), /bad JSON/);
});

describe('prometheus', () => {
  test('re-exports a real Prometheus server through relabel_configs (drop, labelmap, labeldrop, rename)', async () => {
    const port = await freePort();
    const dir = tempDir('podkit-prom-');
    writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1h\n');
    startProcess('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { name: 'prometheus' });
    await waitForPort(port, '127.0.0.1', 30_000);
    const url = `http://127.0.0.1:${port}/metrics`;
    const raw = await collect('prometheus', { url });
    const hist = raw.find((f) => f.name === 'prometheus_tsdb_compaction_chunk_range_seconds');
    assert.equal(hist?.type, 'histogram', 'histograms survive the parse');
    assert.ok(raw.some((f) => f.name === 'go_goroutines'));
    const fams = await collect('prometheus', { url, relabel_configs: [
      { source_labels: ['__name__'], regex: 'go_.*', action: 'drop' },
      { source_labels: ['__name__'], regex: 'prometheus_build_info', target_label: '__name__', replacement: 'upstream_build_info' },
      { source_labels: ['version'], regex: '(.+)', target_label: '__tmp_version', replacement: '$1' },
      { regex: '__tmp_(.*)', action: 'labelmap', replacement: 'upstream_$1' },
      { regex: 'version|revision|branch|buildUser|buildDate|tags|goversion|goos|goarch', action: 'labeldrop' },
    ] });
    assert.ok(!fams.some((f) => f.name.startsWith('go_')), 'go_* dropped');
    const info = fams.find((f) => f.name === 'upstream_build_info');
    assert.ok(info, 'renamed');
    assert.deepEqual(Object.keys(info.metrics[0].labels), ['upstream_version']);
    assert.ok(!fams.some((f) => f.name === 'prometheus_build_info'));
  });

  test('scrapes OpenMetrics from a real negotiating server (podkit core /metrics)', async () => {
    const h = await startHttpServer({ bind: { host: '127.0.0.1', port: 0 }, log: silent, metrics: () => [
      { name: 'jobs_total', help: 'Jobs', type: 'counter', metrics: [{ labels: { q: 'a' }, value: 7, created: 1700000000 }] },
      { name: 'app_info', help: 'App', type: 'info', metrics: [{ labels: { version: '2' } }] },
      { name: 'lat_seconds', help: 'L', type: 'histogram', metrics: [{ labels: {}, buckets: [{ le: 1, count: 2 }, { le: Infinity, count: 3 }], sum: 4, count: 3 }] },
    ] });
    closers.push(() => h.close());
    const fams = await collect('prometheus', { url: `http://127.0.0.1:${h.address.port}/metrics` });
    assert.deepEqual(fams.map((f) => [f.name, f.type]), [['jobs_total', 'counter'], ['app_info', 'info'], ['lat_seconds', 'histogram']], 'OpenMetrics types (info) kept');
    assert.equal(fams[0].metrics[0].created, 1700000000, 'OpenMetrics _created parsed');
  });
});

describe('jolokia (real JVM, Debian jolokia-core)', () => {
  test('one bulk POST reads wildcard MBeans and exact attribute values through jmx_exporter rules', async () => {
    const j = await startJolokia();
    const fams = await collect('jolokia', {
      url: j.url,
      mbeans: ['com.example:type=Cache,name=*', { mbean: 'java.lang:type=Memory', attributes: ['HeapMemoryUsage'] }, 'java.lang:type=Threading'],
      rules: [
        { pattern: 'com.example<type=Cache, name=(\\w+)><>(Hits|Misses): (\\d+)', name: 'cache_$2_total', type: 'COUNTER', labels: { cache: '$1' }, help: 'Cache $2' },
        { pattern: 'com.example<type=Cache, name=(\\w+)><>HitRatio', name: 'cache_hit_ratio', type: 'GAUGE', labels: { cache: '$1' } },
        { pattern: 'java.lang<type=Memory><HeapMemoryUsage>(\\w+)', name: 'jvm_memory_heap_$1_bytes', type: 'GAUGE' },
        { pattern: 'java.lang<type=Threading><>ThreadCount', name: 'jvm_threads', type: 'GAUGE' },
      ],
      lowercaseOutputName: true,
    });
    assert.deepEqual(series(fams, 'cache_hits_total').sort(), [[{ cache: 'orders' }, 10], [{ cache: 'users' }, 1500]]);
    assert.deepEqual(series(fams, 'cache_misses_total').sort(), [[{ cache: 'orders' }, 30], [{ cache: 'users' }, 500]]);
    assert.deepEqual(series(fams, 'cache_hit_ratio').sort(), [[{ cache: 'orders' }, 0.25], [{ cache: 'users' }, 0.75]]);
    assert.equal(fams.find((f) => f.name === 'cache_hits_total')?.type, 'counter');
    assert.ok(one(fams, 'jvm_memory_heap_used_bytes')! > 0);
    assert.ok(one(fams, 'jvm_memory_heap_max_bytes')! > 0);
    assert.ok(one(fams, 'jvm_threads')! >= 1);
  });

  test('a failing read inside the bulk is logged and skipped; when every read fails the collect fails', async () => {
    const j = await startJolokia();
    const warnings: string[] = [];
    const log: Logger = { ...silent, warn: (msg: string) => warnings.push(msg), child: () => log };
    const fams = await collect('jolokia', { url: j.url, mbeans: ['com.example:type=Nope,name=x', 'com.example:type=Cache,name=users'] }, log);
    assert.equal(one(fams, 'com_example_Cache_Hits', { name: 'users' }), 1500, 'default jmx_exporter format, other reads still served');
    assert.equal(warnings.length, 1);
    await assert.rejects(collect('jolokia', { url: j.url, mbeans: ['com.example:type=Nope,name=x'] }), UpstreamError);
    // jmx_exporter's include/exclude spellings.
    const only = await collect('jolokia', { url: j.url, includeObjectNames: ['com.example:*'], excludeObjectNames: ['com.example:type=Cache,name=orders'] });
    assert.deepEqual(series(only, 'com_example_Cache_Hits'), [[{ name: 'users' }, 1500]]);
  });
});

test('redis: RESP3 from a real redis-server (HELLO 3) reads as RESP2 does: INFO\'s verbatim string, CONFIG GET\'s map, every DEBUG PROTOCOL type; a push is out of band', async () => {
  const { respExchange } = await import('../src/metrics-adapter/sources/redis.js');
  const r = await startRedis({ args: ['--enable-debug-command', 'local', '--databases', '5'] });
  const types = ['string', 'integer', 'double', 'bignum', 'null', 'array', 'set', 'map', 'attrib', 'verbatim', 'true', 'false'];
  const ask = async (resp: string, extra: string[][] = []) => {
    const cmds = [['HELLO', resp], ['INFO', 'ALL'], ['CONFIG', 'GET', 'databases'], ...types.map((t) => ['DEBUG', 'PROTOCOL', t]), ...extra];
    const [, info, dbs, ...rest] = await respExchange('127.0.0.1', r.port, cmds, AbortSignal.timeout(10_000));
    return { info, dbs, byType: Object.fromEntries(types.map((t, i) => [t, rest[i]])), rest: rest.slice(types.length) };
  };
  const two = await ask('2');
  // DEBUG PROTOCOL push sends a push and then its reply; only the reply answers the command.
  const three = await ask('3', [['DEBUG', 'PROTOCOL', 'push'], ['PING']]);
  assert.equal(three.dbs, 'databases\n5');
  assert.equal(three.dbs, two.dbs);
  const sections = (info: string) => info.split('\r\n').filter((l) => l.startsWith('#'));
  assert.match(three.info, /^redis_version:\d+\.\d+/m);
  assert.deepEqual(sections(three.info), sections(two.info), 'INFO (a verbatim string in RESP3) has the same sections');
  assert.deepEqual(three.byType, two.byType);
  assert.deepEqual(three.byType, {
    string: 'Hello World', integer: '12345', double: '3.141', bignum: '1234567999999999999999999999999999999', null: '', array: '0\n1\n2', set: '0\n1\n2',
    map: '0\n0\n1\n1\n2\n0', attrib: 'Some real reply following the attribute', verbatim: 'This is a verbatim\nstring', true: '1', false: '0',
  });
  assert.deepEqual(three.rest, ['Some real reply following the push reply', 'PONG']);
  // Through the source: INFO over RESP3 gives the same families.
  assert.ok(parseFloat(String(one(await collect('redis', { address: r.addr }), 'redis_connected_clients'))) >= 1);
});

describe('redis RESP reader (fault injection a real Redis cannot produce)', () => {
  /** A server that answers every command with `reply`, written in chunks of `step` bytes. */
  async function fake(reply: string, step: number): Promise<number> {
    const { createServer: tcp } = await import('node:net');
    const s = tcp((c) => {
      c.on('error', () => {});
      c.once('data', async () => {
        const b = Buffer.from(reply);
        for (let i = 0; i < b.length; i += step) {
          c.write(b.subarray(i, i + step));
          await new Promise((r) => setImmediate(r));
        }
      });
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => s.close(() => r())));
    return (s.address() as AddressInfo).port;
  }
  const info = '# Clients\r\nconnected_clients:7\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n';
  // INFO's bulk, then CONFIG GET databases' array (redis_exporter reports every database, 0 for empty ones).
  const bulk = `$${Buffer.byteLength(info)}\r\n${info}\r\n*2\r\n$9\r\ndatabases\r\n$1\r\n3\r\n`;

  for (const step of [1, 2, 3, 7, bulk.length]) {
    test(`a bulk reply split every ${step} byte(s) parses the same`, async () => {
      const fams = await collect('redis', { address: `127.0.0.1:${await fake(bulk, step)}` });
      assert.equal(one(fams, 'redis_connected_clients'), 7);
      assert.equal(one(fams, 'redis_db_keys', { db: 'db0' }), 3);
      assert.deepEqual(series(fams, 'redis_db_keys'), [[{ db: 'db0' }, 3], [{ db: 'db1' }, 0], [{ db: 'db2' }, 0]]);
    });
  }

  test('CONFIG denied (renamed or ACL) reads as unknown: only the databases INFO lists', async () => {
    const denied = `$${Buffer.byteLength(info)}\r\n${info}\r\n-NOPERM this user has no permissions to run the 'config|get' command\r\n`;
    const fams = await collect('redis', { address: `127.0.0.1:${await fake(denied, 5)}` });
    assert.deepEqual(series(fams, 'redis_db_keys'), [[{ db: 'db0' }, 3]]);
  });

  test('error replies and garbage are clear errors, never a hang', async () => {
    await assert.rejects(collect('redis', { address: `127.0.0.1:${await fake('-ERR unknown command\r\n', 4)}` }), (e: unknown) => e instanceof UpstreamError && /ERR unknown command/.test(e.message));
    await assert.rejects(collect('redis', { address: `127.0.0.1:${await fake('?what\r\n', 100)}` }), (e: unknown) => e instanceof ProtocolError && /unknown type byte "\?"/.test((e as Error).message));
    await assert.rejects(collect('redis', { address: `127.0.0.1:${await fake('$-5\r\n', 100)}` }), (e: unknown) => e instanceof ProtocolError && /invalid bulk length/.test((e as Error).message));
    // Framed whole by the scanner, refused by the decoder: a value that breaks its type.
    await assert.rejects(collect('redis', { address: `127.0.0.1:${await fake(',1.2.3\r\n', 100)}` }), (e: unknown) => e instanceof ProtocolError && /invalid double "1.2.3"/.test((e as Error).message));
  });
});

describe('exporter parity where alerts look (through the adapter)', () => {
  test('redis_up 0 / nginx_up 0 when the target is down; several redis sources are all served, labelled by source', async () => {
    const { start } = await import('../src/metrics-adapter/index.js');
    const master = await startRedis();
    const replica = await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } });
    await master.client().set('k', 'v');
    const down = await freePort();
    const h = await start({
      doc: {
        statsd: { listen_udp: '', listen_tcp: '' },
        sources: [
          { name: 'primary', kind: 'redis', address: master.addr },
          { name: 'replica', kind: 'redis', address: replica.addr },
          { name: 'gone', kind: 'redis', address: `127.0.0.1:${down}`, timeout: '2s' },
          { name: 'web', kind: 'nginx', url: `http://127.0.0.1:${down}/stub_status`, timeout: '2s' },
        ],
      },
      httpBind: { host: '127.0.0.1', port: 0 },
    });
    closers.push(() => h.close());
    const text = await (await fetch(`http://127.0.0.1:${h.httpAddress.port}/metrics`)).text();
    // redis-mixin's alert is `redis_up == 0`: the series must exist with 0, not vanish.
    assert.match(text, /^redis_up\{source="gone"\} 0$/m);
    assert.match(text, /^redis_up\{source="primary"\} 1$/m);
    assert.match(text, /^redis_up\{source="replica"\} 1$/m);
    assert.match(text, /^nginx_up 0$/m, 'a lone source keeps the exporter\'s exact series');
    assert.match(text, /^redis_instance_info\{[^}]*role="master"[^}]*source="primary"\} 1$/m);
    assert.match(text, /^redis_instance_info\{[^}]*role="slave"[^}]*source="replica"\} 1$/m);
    assert.match(text, /^redis_connected_clients\{source="replica"\} \d+$/m);
    assert.doesNotMatch(text, /podkit_metrics_adapter_conflicts_total\{reason="name_conflict"\}/);
    assert.match(text, /^up\{source="gone"\} 0$/m);
  });
});

test('redis: a reply longer than max_body_size is refused from its header, never buffered', async () => {
  const { createServer: tcp } = await import('node:net');
  const s = tcp((c) => {
    c.on('error', () => {});
    c.once('data', () => c.write('$999999999999\r\n'));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => s.close(() => r())));
  const f = sourceFactories.redis;
  const src = f.create('r', f.parseOptions({ address: `127.0.0.1:${(s.address() as AddressInfo).port}` }, 'sources[0]'), { log: silent, maxBodyBytes: 1 << 20 });
  await assert.rejects(src.collect(AbortSignal.timeout(5000)), (e: unknown) => e instanceof UpstreamError && /larger than max_body_size/.test(e.message));
});

test('redis: the cap holds inside an array reply too, from the item\'s header; a RESP3 map reads like the array', async () => {
  const { createServer: tcp } = await import('node:net');
  const info = '# Keyspace\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n';
  const infoBulk = `$${info.length}\r\n${info}\r\n`;
  const serve = async (reply: string) => {
    const s = tcp((c) => {
      c.on('error', () => {});
      c.once('data', () => c.write(reply));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise<void>((r) => s.close(() => r())));
    const f = sourceFactories.redis;
    return f.create('r', f.parseOptions({ address: `127.0.0.1:${(s.address() as AddressInfo).port}` }, 'sources[0]'), { log: silent, maxBodyBytes: 1 << 20 });
  };
  const big = await serve(`${infoBulk}*2\r\n$9\r\ndatabases\r\n$${2 << 20}\r\n`);
  await assert.rejects(big.collect(AbortSignal.timeout(5000)), (e: unknown) => e instanceof UpstreamError && (e as { limit?: string }).limit === 'body_size');
  const map = await serve(`${infoBulk}%1\r\n$9\r\ndatabases\r\n$1\r\n2\r\n`);
  assert.deepEqual(series(await map.collect(AbortSignal.timeout(5000)), 'redis_db_keys'), [[{ db: 'db0' }, 1], [{ db: 'db1' }, 0]]);
});

describe('redis source beside redis_exporter 1.45 (Debian prometheus-redis-exporter) on the same servers', () => {
  /** Families dashboards and redis-mixin query, beyond the *_up the adapter test above checks. */
  const WATCHED = [
    'redis_up', 'redis_connected_clients', 'redis_blocked_clients', 'redis_memory_used_bytes', 'redis_memory_max_bytes', 'redis_commands_processed_total',
    'redis_connections_received_total', 'redis_keyspace_hits_total', 'redis_keyspace_misses_total', 'redis_evicted_keys_total', 'redis_expired_keys_total',
    'redis_db_keys', 'redis_db_keys_expiring', 'redis_commands_total', 'redis_commands_duration_seconds_total', 'redis_connected_slaves',
    'redis_master_repl_offset', 'redis_instance_info', 'redis_replica_resyncs_full', 'redis_replica_partial_resync_accepted',
    'redis_master_link_up', 'redis_master_last_io_seconds_ago', 'redis_slave_repl_offset', 'redis_slave_info', 'redis_connected_slave_offset_bytes',
    'redis_latency_percentiles_usec', 'redis_net_input_bytes_total', 'redis_cpu_sys_seconds_total', 'redis_mem_fragmentation_ratio',
  ];

  test('the watched families exist in both with the same type and label names (redis_exporter\'s addr/alias aside)', async () => {
    requireBinaryOrFail('prometheus-redis-exporter');
    const { parseExposition } = await import('../src/metrics-adapter/sources/prom-parse.js');
    const master = await startRedis();
    const replica = await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } });
    const c = master.client();
    for (let i = 0; i < 5; i++) await c.set(`k${i}`, 'v');
    await pollUntil(async () => one(await collect('redis', { address: replica.addr }), 'redis_master_link_up', {}) === 1, { timeoutMs: 15_000, what: 'replica link up' });
    const problems: string[] = [];
    for (const node of [master, replica]) {
      const port = await freePort();
      const peer = startProcess('prometheus-redis-exporter', ['-redis.addr', `redis://${node.addr}`, '-web.listen-address', `127.0.0.1:${port}`], { name: `redis_exporter:${port}` });
      closers.push(() => peer.stop());
      await waitForPort(port);
      const theirs = parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      const ours = await collect('redis', { address: node.addr });
      const role = node === master ? 'master' : 'replica';
      const skipped: string[] = [];
      for (const name of WATCHED) {
        const t = theirs.find((f) => f.name === name);
        if (t === undefined) {
          skipped.push(name); // a family redis_exporter does not give for this role
          continue;
        }
        const o = ours.find((f) => f.name === name);
        if (!o) {
          problems.push(`${role}: ${name} missing`);
          continue;
        }
        if ((o.type === 'info' ? 'gauge' : o.type) !== (t.type === 'untyped' ? 'gauge' : t.type)) problems.push(`${role}: ${name} is a ${o.type}, theirs a ${t.type}`);
        const labelNames = (fams: typeof ours[0]) => [...new Set(fams.metrics.flatMap((m) => Object.keys(m.labels)))].filter((l) => l !== 'addr' && l !== 'alias').sort().join(',');
        if (labelNames(o) !== labelNames(t)) problems.push(`${role}: ${name} labels {${labelNames(o)}}, theirs {${labelNames(t)}}`);
        if (name === 'redis_db_keys' && o.metrics.length !== t.metrics.length) problems.push(`${role}: ${o.metrics.length} redis_db_keys, theirs ${t.metrics.length}`);
      }
      // Only the role-specific families may be absent from redis_exporter's output.
      const roleOnly = role === 'master' ? ['redis_master_link_up', 'redis_master_last_io_seconds_ago', 'redis_slave_repl_offset', 'redis_slave_info'] : ['redis_connected_slave_offset_bytes'];
      for (const n of skipped) if (!roleOnly.includes(n)) problems.push(`${role}: redis_exporter 1.45 gives no ${n}`);
    }
    assert.deepEqual(problems, []);
  });
});

describe('nginx source beside nginx-prometheus-exporter 0.11 (Debian prometheus-nginx-exporter) on the same nginx', () => {
  // The exporter's own nginxexporter_build_info aside, a dashboard sees the same families: names, HELP, TYPE, labels.
  const shape = (fams: MetricFamily[]) =>
    fams
      .filter((f) => f.name.startsWith('nginx_'))
      .map((f) => `${f.name} ${f.type === 'untyped' ? 'gauge' : f.type} {${[...new Set(f.metrics.flatMap((m) => Object.keys(m.labels)))].sort().join(',')}} ${f.help}`)
      .sort();

  test('the same families, HELP and TYPE up and down; the counters agree with the scrapes between them', async () => {
    requireBinaryOrFail('prometheus-nginx-exporter');
    const { parseExposition } = await import('../src/metrics-adapter/sources/prom-parse.js');
    const n = await startNginx({ serverExtra: 'location = /stub_status { stub_status; }' });
    const port = await freePort();
    const peer = startProcess('prometheus-nginx-exporter', ['-nginx.scrape-uri', `${n.url}/stub_status`, '-web.listen-address', `127.0.0.1:${port}`], { name: `nginx-exporter:${port}` });
    closers.push(() => peer.stop());
    await waitForPort(port);
    const theirs = async () => parseExposition(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    const opts = { url: `${n.url}/stub_status` };
    const t1 = await theirs();
    const ours = await collect('nginx', opts);
    assert.deepEqual(shape(ours), shape(t1));
    // Each scrape of stub_status is one request to nginx: ours came one request after theirs.
    const value = (fams: MetricFamily[], name: string) => fams.find((f) => f.name === name)?.metrics[0]?.value;
    assert.equal(value(ours, 'nginx_http_requests_total'), value(t1, 'nginx_http_requests_total')! + 1);
    assert.equal(value(ours, 'nginx_up'), 1);
    assert.equal(value(t1, 'nginx_up'), 1);
    // nginx gone: the exporter keeps serving nginx_up 0 and nothing else of nginx; so does the source.
    await n.stop();
    const t2 = await theirs();
    const f = sourceFactories.nginx;
    const down = f.create('nginx', f.parseOptions(opts, 'sources[0]'), { log: silent }).down?.() ?? [];
    assert.deepEqual(shape(down), shape(t2));
    assert.equal(value(t2, 'nginx_up'), 0);
    assert.equal(value(down, 'nginx_up'), 0);
  });
});

function requireBinaryOrFail(name: string): void {
  if (spawnSync('sh', ['-c', `command -v ${name}`]).status !== 0) throw new Error(`${name} is not installed (scripts/setup.sh installs it)`);
}
