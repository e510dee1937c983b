/** @module Unit tests for the pure Redis INFO parser and the nginx stub_status parser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MetricFamily } from '../../core/metrics/model.js';
import { parseRedisInfo } from './redis-info.js';
import { parseStubStatus } from './nginx.js';
import { ProtocolError } from '../../core/errors.js';

const INFO = [
  '# Server', 'redis_version:7.0.15', 'redis_mode:standalone', 'os:Linux', 'tcp_port:6380', 'run_id:abc', 'process_id:42', 'uptime_in_seconds:100', '',
  '# Clients', 'connected_clients:3', 'blocked_clients:1', '',
  '# Memory', 'used_memory:1024', 'used_memory_human:1.00K', 'maxmemory:0', 'maxmemory_policy:noeviction', 'mem_fragmentation_ratio:1.5', '',
  '# Persistence', 'rdb_last_bgsave_status:ok', 'aof_last_write_status:err', '',
  '# Stats', 'total_commands_processed:77', 'keyspace_hits:5', 'keyspace_misses:2', 'expired_keys:1', '',
  '# Replication', 'role:master', 'connected_slaves:1', 'slave0:ip=127.0.0.1,port=6381,state=online,offset=560,lag=1', 'master_replid:def', 'master_repl_offset:560', '',
  '# CPU', 'used_cpu_sys:0.5', 'used_cpu_user:1.25', '',
  '# Commandstats', 'cmdstat_get:calls=4,usec=20,usec_per_call=5.00,rejected_calls=0,failed_calls=1', 'cmdstat_config|get:calls=2,usec=1000000,usec_per_call=500000.00,rejected_calls=1,failed_calls=0', '',
  '# Latencystats', 'latency_percentiles_usec_get:p50=1.003,p99=3.007,p99.9=5.023', 'latency_percentiles_usec_unseen:p50=1', '',
  '# Errorstats', 'errorstat_ERR:count=3', 'errorstat_WRONGTYPE:count=1', '',
  '# Keyspace', 'db0:keys=10,expires=2,avg_ttl=5000', 'db3:keys=1,expires=0,avg_ttl=0', '',
].join('\r\n');

const find = (fams: MetricFamily[], name: string) => {
  const f = fams.find((x) => x.name === name);
  assert.ok(f, `family ${name}`);
  return f;
};
const values = (f: MetricFamily) => f.metrics.map((m) => [m.labels, m.value]);

test('INFO fields map to redis_exporter names, types and labels', () => {
  const fams = parseRedisInfo(INFO);
  assert.deepEqual(values(find(fams, 'redis_up')), [[{}, 1]]);
  assert.deepEqual(values(find(fams, 'redis_connected_clients')), [[{}, 3]]);
  assert.equal(find(fams, 'redis_connected_clients').type, 'gauge');
  assert.deepEqual(values(find(fams, 'redis_memory_used_bytes')), [[{}, 1024]]);
  assert.equal(find(fams, 'redis_commands_processed_total').type, 'counter');
  assert.deepEqual(values(find(fams, 'redis_keyspace_hits_total')), [[{}, 5]]);
  assert.deepEqual(values(find(fams, 'redis_cpu_user_seconds_total')), [[{}, 1.25]]);
  assert.deepEqual(values(find(fams, 'redis_rdb_last_bgsave_status')), [[{}, 1]], 'ok → 1');
  assert.deepEqual(values(find(fams, 'redis_aof_last_write_status')), [[{}, 0]], 'err → 0');
  assert.equal(fams.find((f) => f.name.includes('human')), undefined, 'human-readable duplicates are not exported');
});

test('commandstats, errorstats, keyspace and replicas become labelled families', () => {
  const fams = parseRedisInfo(INFO);
  assert.deepEqual(values(find(fams, 'redis_commands_total')), [[{ cmd: 'get' }, 4], [{ cmd: 'config|get' }, 2]]);
  assert.deepEqual(values(find(fams, 'redis_commands_duration_seconds_total')), [[{ cmd: 'get' }, 0.00002], [{ cmd: 'config|get' }, 1]]);
  assert.deepEqual(values(find(fams, 'redis_commands_failed_calls_total')), [[{ cmd: 'get' }, 1], [{ cmd: 'config|get' }, 0]]);
  assert.deepEqual(values(find(fams, 'redis_commands_rejected_calls_total')), [[{ cmd: 'get' }, 0], [{ cmd: 'config|get' }, 1]]);
  const lat = find(fams, 'redis_latency_percentiles_usec');
  assert.equal(lat.type, 'summary');
  assert.deepEqual(lat.metrics, [{ labels: { cmd: 'get' }, quantiles: [{ quantile: 50, value: 1.003 }, { quantile: 99, value: 3.007 }, { quantile: 99.9, value: 5.023 }], count: 4, sum: 20 }]);
  assert.deepEqual(values(find(fams, 'redis_errors_total')), [[{ err: 'ERR' }, 3], [{ err: 'WRONGTYPE' }, 1]]);
  assert.deepEqual(values(find(fams, 'redis_db_keys')), [[{ db: 'db0' }, 10], [{ db: 'db3' }, 1]]);
  assert.deepEqual(values(find(fams, 'redis_db_keys_expiring')), [[{ db: 'db0' }, 2], [{ db: 'db3' }, 0]]);
  assert.deepEqual(values(find(fams, 'redis_db_avg_ttl_seconds')), [[{ db: 'db0' }, 5], [{ db: 'db3' }, 0]]);
  const slave = { slave_ip: '127.0.0.1', slave_port: '6381', slave_state: 'online' };
  assert.deepEqual(values(find(fams, 'redis_connected_slave_offset_bytes')), [[slave, 560]]);
  assert.deepEqual(values(find(fams, 'redis_connected_slave_lag_seconds')), [[slave, 1]]);
  assert.deepEqual(values(find(fams, 'redis_connected_slaves')), [[{}, 1]]);
  const info = find(fams, 'redis_instance_info');
  assert.equal(info.type, 'info');
  assert.deepEqual(info.metrics[0].labels, { role: 'master', redis_version: '7.0.15', redis_build_id: '', redis_mode: 'standalone', os: 'Linux', maxmemory_policy: 'noeviction', tcp_port: '6380', run_id: 'abc', process_id: '42' }, 'redis_exporter 1.45 labels: no master_replid');
});

test('a replica reports its link and master', () => {
  const fams = parseRedisInfo('# Replication\nrole:slave\nmaster_host:10.0.0.1\nmaster_port:6379\nmaster_link_status:down\nmaster_last_io_seconds_ago:3\nmaster_sync_in_progress:0\nslave_read_only:1\nslave_repl_offset:9\n# Stats\nsync_full:2\nsync_partial_ok:1\nsync_partial_err:4\n');
  // As redis_exporter: the replica's link families carry the master, and sync_* use its replica_* names.
  const master = { master_host: '10.0.0.1', master_port: '6379' };
  assert.deepEqual(values(find(fams, 'redis_master_link_up')), [[master, 0]]);
  assert.deepEqual(values(find(fams, 'redis_master_last_io_seconds_ago')), [[master, 3]]);
  assert.deepEqual(values(find(fams, 'redis_master_sync_in_progress')), [[master, 0]]);
  assert.deepEqual(values(find(fams, 'redis_slave_repl_offset')), [[master, 9]]);
  assert.deepEqual(values(find(fams, 'redis_replica_resyncs_full')), [[{}, 2]]);
  assert.deepEqual(values(find(fams, 'redis_replica_partial_resync_accepted')), [[{}, 1]]);
  assert.deepEqual(values(find(fams, 'redis_replica_partial_resync_denied')), [[{}, 4]]);
  assert.deepEqual(find(fams, 'redis_slave_info').metrics[0].labels, { master_host: '10.0.0.1', master_port: '6379', read_only: '1' });
});

test('the namespace option prefixes every family', () => {
  assert.ok(parseRedisInfo(INFO, 'cache').every((f) => f.name.startsWith('cache_')));
});

test('nginx stub_status maps to nginx-prometheus-exporter names', () => {
  const fams = parseStubStatus('Active connections: 2 \nserver accepts handled requests\n 10 9 31 \nReading: 0 Writing: 1 Waiting: 1 \n');
  const got = Object.fromEntries(fams.map((f) => [f.name, [f.type, f.metrics[0].value]]));
  assert.deepEqual(got, {
    nginx_up: ['gauge', 1], nginx_connections_active: ['gauge', 2], nginx_connections_accepted: ['counter', 10], nginx_connections_handled: ['counter', 9],
    nginx_http_requests_total: ['counter', 31], nginx_connections_reading: ['gauge', 0], nginx_connections_writing: ['gauge', 1], nginx_connections_waiting: ['gauge', 1],
  });
  assert.throws(() => parseStubStatus('<html>404</html>'), ProtocolError);
});
