/** @module /metrics: merge self, StatsD and source families without collisions, render in chunks across event-loop turns, gzip. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGzip } from 'node:zlib';
import { CONTENT_TYPE, negotiate, renderChunks, type Format } from '../../core/metrics/exposition.js';
import { labelKey, LABEL_NAME_RE, METRIC_NAME_RE, sanitizeName, type Labels, type Metric, type MetricFamily } from '../../core/metrics/model.js';
import { claimedNames } from '../store.js';

export interface Piece {
  family: MetricFamily;
  /** False for continuation pieces of a family already started (their HELP/TYPE lines are not repeated). */
  first: boolean;
}

export type ConflictReason = 'name_conflict' | 'duplicate_series' | 'invalid_name' | 'invalid_value';

const RESERVED_LABEL: Partial<Record<MetricFamily['type'], string>> = { histogram: 'le', summary: 'quantile' };

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A value as it will be written: a lone UTF-16 surrogate (a JSON source's `"\ud800"`) goes out as U+FFFD, so it is
 * made that before series are told apart, or `"\ud800"` and `"\udc00"` would be two series with one printed name.
 */
function labelValue(v: unknown): string {
  const s = String(v);
  return LONE_SURROGATE.test(s) ? s.replace(new RegExp(LONE_SURROGATE, 'g'), '\ufffd') : s;
}

function cleanLabels(labels: Labels, reserved: string | undefined): Labels {
  let ok = true;
  for (const k in labels) if (!LABEL_NAME_RE.test(k) || k.startsWith('__') || k === reserved || typeof labels[k] !== 'string' || LONE_SURROGATE.test(labels[k])) ok = false;
  if (ok) return labels;
  const out: Record<string, string> = {};
  for (const k in labels) {
    let n = sanitizeName(k, true);
    if (n.startsWith('__') || n === reserved) n = `exported_${n}`;
    out[n] = labelValue(labels[k]);
  }
  return out;
}

/**
 * Latest sample time every output can carry, ms: OTLP's unsigned 64-bit nanoseconds (year 2554). 0.0.4 text needs
 * digits only (Prometheus reads no sign, fraction or exponent there), so nothing negative either.
 */
const MAX_TIME_MS = Number(2n ** 64n / 1_000_000n) - 1;

function validTime(ms: unknown): boolean {
  return typeof ms === 'number' && ms >= 0 && Math.round(ms) <= MAX_TIME_MS;
}

function validMetric(f: MetricFamily, m: Metric): boolean {
  // A sample dated before 1970 or past what the outputs can write is dropped (Prometheus' TSDB refuses it anyway).
  if (m.timestampMs !== undefined && !validTime(m.timestampMs)) return false;
  switch (f.type) {
    case 'histogram':
      return Array.isArray(m.buckets) && m.buckets.length > 0 && m.buckets[m.buckets.length - 1].le === Infinity && m.buckets.every((b, i) => i === 0 || b.le > m.buckets![i - 1].le);
    case 'summary':
      return Array.isArray(m.quantiles ?? []);
    case 'info':
      return true;
    default:
      return typeof m.value === 'number';
  }
}

/**
 * Families from sources, made safe to print beside the others: names sanitized, families whose line names collide
 * with one already claimed dropped, duplicate series dropped, reserved labels renamed. Each drop is reported.
 */
export function sanitizeForeign(families: Iterable<MetricFamily>, claimed: (name: string) => boolean, claim: (name: string) => void, onConflict: (r: ConflictReason) => void): MetricFamily[] {
  const out: MetricFamily[] = [];
  for (const f0 of families) {
    if (!f0 || typeof f0.name !== 'string' || !Array.isArray(f0.metrics)) {
      onConflict('invalid_name');
      continue;
    }
    const name = METRIC_NAME_RE.test(f0.name) ? f0.name : sanitizeName(f0.name);
    const names = claimedNames(name, f0.type);
    if (names.some(claimed)) {
      onConflict('name_conflict');
      continue;
    }
    names.forEach(claim);
    const reserved = RESERVED_LABEL[f0.type];
    const seen = new Set<string>();
    const metrics: Metric[] = [];
    for (const m of f0.metrics) {
      if (!validMetric(f0, m)) {
        onConflict('invalid_value');
        continue;
      }
      const labels = cleanLabels(m.labels ?? {}, reserved);
      const key = labelKey(labels);
      if (seen.has(key)) {
        onConflict('duplicate_series');
        continue;
      }
      seen.add(key);
      // A start time no output can write (NaN, negative, far future) is forgotten; the sample stays.
      const created = m.created === undefined || validTime(m.created * 1000) ? m.created : undefined;
      metrics.push(labels === m.labels && created === m.created ? m : { ...m, labels, created });
    }
    out.push({ ...f0, name, help: typeof f0.help === 'string' ? f0.help : '', metrics });
  }
  return out;
}

/** Text of one piece: the full family for a first piece, sample lines only for a continuation. */
export function renderPiece(p: Piece, fmt: Format): string {
  if (p.family.metrics.length === 0) return '';
  const it = renderChunks([p.family], fmt);
  const r = it.next();
  const text = r.done ? '' : r.value;
  if (p.first) return text;
  let i = 0;
  while (text.startsWith('# ', i)) i = text.indexOf('\n', i) + 1;
  return text.slice(i);
}

export interface WriteOptions {
  /** Yield to the event loop after this much rendering, ms. Default 4. */
  sliceMs?: number;
}

/** Serve pieces as one exposition, negotiated from Accept and gzipped when asked; rendering yields to the event loop. */
export async function writeMetrics(req: IncomingMessage, res: ServerResponse, pieces: Iterable<Piece>, opts: WriteOptions = {}): Promise<void> {
  const fmt = negotiate(req.headers.accept);
  const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const headers: Record<string, string> = { 'content-type': CONTENT_TYPE[fmt], vary: 'Accept, Accept-Encoding' };
  if (gzip) headers['content-encoding'] = 'gzip';
  res.writeHead(200, headers);
  const z = gzip ? createGzip({ level: 1 }) : undefined;
  if (z) z.pipe(res);
  const sink: NodeJS.WritableStream = z ?? res;
  const sliceMs = opts.sliceMs ?? 4;
  let buf = '';
  let started = performance.now();
  const flush = async () => {
    if (buf === '') return;
    const ok = sink.write(buf);
    buf = '';
    if (!ok && !res.destroyed) {
      // A client that goes away mid-scrape must not leave this handler waiting for a drain that never comes.
      await new Promise<void>((r) => {
        const done = () => {
          sink.off('drain', done);
          res.off('close', done);
          r();
        };
        sink.once('drain', done);
        res.once('close', done);
      });
    }
  };
  for (const p of pieces) {
    if (res.destroyed) {
      z?.destroy();
      return;
    }
    buf += renderPiece(p, fmt);
    if (buf.length >= 1 << 16) await flush();
    if (performance.now() - started >= sliceMs) {
      await flush();
      await new Promise<void>((r) => setImmediate(r));
      started = performance.now();
    }
  }
  if (fmt === 'openmetrics') buf += '# EOF\n';
  await flush();
  sink.end();
}
