/** @module The metric model shared by every component's self-metrics and by the metrics adapter. Pure data. */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'info' | 'untyped';

export type Labels = Readonly<Record<string, string>>;

export interface Bucket {
  /** Upper bound; the last bucket is +Infinity. */
  le: number;
  /** Cumulative count of observations ≤ le. */
  count: number;
}

export interface Quantile {
  quantile: number;
  value: number;
}

/** One series of a family. Which value fields are set depends on the family type. */
export interface Metric {
  labels: Labels;
  /** counter, gauge, untyped; info is always 1. */
  value?: number;
  /** histogram: cumulative buckets ending in +Inf, with sum and count. */
  buckets?: readonly Bucket[];
  /** summary: quantiles, with sum and count. */
  quantiles?: readonly Quantile[];
  sum?: number;
  count?: number;
  /** Unix seconds when the series started (OpenMetrics `_created`). */
  created?: number;
  /** Sample timestamp in ms since the epoch; omitted for "now". */
  timestampMs?: number;
}

export interface MetricFamily {
  /** Family name. A counter's name may end in `_total`; an info's in `_info` (writers add what each format needs). */
  name: string;
  help: string;
  type: MetricType;
  /** OpenMetrics unit; written only when the name ends in `_<unit>`. */
  unit?: string;
  metrics: readonly Metric[];
}

export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Replace characters a metric or label name cannot hold with `_` (and prefix a leading digit). */
export function sanitizeName(name: string, label = false): string {
  let s = name.replace(label ? /[^a-zA-Z0-9_]/g : /[^a-zA-Z0-9_:]/g, '_');
  if (s === '' || /^[0-9]/.test(s)) s = `_${s}`;
  return s;
}

/**
 * `name` without `suffix` (`_total` of a counter, `_info` of an info), the family name OpenMetrics writes. A name that
 * is only the suffix keeps it: an empty family name (`# TYPE  counter`) is no exposition at all.
 */
export function stripSuffix(name: string, suffix: string): string {
  return name.length > suffix.length && name.endsWith(suffix) ? name.slice(0, -suffix.length) : name;
}

/** Stable key of a label set, for maps of series. Sorted by name so key order does not matter. */
export function labelKey(labels: Labels): string {
  const names = Object.keys(labels);
  if (names.length === 0) return '';
  if (names.length > 1) names.sort();
  let k = '';
  for (const n of names) k += `${n}\u0000${labels[n]}\u0001`;
  return k;
}

/** Prometheus' default histogram buckets (seconds). */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
