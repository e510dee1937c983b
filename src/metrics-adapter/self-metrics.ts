/** @module The adapter's own metrics: packets, lines, parse errors by reason, drops, series, source scrapes, reloads. */
import { Registry, type Counter, type Gauge, type Histogram } from '../core/metrics/registry.js';
import { CHANNELS, onChannel } from '../core/diagnostics.js';
import type { MetricFamily } from '../core/metrics/model.js';
import { IngestStats, type IngestEvent } from './statsd/ingest.js';
import type { DropReason, SeriesStore } from './store.js';
import type { ConflictReason } from './outputs/prometheus.js';
import { claimedNames } from './store.js';

const P = 'podkit_metrics_adapter_';

export class SelfMetrics {
  readonly registry = new Registry();
  readonly drops = new Map<DropReason | 'mapping_drop', number>();
  readonly conflicts = new Map<ConflictReason, number>();
  readonly sourceUp: Gauge;
  readonly sourceErrors: Counter;
  /** Series cut by a source's max_series, and bodies refused by its max_body_size. */
  readonly sourceDropped: Counter;
  readonly sourceDuration: Histogram;
  readonly reloads: Counter;
  readonly lastReloadOk: Gauge;

  /** Set by the adapter when the OTLP output runs; totals survive output restarts on reload. */
  otlp: (() => { pushes: number; failures: number }) | undefined;
  otlpBase = { pushes: 0, failures: 0 };

  /** StatsD ingest counts, summed from the ingest events of this adapter. */
  private readonly ingest = new IngestStats();

  constructor(private readonly store: SeriesStore) {
    const r = this.registry;
    this.sourceUp = r.gauge({ name: 'up', help: 'Whether the last collection from a source succeeded (1) or failed (0).', labelNames: ['source'] });
    this.sourceErrors = r.counter({ name: `${P}source_errors_total`, help: 'Failed collections by source.', labelNames: ['source'] });
    this.sourceDropped = r.counter({ name: `${P}source_dropped_total`, help: "What a source's caps refused: series beyond max_series (series_limit), response bodies beyond max_body_size (body_size); lines the model cannot hold (unrepresentable).", labelNames: ['source', 'reason'] });
    this.sourceDuration = r.histogram({
      name: `${P}source_scrape_duration_seconds`,
      help: 'How long collecting from a source took.',
      labelNames: ['source'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    });
    this.reloads = r.counter({ name: `${P}config_reloads_total`, help: 'Config reloads by outcome.', labelNames: ['outcome'] });
    this.lastReloadOk = r.gauge({ name: `${P}config_last_reload_successful`, help: 'Whether the last config reload succeeded.' });
    this.lastReloadOk.set({}, 1);
    // Reload outcomes arrive as events from the adapter this instance belongs to (core/diagnostics.ts).
    this.unsubscribe = onChannel(CHANNELS.adapterReload, (m) => {
      const e = m as { source: unknown; outcome: 'success' | 'failure' };
      if (e.source !== this) return;
      this.reloads.inc({ outcome: e.outcome });
      this.lastReloadOk.set({}, e.outcome === 'success' ? 1 : 0);
    });
    // StatsD counts arrive the same way, as sums since the ingest's previous event (statsd/ingest.ts publishStats).
    this.offIngest = onChannel(CHANNELS.adapterIngest, (m) => {
      const e = m as IngestEvent;
      if (e.source === this) this.ingest.add(e.delta);
    });
    r.addCollector(() => this.collectStats());
  }

  private readonly unsubscribe: () => void;
  private readonly offIngest: () => void;

  close(): void {
    this.unsubscribe();
    this.offIngest();
  }

  drop(reason: DropReason | 'mapping_drop', n = 1): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + n);
  }

  conflict(reason: ConflictReason): void {
    this.conflicts.set(reason, (this.conflicts.get(reason) ?? 0) + 1);
  }

  private collectStats(): MetricFamily[] {
    const st = this.ingest;
    const byLabel = <K extends string>(m: Map<K, number>, label: string) => [...m].map(([k, v]) => ({ labels: { [label]: k }, value: v }));
    const drops = new Map(this.drops);
    if (st.mappedDrops) drops.set('mapping_drop', st.mappedDrops);
    return [
      { name: `${P}statsd_packets_total`, help: 'StatsD datagrams (UDP, unixgram) and stream chunks (TCP) received.', type: 'counter', metrics: Object.entries(st.packets).map(([t, v]) => ({ labels: { transport: t }, value: v })) },
      { name: `${P}statsd_bytes_total`, help: 'StatsD bytes received.', type: 'counter', metrics: [{ labels: {}, value: st.bytes }] },
      { name: `${P}statsd_lines_total`, help: 'StatsD lines received.', type: 'counter', metrics: [{ labels: {}, value: st.lines }] },
      { name: `${P}statsd_samples_total`, help: 'StatsD samples parsed, by StatsD type.', type: 'counter', metrics: Object.entries(st.events).map(([t, v]) => ({ labels: { type: t }, value: v })) },
      { name: `${P}statsd_parse_errors_total`, help: 'StatsD lines or samples dropped as malformed, by reason.', type: 'counter', metrics: byLabel(st.errors, 'reason') },
      { name: `${P}statsd_tag_errors_total`, help: 'Malformed StatsD tags skipped.', type: 'counter', metrics: [{ labels: {}, value: st.tagErrors }] },
      { name: `${P}statsd_udp_dropped_total`, help: 'StatsD UDP datagrams lost before parsing, by where: socket_buffer (kernel; raise read_buffer and net.core.rmem_max) or receive_ring (recvmmsg receiver).', type: 'counter', metrics: Object.entries(st.udpDrops).map(([w, v]) => ({ labels: { reason: w }, value: v })) },
      { name: `${P}statsd_tcp_connections_total`, help: 'StatsD TCP connections accepted.', type: 'counter', metrics: [{ labels: {}, value: st.tcpConnections }] },
      { name: `${P}statsd_tcp_connections_refused_total`, help: 'StatsD TCP connections closed at once because limits.max_tcp_connections were open.', type: 'counter', metrics: [{ labels: {}, value: st.tcpRefused }] },
      { name: `${P}dropped_samples_total`, help: 'Samples dropped by limits, type or name conflicts, or drop mappings, by reason.', type: 'counter', metrics: byLabel(drops, 'reason') },
      { name: `${P}conflicts_total`, help: 'Source families or series dropped at exposition time because they collided or were invalid, by reason.', type: 'counter', metrics: byLabel(this.conflicts, 'reason') },
      ...(this.otlp || this.otlpBase.pushes > 0
        ? [
            {
              name: `${P}otlp_pushes_total`,
              help: 'OTLP export requests by outcome.',
              type: 'counter' as const,
              metrics: (() => {
                const o = this.otlp?.() ?? { pushes: 0, failures: 0 };
                const pushes = this.otlpBase.pushes + o.pushes;
                const failures = this.otlpBase.failures + o.failures;
                return [
                  { labels: { outcome: 'success' }, value: pushes },
                  { labels: { outcome: 'failure' }, value: failures },
                ];
              })(),
            },
          ]
        : []),
      { name: `${P}series`, help: 'Series held in the StatsD store.', type: 'gauge', metrics: [{ labels: {}, value: this.store.size }] },
      { name: `${P}series_limit`, help: 'The configured global series cap.', type: 'gauge', metrics: [{ labels: {}, value: this.store.maxSeries }] },
      { name: `${P}families`, help: 'Metric families held in the StatsD store.', type: 'gauge', metrics: [{ labels: {}, value: this.store.families.size }] },
    ];
  }

  /** Every line name self-metrics write, so nothing else may use them. */
  names(): string[] {
    return this.registry.collect().flatMap((f) => claimedNames(f.name, f.type));
  }
}
