/** @module Pure parser: Redis `INFO ALL` text → MetricFamily[] named and labelled like oliver006/redis_exporter. No I/O. */
import type { Metric, MetricFamily, MetricType } from '../../core/metrics/model.js';

interface Field { name: string; type: 'counter' | 'gauge'; help?: string; factor?: number }

const g = (name: string, help?: string, factor?: number): Field => ({ name, type: 'gauge', help, factor });
const c = (name: string, help?: string, factor?: number): Field => ({ name, type: 'counter', help, factor });

/** INFO field → redis_exporter's metric (without the `redis_` namespace). */
const FIELDS: Record<string, Field> = {
  uptime_in_seconds: g('uptime_in_seconds'), process_id: g('process_id'), io_threads_active: g('io_threads_active'),
  connected_clients: g('connected_clients', 'Number of client connections'), blocked_clients: g('blocked_clients'),
  tracking_clients: g('tracking_clients'), clients_in_timeout_table: g('clients_in_timeout_table'), maxclients: g('max_clients'),
  client_recent_max_output_buffer: g('client_recent_max_output_buffer_bytes'), client_recent_max_input_buffer: g('client_recent_max_input_buffer_bytes'),
  used_memory: g('memory_used_bytes', 'Total bytes allocated by Redis'), used_memory_rss: g('memory_used_rss_bytes'), used_memory_peak: g('memory_used_peak_bytes'),
  used_memory_lua: g('memory_used_lua_bytes'), used_memory_vm_eval: g('memory_used_vm_eval_bytes'), used_memory_scripts_eval: g('memory_used_scripts_eval_bytes'),
  used_memory_overhead: g('memory_used_overhead_bytes'), used_memory_startup: g('memory_used_startup_bytes'), used_memory_dataset: g('memory_used_dataset_bytes'),
  used_memory_scripts: g('memory_used_scripts_bytes'), maxmemory: g('memory_max_bytes'), total_system_memory: g('total_system_memory_bytes'),
  mem_fragmentation_ratio: g('mem_fragmentation_ratio'), mem_fragmentation_bytes: g('mem_fragmentation_bytes'),
  mem_clients_slaves: g('mem_clients_slaves'), mem_clients_normal: g('mem_clients_normal'), mem_not_counted_for_evict: g('mem_not_counted_for_eviction_bytes'),
  number_of_cached_scripts: g('number_of_cached_scripts'), lazyfree_pending_objects: g('lazyfree_pending_objects'), active_defrag_running: g('active_defrag_running'),
  loading: g('loading_dump_file'), async_loading: g('async_loading'), rdb_changes_since_last_save: g('rdb_changes_since_last_save'),
  rdb_bgsave_in_progress: g('rdb_bgsave_in_progress'), rdb_last_save_time: g('rdb_last_save_timestamp_seconds'), rdb_last_bgsave_status: g('rdb_last_bgsave_status'),
  rdb_last_bgsave_time_sec: g('rdb_last_bgsave_duration_sec'), rdb_current_bgsave_time_sec: g('rdb_current_bgsave_duration_sec'),
  rdb_last_cow_size: g('rdb_last_cow_size_bytes'), rdb_saves: c('rdb_saves_total'), aof_enabled: g('aof_enabled'), aof_rewrite_in_progress: g('aof_rewrite_in_progress'),
  aof_rewrite_scheduled: g('aof_rewrite_scheduled'), aof_last_rewrite_time_sec: g('aof_last_rewrite_duration_sec'), aof_current_rewrite_time_sec: g('aof_current_rewrite_duration_sec'),
  aof_last_cow_size: g('aof_last_cow_size_bytes'), aof_last_bgrewrite_status: g('aof_last_bgrewrite_status'), aof_last_write_status: g('aof_last_write_status'),
  total_connections_received: c('connections_received_total'), total_commands_processed: c('commands_processed_total'),
  instantaneous_ops_per_sec: g('instantaneous_ops_per_sec'), instantaneous_input_kbps: g('instantaneous_input_kbps'), instantaneous_output_kbps: g('instantaneous_output_kbps'),
  total_net_input_bytes: c('net_input_bytes_total'), total_net_output_bytes: c('net_output_bytes_total'), rejected_connections: c('rejected_connections_total'),
  sync_full: g('replica_resyncs_full'), sync_partial_ok: g('replica_partial_resync_accepted'), sync_partial_err: g('replica_partial_resync_denied'),
  expired_keys: c('expired_keys_total'), expired_stale_perc: g('expired_stale_percentage'), expired_time_cap_reached_count: c('expired_time_cap_reached_total'),
  evicted_keys: c('evicted_keys_total'), evicted_clients: c('evicted_clients_total'), keyspace_hits: c('keyspace_hits_total'), keyspace_misses: c('keyspace_misses_total'),
  pubsub_channels: g('pubsub_channels'), pubsub_patterns: g('pubsub_patterns'), pubsubshard_channels: g('pubsubshard_channels'),
  latest_fork_usec: g('latest_fork_seconds', undefined, 1e-6), total_forks: c('forks_total'), migrate_cached_sockets: g('migrate_cached_sockets'),
  tracking_total_keys: g('tracking_total_keys'), tracking_total_items: g('tracking_total_items'), tracking_total_prefixes: g('tracking_total_prefixes'),
  total_error_replies: c('error_replies_total'), dump_payload_sanitizations: c('dump_payload_sanitizations_total'),
  total_reads_processed: c('reads_processed_total'), total_writes_processed: c('writes_processed_total'),
  io_threaded_reads_processed: c('io_threaded_reads_processed_total'), io_threaded_writes_processed: c('io_threaded_writes_processed_total'),
  connected_slaves: g('connected_slaves', 'Number of connected replicas'), master_repl_offset: g('master_repl_offset'), second_repl_offset: g('second_repl_offset'),
  repl_backlog_active: g('repl_backlog_is_active'), repl_backlog_size: g('replication_backlog_bytes'), repl_backlog_first_byte_offset: g('repl_backlog_first_byte_offset'),
  repl_backlog_histlen: g('repl_backlog_history_bytes'), master_last_io_seconds_ago: g('master_last_io_seconds_ago'), master_sync_in_progress: g('master_sync_in_progress'),
  slave_repl_offset: g('slave_repl_offset'), slave_priority: g('slave_priority'), replica_priority: g('slave_priority'),
  used_cpu_sys: c('cpu_sys_seconds_total'), used_cpu_user: c('cpu_user_seconds_total'), used_cpu_sys_children: c('cpu_sys_children_seconds_total'),
  used_cpu_user_children: c('cpu_user_children_seconds_total'), used_cpu_sys_main_thread: c('cpu_sys_main_thread_seconds_total'),
  used_cpu_user_main_thread: c('cpu_user_main_thread_seconds_total'), cluster_enabled: g('cluster_enabled'),
};

const INSTANCE_LABELS = ['role', 'redis_version', 'redis_build_id', 'redis_mode', 'os', 'maxmemory_policy', 'tcp_port', 'run_id', 'process_id'];

/** Split `k=v,k=v` (commandstats, keyspace, slaveN lines). */
function kv(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}

/** redis_exporter's value rules: numbers as numbers, ok/up/true → 1, err/down/false → 0, else skipped. */
function numeric(v: string): number | undefined {
  if (v === 'ok' || v === 'up' || v === 'true') return 1;
  if (v === 'err' || v === 'fail' || v === 'down' || v === 'false') return 0;
  if (v === '' || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(v)) return undefined;
  return Number(v);
}

class Families {
  private fams = new Map<string, { type: MetricType; help: string; metrics: Metric[] }>();
  add(name: string, type: MetricType, help: string, value: number, labels: Record<string, string> = {}): void {
    let f = this.fams.get(name);
    if (!f) this.fams.set(name, (f = { type, help, metrics: [] }));
    f.metrics.push({ labels, value });
  }
  addMetric(name: string, type: MetricType, help: string, m: Metric): void {
    let f = this.fams.get(name);
    if (!f) this.fams.set(name, (f = { type, help, metrics: [] }));
    f.metrics.push(m);
  }
  list(): MetricFamily[] {
    return [...this.fams].map(([name, f]) => ({ name, help: f.help, type: f.type, metrics: f.metrics }));
  }
}

/** Replica fields redis_exporter exports with master_host and master_port labels. */
const MASTER_LABELLED = new Set(['master_last_io_seconds_ago', 'master_sync_in_progress', 'slave_repl_offset']);

/** What parsing INFO gathers beyond the families it adds at once: every field, and the per-command latency and call counts. */
interface InfoState {
  fields: Record<string, string>;
  latency: Map<string, Array<{ quantile: number; value: number }>>;
  cmdCalls: Map<string, { calls: number; usec: number }>;
}

/** A line of a section that lists entries (commandstats, latencystats, errorstats, keyspace, connected replicas); false for other lines. */
function listLine(out: Families, ns: string, section: string, key: string, value: string, st: InfoState): boolean {
  if (section === 'commandstats' && key.startsWith('cmdstat_')) {
    const cmd = key.slice('cmdstat_'.length);
    const s = kv(value);
    st.cmdCalls.set(cmd, { calls: Number(s.calls ?? 0), usec: Number(s.usec ?? 0) });
    out.add(`${ns}_commands_total`, 'counter', 'Total number of calls per command', Number(s.calls ?? 0), { cmd });
    out.add(`${ns}_commands_duration_seconds_total`, 'counter', 'Total amount of time in seconds spent per command', Number(s.usec ?? 0) / 1e6, { cmd });
    if (s.rejected_calls !== undefined) out.add(`${ns}_commands_rejected_calls_total`, 'counter', 'Total number of rejected calls per command', Number(s.rejected_calls), { cmd });
    if (s.failed_calls !== undefined) out.add(`${ns}_commands_failed_calls_total`, 'counter', 'Total number of failed calls per command', Number(s.failed_calls), { cmd });
    return true;
  }
  if (section === 'latencystats' && key.startsWith('latency_percentiles_usec_')) {
    // redis_exporter keeps the percentile as the quantile label (p99.9 → quantile="99.9"); dashboards query that.
    const quantiles = Object.entries(kv(value)).map(([p, v]) => ({ quantile: Number(p.slice(1)), value: Number(v) })).filter((q) => Number.isFinite(q.quantile) && Number.isFinite(q.value));
    st.latency.set(key.slice('latency_percentiles_usec_'.length), quantiles);
    return true;
  }
  if (section === 'errorstats' && key.startsWith('errorstat_')) {
    out.add(`${ns}_errors_total`, 'counter', 'Total number of errors per error type', Number(kv(value).count ?? 0), { err: key.slice('errorstat_'.length) });
    return true;
  }
  if (section === 'keyspace' && /^db\d+$/.test(key)) {
    const s = kv(value);
    out.add(`${ns}_db_keys`, 'gauge', 'Total number of keys by DB', Number(s.keys ?? 0), { db: key });
    out.add(`${ns}_db_keys_expiring`, 'gauge', 'Total number of expiring keys by DB', Number(s.expires ?? 0), { db: key });
    if (s.avg_ttl !== undefined) out.add(`${ns}_db_avg_ttl_seconds`, 'gauge', 'Avg TTL in seconds', Number(s.avg_ttl) / 1000, { db: key });
    return true;
  }
  if (section === 'replication' && /^slave\d+$/.test(key)) {
    const s = kv(value);
    const labels = { slave_ip: s.ip ?? '', slave_port: s.port ?? '', slave_state: s.state ?? '' };
    if (s.offset !== undefined) out.add(`${ns}_connected_slave_offset_bytes`, 'gauge', 'Offset of connected slave', Number(s.offset), labels);
    if (s.lag !== undefined) out.add(`${ns}_connected_slave_lag_seconds`, 'gauge', 'Lag of connected slave', Number(s.lag), labels);
    return true;
  }
  return false;
}

/** The families drawn from the whole of INFO: empty databases, latency summaries, instance and replica info. */
function addDerived(out: Families, ns: string, databases: number, st: InfoState): void {
  const fields = st.fields;
  for (let i = 0; i < databases; i++) {
    if (fields[`db${i}`] !== undefined) continue;
    out.add(`${ns}_db_keys`, 'gauge', 'Total number of keys by DB', 0, { db: `db${i}` });
    out.add(`${ns}_db_keys_expiring`, 'gauge', 'Total number of expiring keys by DB', 0, { db: `db${i}` });
  }
  // redis_exporter's latency summaries: Latencystats percentiles, with count and sum (µs) from Commandstats.
  for (const [cmd, quantiles] of st.latency) {
    const c = st.cmdCalls.get(cmd);
    if (c) out.addMetric(`${ns}_latency_percentiles_usec`, 'summary', 'A summary of latency percentile distribution per command', { labels: { cmd }, quantiles: quantiles.sort((a, b) => a.quantile - b.quantile), count: c.calls, sum: c.usec });
  }
  const info: Record<string, string> = {};
  for (const l of INSTANCE_LABELS) info[l] = fields[l] ?? '';
  if (!info.redis_mode && fields.server_mode) info.redis_mode = fields.server_mode;
  out.add(`${ns}_instance_info`, 'info', 'Information about the Redis instance', 1, info);
  if (fields.role === 'slave' && fields.master_host !== undefined) {
    out.add(`${ns}_slave_info`, 'info', 'Information about the Redis slave', 1, { master_host: fields.master_host, master_port: fields.master_port ?? '', read_only: fields.slave_read_only ?? '' });
  }
}

/**
 * Parse INFO output. `ns` is the metric prefix (redis_exporter's `--namespace`, default `redis`); `databases` is
 * `CONFIG GET databases` (0 = unknown): databases INFO does not list (empty ones) then report 0 keys, as redis_exporter.
 */
export function parseRedisInfo(text: string, ns = 'redis', databases = 0): MetricFamily[] {
  const out = new Families();
  const st: InfoState = { fields: {}, latency: new Map(), cmdCalls: new Map() };
  const fields = st.fields;
  let section = '';
  out.add(`${ns}_up`, 'gauge', 'Information about the Redis instance: 1 when INFO was read', 1);
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      section = line.slice(1).trim().toLowerCase();
      continue;
    }
    const i = line.indexOf(':');
    if (i <= 0) continue;
    const key = line.slice(0, i);
    const value = line.slice(i + 1);
    fields[key] = value;
    if (listLine(out, ns, section, key, value, st)) continue;
    // On a replica, redis_exporter labels the link's families with the master (INFO lists master_host/port first).
    const master = section === 'replication' && fields.master_host !== undefined ? { master_host: fields.master_host, master_port: fields.master_port ?? '' } : undefined;
    if (key === 'master_link_status') {
      out.add(`${ns}_master_link_up`, 'gauge', 'Whether the link to the master is up', value === 'up' ? 1 : 0, master);
      continue;
    }
    const f = FIELDS[key];
    if (!f) continue;
    const v = numeric(value);
    if (v === undefined) continue;
    out.add(`${ns}_${f.name}`, f.type, f.help ?? `Redis INFO field ${key}`, f.factor ? v * f.factor : v, master && MASTER_LABELLED.has(key) ? master : undefined);
  }
  addDerived(out, ns, databases, st);
  return out.list();
}
