/** @module `podkit metrics-adapter`: StatsD and app sources → one normalized /metrics (and OTLP). `start(options) → Handle`. */
import { startHttpServer, sendText, type HttpHandle } from '../core/http.js';
import { describeError, ConfigError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import { CHANNELS, podkitChannel } from '../core/diagnostics.js';
import type { ComponentHandle, ReloadResult } from '../core/lifecycle.js';
import type { HostPort } from '../core/parse.js';
import type { MetricFamily } from '../core/metrics/model.js';
import { loadConfig, type AdapterConfig, type ConfigOverrides } from './config.js';
import { SeriesStore } from './store.js';
import { StatsdIngest } from './statsd/ingest.js';
import { startListeners, type Listeners } from './statsd-listeners.js';
import { SelfMetrics } from './self-metrics.js';
import { SourcesRunner } from './sources-runner.js';
import { sanitizeForeign, writeMetrics, type Piece } from './outputs/prometheus.js';
import { mergeSources } from './outputs/merge.js';
import type { SourceFactory } from './sources/source.js';
import { sourceFactories } from './sources/index.js';
import { startOtlp, type OtlpHandle } from './otlp-glue.js';

export { ConfigError };
export type { AdapterConfig, ConfigOverrides };

export interface Options {
  /** Path of the adapter YAML (re-read on reload). Default: none (flags and defaults only). */
  config?: string;
  /** An already-decoded config document instead of a file (tests, embedding). Default: none. */
  doc?: unknown;
  /** Flag-level overrides (statsd listeners, mapping file). Default: none. */
  overrides?: ConfigOverrides;
  /** HTTP bind for /metrics, /healthz, /readyz, POST /-/reload. Default 127.0.0.1:9102 (loopback: a safe default). */
  httpBind?: HostPort;
  /** Path of the metrics endpoint. Default /metrics. */
  metricsPath?: string;
  /** Source kinds by name. Default: the built-in sources (redis, nginx, json, prometheus, jolokia). */
  factories?: Record<string, SourceFactory<unknown>>;
  /** Default: silent. */
  log?: Logger;
}

export interface Handle extends ComponentHandle {
  /** The data plane: the StatsD UDP listener, else the TCP one (null when StatsD is off and only sources run). */
  readonly address: HostPort | null;
  /** The HTTP address actually bound (/metrics, /healthz, /-/reload). */
  readonly httpAddress: HostPort;
  /** The StatsD listeners actually bound (port 0 → the real port). */
  readonly statsd: { udp?: HostPort; tcp?: HostPort };
  readonly store: SeriesStore;
  readonly ingest: StatsdIngest;
  /** Every family /metrics would serve right now (sources collected). */
  collect(): Promise<MetricFamily[]>;
  /** Re-read the config and swap it atomically; on a bad config the old one stays and the result says why. */
  reload(): Promise<ReloadResult>;
  close(): Promise<void>;
}

/** Reload outcomes, published for the self-metrics (each event names its adapter: the channel is process-wide). */
const reloadChannel = podkitChannel(CHANNELS.adapterReload);

const sameHp = (a?: HostPort, b?: HostPort) => a?.host === b?.host && a?.port === b?.port;

export async function start(options: Options = {}): Promise<Handle> {
  const log = options.log ?? silentLogger;
  const factories = options.factories ?? sourceFactories;
  const load = () => loadConfig({ file: options.config, doc: options.doc, overrides: options.overrides, factories });
  let cfg = await load();

  const store = new SeriesStore({ maxSeries: cfg.limits.maxSeries, maxSeriesPerFamily: cfg.limits.maxSeriesPerFamily, setWindowMs: cfg.statsd.setWindowMs, maxSetMembers: cfg.limits.maxSetMembers, onDrop: (r) => self.drop(r) });
  const ingest = new StatsdIngest(store, cfg.statsd.mapping, cfg.statsd.tags, cfg.limits.ttlMs, { alwaysTotal: cfg.statsd.alwaysTotal });
  const self: SelfMetrics = new SelfMetrics(() => ingest.stats, store);
  store.reserve(self.names());
  const sources = new SourcesRunner(self, log);
  await sources.set(cfg.sources);

  let listeners: Listeners | undefined;
  let http: HttpHandle | undefined;
  let otlp: OtlpHandle | undefined;
  try {
    listeners = await startListeners(ingest, { udp: cfg.statsd.udp, tcp: cfg.statsd.tcp, unixgram: cfg.statsd.unixgram, readBuffer: cfg.statsd.readBuffer, log });
  } catch (err) {
    await sources.close();
    store.close();
    self.close();
    throw err;
  }

  /** Self, StatsD and source families as render pieces; collisions resolved in that order of precedence. */
  const pieces = async (): Promise<Iterable<Piece>> => {
    const names = sources.names;
    const fromSources = mergeSources((await sources.collect()).map((families, i) => ({ source: names[i], families })));
    const taken = new Set<string>(self.names());
    const foreign = sanitizeForeign(fromSources, (n) => taken.has(n) || store.owner(n) !== undefined, (n) => taken.add(n), (r) => self.conflict(r));
    const selfFams = self.registry.collect();
    return (function* () {
      for (const f of selfFams) yield { family: f, first: true };
      yield* store.pieces(1000);
      for (const f of foreign) yield { family: f, first: true };
    })();
  };

  const collectAll = async (): Promise<MetricFamily[]> => {
    const out: MetricFamily[] = [];
    for (const p of await pieces()) {
      if (p.first) out.push({ ...p.family, metrics: [...p.family.metrics] });
      else (out[out.length - 1].metrics as unknown[]).push(...p.family.metrics);
    }
    return out.filter((f) => f.metrics.length > 0);
  };

  let reloading: Promise<void> = Promise.resolve();
  const reload = (): Promise<void> => {
    const run = reloading.then(async () => {
      let next: AdapterConfig;
      try {
        next = await load();
      } catch (err) {
        reloadChannel.publish({ source: self, outcome: 'failure' });
        log.error('reload failed; keeping the running config', { error: describeError(err) });
        throw err;
      }
      const s = next.statsd;
      if (!sameHp(s.udp, cfg.statsd.udp) || !sameHp(s.tcp, cfg.statsd.tcp) || s.unixgram !== cfg.statsd.unixgram || s.readBuffer !== cfg.statsd.readBuffer) {
        try {
          listeners = await startListenersSwap(listeners, ingest, next, log);
        } catch (err) {
          // The new addresses could not be bound: put the old listeners back and report the reload as failed.
          listeners = await startListenersSwap(undefined, ingest, cfg, log).catch(() => undefined);
          reloadChannel.publish({ source: self, outcome: 'failure' });
          log.error('reload failed: cannot listen on the new StatsD addresses; keeping the old ones', { error: describeError(err) });
          throw err;
        }
      }
      ingest.setMapping(s.mapping, { alwaysTotal: s.alwaysTotal });
      ingest.styles = s.tags;
      ingest.defaultTtlMs = next.limits.ttlMs;
      Object.assign(store, { maxSeries: next.limits.maxSeries, maxSeriesPerFamily: next.limits.maxSeriesPerFamily, setWindowMs: s.setWindowMs, maxSetMembers: next.limits.maxSetMembers });
      await sources.set(next.sources);
      if (JSON.stringify(next.otlp) !== JSON.stringify(cfg.otlp)) {
        if (otlp) {
          const st = otlp.stats();
          self.otlpBase = { pushes: self.otlpBase.pushes + st.pushes, failures: self.otlpBase.failures + st.failures };
          await otlp.close();
        }
        otlp = next.otlp ? await startOtlp(next.otlp, collectAll, log) : undefined;
        self.otlp = otlp ? () => otlp!.stats() : undefined;
      }
      cfg = next;
      reloadChannel.publish({ source: self, outcome: 'success' });
      log.info('config reloaded', { mappings: s.mapping.mappings.length, sources: next.sources.length });
    });
    reloading = run.catch(() => undefined);
    return run;
  };

  try {
    http = await startHttpServer({
      bind: options.httpBind ?? { host: '127.0.0.1', port: 9102 },
      log,
      metricsPath: options.metricsPath ?? '/metrics',
      landing: {
        name: 'podkit metrics-adapter',
        description: 'StatsD, Redis INFO, nginx stub_status, JSON, Prometheus and JMX sources normalized into one /metrics (a drop-in for statsd_exporter and the exporters).',
        config: () => ({ file: options.config, ...cfg }),
      },
    });
    http.route('GET', options.metricsPath ?? '/metrics', async (req, res) => {
      let ps: Iterable<Piece>;
      try {
        ps = await pieces();
      } catch (err) {
        // Never a 500: fall back to what cannot fail.
        log.error('collecting failed; serving self-metrics only', { error: describeError(err) });
        ps = self.registry.collect().map((f) => ({ family: f, first: true }));
      }
      await writeMetrics(req, res, ps);
    });
    const onReload = async (_req: unknown, res: import('node:http').ServerResponse) => {
      try {
        await reload();
        sendText(res, 200, 'config reloaded\n');
      } catch (err) {
        sendText(res, 400, `reload failed, keeping the running config: ${describeError(err)}\n`);
      }
    };
    http.route('POST', '/-/reload', onReload);
    http.route('PUT', '/-/reload', onReload);
    if (cfg.otlp) {
      const o = await startOtlp(cfg.otlp, collectAll, log);
      otlp = o;
      self.otlp = () => o.stats();
    }
  } catch (err) {
    await listeners.close();
    await http?.close();
    await sources.close();
    store.close();
    self.close();
    throw err;
  }
  log.info('metrics-adapter started', { http: http.address, statsdUdp: listeners.udp, statsdUdpReceiver: listeners.udpReceiver, statsdTcp: listeners.tcp, mappings: cfg.statsd.mapping.mappings.length, sources: cfg.sources.length });

  const h = http;
  return {
    get address() {
      return listeners?.udp ?? listeners?.tcp ?? null;
    },
    httpAddress: h.address,
    get statsd() {
      return { udp: listeners?.udp, tcp: listeners?.tcp };
    },
    store,
    ingest,
    collect: collectAll,
    async reload(): Promise<ReloadResult> {
      try {
        await reload();
        return { ok: true, changed: ['config'] };
      } catch (err) {
        return { ok: false, changed: [], error: describeError(err) };
      }
    },
    async close() {
      await reloading;
      await otlp?.close();
      await listeners?.close();
      await h.close();
      await sources.close();
      store.close();
      self.close();
    },
  };
}

async function startListenersSwap(old: Listeners | undefined, ingest: StatsdIngest, next: AdapterConfig, log: Logger): Promise<Listeners> {
  // Close first: the new config may reuse the same ports.
  await old?.close();
  return startListeners(ingest, { udp: next.statsd.udp, tcp: next.statsd.tcp, unixgram: next.statsd.unixgram, readBuffer: next.statsd.readBuffer, log });
}
