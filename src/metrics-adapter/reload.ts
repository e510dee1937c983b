/** @module The adapter's config reload: re-read, swap the StatsD listeners if their addresses changed, then mapping, limits, sources and OTLP. */
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { CHANNELS, podkitChannel } from '../core/diagnostics.js';
import type { HostPort } from '../core/parse.js';
import type { MetricFamily } from '../core/metrics/model.js';
import type { AdapterConfig } from './config.js';
import type { SeriesStore } from './store.js';
import type { StatsdIngest } from './statsd/ingest.js';
import { startListeners, type Listeners } from './statsd-listeners.js';
import type { SelfMetrics } from './self-metrics.js';
import type { SourcesRunner } from './sources-runner.js';
import { startOtlp, type OtlpHandle } from './otlp-glue.js';

/** Reload outcomes, published for the self-metrics (each event names its adapter: the channel is process-wide). */
const reloadChannel = podkitChannel(CHANNELS.adapterReload);

const sameHp = (a?: HostPort, b?: HostPort) => a?.host === b?.host && a?.port === b?.port;

/** The parts of a running adapter that a reload keeps (store, ingest, self-metrics, sources). */
export interface Pipeline {
  store: SeriesStore;
  ingest: StatsdIngest;
  self: SelfMetrics;
  sources: SourcesRunner;
}

/** What a reload replaces: the config in force, the StatsD listeners and the OTLP pusher. */
export interface Running {
  cfg: AdapterConfig;
  listeners?: Listeners;
  otlp?: OtlpHandle;
}

export function startListenersFor(ingest: StatsdIngest, cfg: AdapterConfig, log: Logger): Promise<Listeners> {
  const s = cfg.statsd;
  return startListeners(ingest, { udp: s.udp, tcp: s.tcp, unixgram: s.unixgram, readBuffer: s.readBuffer, maxTcpConnections: cfg.limits.maxTcpConnections, log });
}

async function startListenersSwap(old: Listeners | undefined, ingest: StatsdIngest, next: AdapterConfig, log: Logger): Promise<Listeners> {
  // Close first: the new config may reuse the same ports.
  await old?.close();
  return startListenersFor(ingest, next, log);
}

/** Start the OTLP pusher of `cfg` (if any) and point the self-metrics at its counts. */
export async function startOtlpFor(p: Pipeline, run: Running, cfg: AdapterConfig, collect: () => Promise<MetricFamily[]>, log: Logger): Promise<void> {
  const o = cfg.otlp ? await startOtlp(cfg.otlp, collect, log) : undefined;
  run.otlp = o;
  p.self.otlp = o ? () => o.stats() : undefined;
}

/** Rebind the StatsD listeners when their addresses changed; if the new ones cannot be bound, the old ones come back and this throws. */
async function swapListeners(p: Pipeline, run: Running, next: AdapterConfig, log: Logger): Promise<void> {
  const s = next.statsd;
  const cur = run.cfg.statsd;
  if (sameHp(s.udp, cur.udp) && sameHp(s.tcp, cur.tcp) && s.unixgram === cur.unixgram && s.readBuffer === cur.readBuffer && next.limits.maxTcpConnections === run.cfg.limits.maxTcpConnections) return;
  try {
    run.listeners = await startListenersSwap(run.listeners, p.ingest, next, log);
  } catch (err) {
    run.listeners = await startListenersSwap(undefined, p.ingest, run.cfg, log).catch(() => undefined);
    throw err;
  }
}

/** A changed OTLP output restarts; its push totals carry over into the self-metrics. */
async function swapOtlp(p: Pipeline, run: Running, next: AdapterConfig, collect: () => Promise<MetricFamily[]>, log: Logger): Promise<void> {
  if (JSON.stringify(next.otlp) === JSON.stringify(run.cfg.otlp)) return;
  if (run.otlp) {
    const st = run.otlp.stats();
    p.self.otlpBase = { pushes: p.self.otlpBase.pushes + st.pushes, failures: p.self.otlpBase.failures + st.failures };
    await run.otlp.close();
  }
  await startOtlpFor(p, run, next, collect, log);
}

/**
 * The adapter's reload, one at a time (a second waits for the first): `reload()` rejects when the config could not
 * be read or the new listeners bound, keeping the running ones; `settled()` waits for any reload in flight.
 */
export function reloader(p: Pipeline, run: Running, load: () => Promise<AdapterConfig>, collect: () => Promise<MetricFamily[]>, log: Logger) {
  let reloading: Promise<void> = Promise.resolve();
  const once = async (): Promise<void> => {
    let next: AdapterConfig;
    try {
      next = await load();
    } catch (err) {
      reloadChannel.publish({ source: p.self, outcome: 'failure' });
      log.error('reload failed; keeping the running config', { error: describeError(err) });
      throw err;
    }
    try {
      await swapListeners(p, run, next, log);
    } catch (err) {
      reloadChannel.publish({ source: p.self, outcome: 'failure' });
      log.error('reload failed: cannot listen on the new StatsD addresses; keeping the old ones', { error: describeError(err) });
      throw err;
    }
    const s = next.statsd;
    p.ingest.setMapping(s.mapping, { alwaysTotal: s.alwaysTotal });
    p.ingest.styles = s.tags;
    p.ingest.defaultTtlMs = next.limits.ttlMs;
    Object.assign(p.store, { maxSeries: next.limits.maxSeries, maxSeriesPerFamily: next.limits.maxSeriesPerFamily, setWindowMs: s.setWindowMs, maxSetMembers: next.limits.maxSetMembers });
    await p.sources.set(next.sources);
    await swapOtlp(p, run, next, collect, log);
    run.cfg = next;
    reloadChannel.publish({ source: p.self, outcome: 'success' });
    log.info('config reloaded', { mappings: s.mapping.mappings.length, sources: next.sources.length });
  };
  return {
    reload(): Promise<void> {
      const r = reloading.then(once);
      reloading = r.catch(() => undefined);
      return r;
    },
    settled: () => reloading,
  };
}
