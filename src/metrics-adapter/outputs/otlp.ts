/** @module OTLP/HTTP protobuf push of the adapter's families every interval, cumulative temporality, stable start times. */
import { gzipSync } from 'node:zlib';
import { ConfigError, UpstreamError } from '../../core/errors.js';
import { redactString, type Logger } from '../../core/log.js';
import { labelKey, type Metric, type MetricFamily } from '../../core/metrics/model.js';
import { encodeMetricsRequest } from './otlp-encode.js';

export interface OtlpPusherOptions {
  /** Collector URL. A bare origin (`http://host:4318`) gets `/v1/metrics` appended; any other path is used as is. */
  endpoint: string;
  /** Push period in ms. */
  intervalMs: number;
  /** Extra request headers (e.g. an API key); values are never logged. */
  headers?: Record<string, string>;
  /** Resource attributes. Default `{ 'service.name': 'podkit-metrics-adapter' }` (service.name added when missing). */
  resource?: Record<string, string>;
  /** gzip the body (Content-Encoding: gzip). Default none. */
  compression?: 'gzip' | 'none';
  /** Per-push timeout in ms. Default min(intervalMs, 10 s). */
  timeoutMs?: number;
  collect: () => MetricFamily[] | Promise<MetricFamily[]>;
  log: Logger;
  /** Clock, for tests. */
  now?: () => number;
}

export interface OtlpPusher {
  /** Stop the timer, push once more (best effort) and wait for in-flight pushes. */
  close(): Promise<void>;
  /** Push now; rejects when the push fails. */
  flush(): Promise<void>;
  /** Counters for self-metrics. */
  stats(): { pushes: number; failures: number; lastError?: string };
}

/** The endpoint a collector expects metrics on. */
export function metricsUrl(endpoint: string): string {
  let u: URL;
  try {
    u = new URL(endpoint);
  } catch {
    throw new ConfigError('outputs.otlp.endpoint', `not a URL: ${JSON.stringify(endpoint)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError('outputs.otlp.endpoint', 'must be http:// or https://');
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/metrics';
  return u.toString();
}

/**
 * Per series: the start time (ms) of its cumulative run and its last value, so a counter reset starts a new run. One
 * `pass(t)` per push gives the encoder its start-time function; `done()` then forgets the series that push did not
 * carry (gone from the store), so the map never outgrows it.
 */
class StartTimes {
  private starts = new Map<string, { startMs: number; last: number }>();
  private seen = new Map<string, { startMs: number; last: number }>();

  pass(t: number): (f: MetricFamily, m: Metric) => number {
    this.seen = new Map();
    return (f, m) => {
      const key = `${f.name}\u0002${labelKey(m.labels)}`;
      const cumulative = f.type === 'counter' || f.type === 'histogram' || f.type === 'summary';
      const cur = f.type === 'histogram' || f.type === 'summary' ? m.count ?? 0 : m.value ?? 0;
      let s = this.seen.get(key) ?? this.starts.get(key);
      if (m.created !== undefined) s = { startMs: m.created * 1000, last: cur };
      else if (!s) s = { startMs: Math.min(t, m.timestampMs ?? t), last: cur };
      else if (cumulative && cur < s.last) s = { startMs: t, last: cur }; // a reset starts a new cumulative run
      s.last = cur;
      this.seen.set(key, s);
      return s.startMs;
    };
  }

  done(): void {
    this.starts = this.seen;
  }
}

/** POST one encoded request (gzipped if configured); a network error or a non-2xx answer is an UpstreamError. */
async function post(url: string, shown: string, encoded: Uint8Array, opts: OtlpPusherOptions, timeoutMs: number): Promise<void> {
  let body = encoded;
  const headers: Record<string, string> = { 'content-type': 'application/x-protobuf', ...(opts.headers ?? {}) };
  if (opts.compression === 'gzip') {
    body = gzipSync(body);
    headers['content-encoding'] = 'gzip';
  }
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new UpstreamError(`OTLP push to ${shown}: ${cause?.code ?? (err as Error).message}`, { cause: err });
  }
  const text = await head(res, 200);
  if (res.status < 200 || res.status > 299) throw new UpstreamError(`OTLP push to ${shown}: HTTP ${res.status} ${text}`);
}

/**
 * At most `max` bytes of a response's body, as text (for an error message); the rest is not read: a collector that
 * answers with an endless or huge body costs one read, not memory or the push's timeout.
 */
async function head(res: Response, max: number): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    while (n < max) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      n += value.length;
    }
  } catch {
    // A body cut off or timed out: the status is what counts.
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(parts).toString('utf8', 0, Math.min(n, max));
}

export function startOtlpPusher(opts: OtlpPusherOptions): OtlpPusher {
  const url = metricsUrl(opts.endpoint);
  const shown = redactString(url);
  const now = opts.now ?? Date.now;
  const resource = { 'service.name': 'podkit-metrics-adapter', ...(opts.resource ?? {}) };
  const timeoutMs = opts.timeoutMs ?? Math.min(opts.intervalMs, 10_000);
  let pushes = 0;
  let failures = 0;
  let lastError: string | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  const starts = new StartTimes();
  const push = async (): Promise<void> => {
    const families = await opts.collect();
    const t = now();
    const body: Uint8Array = encodeMetricsRequest(families, { resource, scopeName: 'podkit.metrics-adapter', nowMs: t, startMs: starts.pass(t) });
    starts.done();
    await post(url, shown, body, opts, timeoutMs);
  };

  const pushCounted = (): Promise<void> => {
    const p = (inFlight ?? Promise.resolve()).then(push).then(
      () => {
        pushes++;
      },
      (err: unknown) => {
        failures++;
        lastError = (err as Error).message;
        throw err;
      },
    );
    inFlight = p.catch(() => undefined);
    return p;
  };

  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => {
      pushCounted()
        .catch((err: unknown) => opts.log.warn('OTLP push failed; the next push carries the same cumulative values', { err }))
        .finally(schedule);
    }, opts.intervalMs);
    timer.unref?.();
  };
  schedule();

  return {
    flush: pushCounted,
    stats: () => ({ pushes, failures, ...(lastError ? { lastError } : {}) }),
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      await pushCounted().catch((err: unknown) => opts.log.warn('final OTLP push failed', { err }));
    },
  };
}
