/** @module `podkit metrics-adapter`: StatsD and app sources → one normalized /metrics (and OTLP). `start(options) → Handle`. */
import { startHttpServer, sendText, type HttpHandle } from '../core/http.js';
import { describeError, ConfigError } from '../core/errors.js';
import { silentLogger, type Logger } from '../core/log.js';
import type { ComponentHandle, ReloadResult } from '../core/lifecycle.js';
import type { HostPort } from '../core/parse.js';
import type { MetricFamily } from '../core/metrics/model.js';
import { loadConfig, type AdapterConfig, type ConfigOverrides } from './config.js';
import { SeriesStore } from './store.js';
import { StatsdIngest } from './statsd/ingest.js';
import { reloader, startListenersFor, startOtlpFor, type Pipeline, type Running } from './reload.js';
import { SelfMetrics } from './self-metrics.js';
import { SourcesRunner } from './sources-runner.js';
import { sanitizeForeign, writeMetrics, type Piece } from './outputs/prometheus.js';
import { mergeSources } from './outputs/merge.js';
import type { SourceFactory } from './sources/source.js';
import { sourceFactories } from './sources/index.js';

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

/** The data path: the series store, the StatsD ingest that feeds it, the self-metrics, and the sources (started). */
async function openPipeline(cfg: AdapterConfig, log: Logger): Promise<Pipeline & { close(): Promise<void> }> {
  const store = new SeriesStore({ maxSeries: cfg.limits.maxSeries, maxSeriesPerFamily: cfg.limits.maxSeriesPerFamily, setWindowMs: cfg.statsd.setWindowMs, maxSetMembers: cfg.limits.maxSetMembers, onDrop: (r) => self.drop(r) });
  const ingest = new StatsdIngest(store, cfg.statsd.mapping, cfg.statsd.tags, cfg.limits.ttlMs, { alwaysTotal: cfg.statsd.alwaysTotal });
  const self: SelfMetrics = new SelfMetrics(store);
  store.reserve(self.names());
  const sources = new SourcesRunner(self, log);
  await sources.set(cfg.sources);
  return {
    store,
    ingest,
    self,
    sources,
    async close() {
      await sources.close();
      store.close();
      self.close();
    },
  };
}

/** The self-metrics' families, after the ingest has published its counts since the last scrape. */
function selfFamilies(p: Pipeline): MetricFamily[] {
  p.ingest.publishStats(p.self);
  return p.self.registry.collect();
}

/** What /metrics and OTLP serve: self, StatsD and source families, collisions resolved in that order of precedence. */
function exposition(p: Pipeline) {
  const pieces = async (): Promise<Iterable<Piece>> => {
    const names = p.sources.names;
    const fromSources = mergeSources((await p.sources.collect()).map((families, i) => ({ source: names[i], families })));
    const taken = new Set<string>(p.self.names());
    const foreign = sanitizeForeign(fromSources, (n) => taken.has(n) || p.store.owner(n) !== undefined, (n) => taken.add(n), (r) => p.self.conflict(r));
    const selfFams = selfFamilies(p);
    return (function* () {
      for (const f of selfFams) yield { family: f, first: true };
      yield* p.store.pieces(1000);
      for (const f of foreign) yield { family: f, first: true };
    })();
  };
  const collectAll = async (): Promise<MetricFamily[]> => {
    const out: MetricFamily[] = [];
    for (const piece of await pieces()) {
      if (piece.first) out.push({ ...piece.family, metrics: [...piece.family.metrics] });
      else (out[out.length - 1].metrics as unknown[]).push(...piece.family.metrics);
    }
    return out.filter((f) => f.metrics.length > 0);
  };
  return { pieces, collectAll };
}

/** The HTTP server: /metrics (never a 500), POST|PUT /-/reload, and the landing page. */
async function serveHttp(options: Options, p: Pipeline, run: Running, pieces: () => Promise<Iterable<Piece>>, reload: () => Promise<void>, log: Logger): Promise<HttpHandle> {
  const metricsPath = options.metricsPath ?? '/metrics';
  const http = await startHttpServer({
    bind: options.httpBind ?? { host: '127.0.0.1', port: 9102 },
    log,
    metricsPath,
    landing: {
      name: 'podkit metrics-adapter',
      description: 'StatsD, Redis INFO, nginx stub_status, JSON, Prometheus and JMX sources normalized into one /metrics (a drop-in for statsd_exporter and the exporters).',
      config: () => ({ file: options.config, ...run.cfg }),
    },
  });
  http.route('GET', metricsPath, async (req, res) => {
    let ps: Iterable<Piece>;
    try {
      ps = await pieces();
    } catch (err) {
      // Never a 500: fall back to what cannot fail.
      log.error('collecting failed; serving self-metrics only', { error: describeError(err) });
      ps = selfFamilies(p).map((f) => ({ family: f, first: true }));
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
  return http;
}

export async function start(options: Options = {}): Promise<Handle> {
  const log = options.log ?? silentLogger;
  const factories = options.factories ?? sourceFactories;
  const load = () => loadConfig({ file: options.config, doc: options.doc, overrides: options.overrides, factories });
  const run: Running = { cfg: await load() };
  const p = await openPipeline(run.cfg, log);
  try {
    run.listeners = await startListenersFor(p.ingest, run.cfg, log);
  } catch (err) {
    await p.close();
    throw err;
  }
  const { pieces, collectAll } = exposition(p);
  const reloads = reloader(p, run, load, collectAll, log);
  let http: HttpHandle | undefined;
  try {
    http = await serveHttp(options, p, run, pieces, reloads.reload, log);
    if (run.cfg.otlp) await startOtlpFor(p, run, run.cfg, collectAll, log);
  } catch (err) {
    await run.listeners.close();
    await http?.close();
    await p.close();
    throw err;
  }
  const { cfg, listeners } = run;
  log.info('metrics-adapter started', { http: http.address, statsdUdp: listeners.udp, statsdUdpReceiver: listeners.udpReceiver, statsdTcp: listeners.tcp, mappings: cfg.statsd.mapping.mappings.length, sources: cfg.sources.length });

  const h = http;
  return {
    get address() {
      return run.listeners?.udp ?? run.listeners?.tcp ?? null;
    },
    httpAddress: h.address,
    get statsd() {
      return { udp: run.listeners?.udp, tcp: run.listeners?.tcp };
    },
    store: p.store,
    ingest: p.ingest,
    collect: collectAll,
    async reload(): Promise<ReloadResult> {
      try {
        await reloads.reload();
        return { ok: true, changed: ['config'] };
      } catch (err) {
        return { ok: false, changed: [], error: describeError(err) };
      }
    },
    async close() {
      await reloads.settled();
      await run.otlp?.close();
      await run.listeners?.close();
      await h.close();
      await p.close();
    },
  };
}
