/** @module Pull sources collected at scrape time, each under its own deadline; a failure gives up{source}=0, never a broken scrape. */
import type { Logger } from '../core/log.js';
import type { MetricFamily } from '../core/metrics/model.js';
import { describeError, InternalError, TimeoutError } from '../core/errors.js';
import type { Source } from './sources/source.js';
import type { SourceConfig } from './config.js';
import type { SelfMetrics } from './self-metrics.js';
import { isBodyTooLarge } from './sources/http.js';

interface Running {
  cfg: SourceConfig;
  source: Source;
}

/**
 * Collects every source in parallel when /metrics is scraped (as the single-purpose exporters do), so values are
 * as fresh as the scrape. Concurrent scrapes (and OTLP pushes) share one collection.
 */
export class SourcesRunner {
  private running: Running[] = [];
  private inflight: Promise<MetricFamily[][]> | undefined;

  constructor(
    private readonly self: SelfMetrics,
    private readonly log: Logger,
  ) {}

  /** Replace the sources (start or reload); closes the old ones. */
  async set(configs: SourceConfig[]): Promise<void> {
    const old = this.running;
    this.running = configs.map((cfg) => ({ cfg, source: cfg.factory.create(cfg.name, cfg.options, {
        log: this.log.child({ source: cfg.name }),
        maxBodyBytes: cfg.maxBodyBytes,
        maxSeries: cfg.maxSeries,
        onTruncate: (n) => this.self.sourceDropped.inc({ source: cfg.name, reason: 'series_limit' }, n),
        onSkip: () => this.self.sourceDropped.inc({ source: cfg.name, reason: 'unrepresentable' }),
      }) }));
    const keep = new Set(configs.map((c) => c.name));
    for (const { cfg } of old) if (!keep.has(cfg.name)) this.self.sourceUp.remove({ source: cfg.name });
    await Promise.all(old.map((r) => r.source.close?.().catch((err: unknown) => this.log.warn('closing source failed', { source: r.cfg.name, error: describeError(err) }))));
  }

  /** Source names, in the order collect() returns their families. */
  get names(): string[] {
    return this.running.map((r) => r.cfg.name);
  }

  get size(): number {
    return this.running.length;
  }

  /** Collect from every source; resolves with each source's families (empty for a failed one). Never rejects. */
  collect(): Promise<MetricFamily[][]> {
    if (this.running.length === 0) return Promise.resolve([]);
    this.inflight ??= Promise.all(this.running.map((r) => this.one(r))).finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async one({ cfg, source }: Running): Promise<MetricFamily[]> {
    const ac = new AbortController();
    const t0 = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const e = new TimeoutError(`timed out after ${cfg.timeoutMs} ms`);
          ac.abort(e);
          reject(e);
        }, cfg.timeoutMs);
      });
      const fams = await Promise.race([source.collect(ac.signal), deadline]);
      if (!Array.isArray(fams)) throw new InternalError('source returned no list of families');
      this.self.sourceUp.set({ source: cfg.name }, 1);
      return this.capped(cfg, fams);
    } catch (err) {
      this.self.sourceUp.set({ source: cfg.name }, 0);
      this.self.sourceErrors.inc({ source: cfg.name });
      if (isBodyTooLarge(err)) this.self.sourceDropped.inc({ source: cfg.name, reason: 'body_size' });
      this.log.warn('source collection failed', { source: cfg.name, kind: cfg.kind, error: describeError(err) });
      return source.down?.() ?? [];
    } finally {
      clearTimeout(timer);
      this.self.sourceDuration.observe({ source: cfg.name }, (performance.now() - t0) / 1000);
    }
  }

  /** At most max_series series from one collection, in the order the source gave them; the rest counted. */
  private capped(cfg: SourceConfig, fams: MetricFamily[]): MetricFamily[] {
    let left = cfg.maxSeries;
    let dropped = 0;
    const out: MetricFamily[] = [];
    for (const f of fams) {
      const n = Array.isArray(f?.metrics) ? f.metrics.length : 0;
      if (n <= left) {
        out.push(f);
        left -= n;
        continue;
      }
      dropped += n - left;
      if (left > 0) out.push({ ...f, metrics: f.metrics.slice(0, left) });
      left = 0;
    }
    if (dropped > 0) {
      this.self.sourceDropped.inc({ source: cfg.name, reason: 'series_limit' }, dropped);
      this.log.warn('source returned more series than max_series; the rest are dropped', { source: cfg.name, maxSeries: cfg.maxSeries, dropped });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.set([]);
  }
}
