/**
 * @module Pure OTLP/protobuf encoder: MetricFamily[] → ExportMetricsServiceRequest bytes (opentelemetry-proto
 * metrics v1), cumulative temporality. Hand-written because @opentelemetry/otlp-transformer serializes only the
 * SDK's ResourceMetrics, whose data-point types have no Summary (and need an SDK Resource); our model has summaries.
 */
import type { Labels, Metric, MetricFamily } from '../../core/metrics/model.js';

/** Minimal protobuf writer: fragments are collected and joined once. */
class PB {
  parts: Buffer[] = [];
  len = 0;
  private push(b: Buffer): void {
    this.parts.push(b);
    this.len += b.length;
  }
  varint(n: number): void {
    const bytes: number[] = [];
    let v = n >>> 0 === n ? n : Math.floor(n);
    while (v > 0x7f) {
      bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    this.push(Buffer.from(bytes));
  }
  tag(field: number, wire: 0 | 1 | 2 | 5): void {
    this.varint(field * 8 + wire);
  }
  uint(field: number, v: number): void {
    this.tag(field, 0);
    this.varint(v);
  }
  fixed64(field: number, v: bigint): void {
    this.tag(field, 1);
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64LE(v < 0n ? 0n : v);
    this.push(b);
  }
  double(field: number, v: number): void {
    this.tag(field, 1);
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(v);
    this.push(b);
  }
  string(field: number, s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
  }
  message(field: number, sub: PB): void {
    this.tag(field, 2);
    this.varint(sub.len);
    for (const p of sub.parts) this.parts.push(p);
    this.len += sub.len;
  }
  packedDoubles(field: number, vs: readonly number[]): void {
    const b = Buffer.allocUnsafe(8 * vs.length);
    vs.forEach((v, i) => b.writeDoubleLE(v, i * 8));
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
  }
  packedFixed64(field: number, vs: readonly number[]): void {
    const b = Buffer.allocUnsafe(8 * vs.length);
    vs.forEach((v, i) => b.writeBigUInt64LE(BigInt(Math.max(0, Math.round(v))), i * 8));
    this.tag(field, 2);
    this.varint(b.length);
    this.push(b);
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.parts, this.len);
  }
}

export const AGGREGATION_TEMPORALITY_CUMULATIVE = 2;

export interface EncodeOptions {
  /** Resource attributes, e.g. service.name. */
  resource: Record<string, string>;
  scopeName: string;
  scopeVersion?: string;
  /** Export time in ms since the epoch (a sample's own timestampMs wins). */
  nowMs: number;
  /** Start time (ms) of one series: must stay stable across pushes for cumulative data. */
  startMs(family: MetricFamily, metric: Metric): number;
}

function keyValue(key: string, value: string): PB {
  const any = new PB();
  any.string(1, value); // AnyValue.string_value
  const kv = new PB();
  kv.string(1, key);
  kv.message(2, any);
  return kv;
}

function attributes(pb: PB, field: number, labels: Labels): void {
  for (const k in labels) pb.message(field, keyValue(k, labels[k]));
}

const nanos = (ms: number): bigint => BigInt(Math.round(ms)) * 1_000_000n;

function numberPoint(f: MetricFamily, m: Metric, o: EncodeOptions, value: number): PB {
  const p = new PB();
  p.fixed64(2, nanos(o.startMs(f, m)));
  p.fixed64(3, nanos(m.timestampMs ?? o.nowMs));
  p.double(4, value);
  attributes(p, 7, m.labels);
  return p;
}

function histogramPoint(f: MetricFamily, m: Metric, o: EncodeOptions): PB {
  const p = new PB();
  const cum = m.buckets ?? [];
  const bounds: number[] = [];
  const counts: number[] = [];
  let prev = 0;
  for (const b of cum) {
    if (b.le !== Infinity) bounds.push(b.le);
    counts.push(Math.max(0, b.count - prev)); // OTLP buckets are per-bucket, the model's are cumulative
    prev = b.count;
  }
  const count = m.count ?? prev;
  if (cum.length === 0 || cum[cum.length - 1].le !== Infinity) counts.push(Math.max(0, count - prev));
  p.fixed64(2, nanos(o.startMs(f, m)));
  p.fixed64(3, nanos(m.timestampMs ?? o.nowMs));
  p.fixed64(4, BigInt(Math.max(0, Math.round(count))));
  p.double(5, m.sum ?? 0);
  p.packedFixed64(6, counts);
  if (bounds.length > 0) p.packedDoubles(7, bounds);
  attributes(p, 9, m.labels);
  return p;
}

function summaryPoint(f: MetricFamily, m: Metric, o: EncodeOptions): PB {
  const p = new PB();
  p.fixed64(2, nanos(o.startMs(f, m)));
  p.fixed64(3, nanos(m.timestampMs ?? o.nowMs));
  p.fixed64(4, BigInt(Math.max(0, Math.round(m.count ?? 0))));
  p.double(5, m.sum ?? 0);
  for (const q of m.quantiles ?? []) {
    const vq = new PB();
    vq.double(1, q.quantile);
    vq.double(2, q.value);
    p.message(6, vq);
  }
  attributes(p, 7, m.labels);
  return p;
}

/** One Metric message, or undefined for a family with no series. */
function encodeFamily(f: MetricFamily, o: EncodeOptions): PB | undefined {
  if (f.metrics.length === 0) return undefined;
  const metric = new PB();
  metric.string(1, f.name);
  if (f.help) metric.string(2, f.help);
  if (f.unit) metric.string(3, f.unit);
  const data = new PB();
  switch (f.type) {
    case 'counter':
      for (const m of f.metrics) data.message(1, numberPoint(f, m, o, m.value ?? 0));
      data.uint(2, AGGREGATION_TEMPORALITY_CUMULATIVE);
      data.uint(3, 1); // is_monotonic
      metric.message(7, data); // Sum
      break;
    case 'histogram':
      for (const m of f.metrics) data.message(1, histogramPoint(f, m, o));
      data.uint(2, AGGREGATION_TEMPORALITY_CUMULATIVE);
      metric.message(9, data);
      break;
    case 'summary':
      for (const m of f.metrics) data.message(1, summaryPoint(f, m, o));
      metric.message(11, data);
      break;
    default: // gauge, untyped, and info (value 1, the labels as attributes)
      for (const m of f.metrics) data.message(1, numberPoint(f, m, o, f.type === 'info' ? 1 : m.value ?? 0));
      metric.message(5, data); // Gauge
  }
  return metric;
}

/** Encode one ExportMetricsServiceRequest holding one resource and one scope. */
export function encodeMetricsRequest(families: Iterable<MetricFamily>, o: EncodeOptions): Uint8Array {
  const scope = new PB();
  scope.string(1, o.scopeName);
  if (o.scopeVersion) scope.string(2, o.scopeVersion);
  const scopeMetrics = new PB();
  scopeMetrics.message(1, scope);
  for (const f of families) {
    const m = encodeFamily(f, o);
    if (m) scopeMetrics.message(2, m);
  }
  const resource = new PB();
  for (const [k, v] of Object.entries(o.resource)) resource.message(1, keyValue(k, v));
  const rm = new PB();
  rm.message(1, resource);
  rm.message(2, scopeMetrics);
  const req = new PB();
  req.message(1, rm);
  return req.bytes();
}
