/** @module Pure parser for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text → MetricFamily[]. No I/O. */
import { ProtocolError } from '../../core/errors.js';
import { isGoInt64 } from '../../core/parse.js';
import { labelKey, METRIC_NAME_RE, type Bucket, type Labels, type Metric, type MetricFamily, type MetricType, type Quantile } from '../../core/metrics/model.js';

export type TextFormat = 'prometheus' | 'openmetrics';

const LABEL_NAME_AT = /[a-zA-Z_][a-zA-Z0-9_]*/y;

interface Series {
  labels: Labels;
  value?: number;
  buckets?: Bucket[];
  quantiles?: Quantile[];
  sum?: number;
  count?: number;
  created?: number;
  timestampMs?: number;
}

interface Fam {
  /** Name as declared by `# TYPE` (OpenMetrics counters and infos are declared without their suffix). */
  declared: string;
  help: string;
  type: MetricType;
  unit?: string;
  series: Map<string, Series>;
}

const TYPES: Record<string, MetricType> = {
  counter: 'counter', gauge: 'gauge', histogram: 'histogram', summary: 'summary', untyped: 'untyped', unknown: 'untyped', info: 'info',
  // OpenMetrics types our model has no twin for are kept as gauges, which is what their samples are.
  gaugehistogram: 'gauge', stateset: 'gauge',
};

/** Which sample-name suffixes belong to a family of each type. */
const SUFFIXES: Partial<Record<MetricType, readonly string[]>> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  summary: ['_sum', '_count', '_created'],
  info: ['_info'],
};

export interface ParseLimits {
  /** Stop parsing once this many series exist (a hostile body must not cost memory or time past the cap). */
  maxSeries?: number;
  /** Told how many sample lines were left unparsed because of maxSeries. */
  onTruncate?: (skippedLines: number) => void;
  /**
   * Told of each line Prometheus would read but the model cannot hold (a bucket without a readable `le`, a plain
   * sample of a histogram, a TYPE contradicting samples already read): skipped, where throwing would fail the whole
   * collection of a target Prometheus scrapes fine.
   */
  onSkip?: () => void;
}

/** Parse one exposition body. `format` decides timestamp units (ms vs s) and whether `# EOF` is expected. */
export function parseExposition(text: string, format: TextFormat = 'prometheus', limits: ParseLimits = {}): MetricFamily[] {
  const maxSeries = limits.maxSeries ?? Infinity;
  let total = 0;
  const om = format === 'openmetrics';
  const fams = new Map<string, Fam>();
  const famOf = (declared: string): Fam => {
    let f = fams.get(declared);
    if (!f) {
      f = { declared, help: '', type: 'untyped', series: new Map() };
      fams.set(declared, f);
    }
    return f;
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line === '' || /^\s*$/.test(line)) continue;
    const where = `line ${i + 1}`;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE|UNIT)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (line === '# EOF') break;
      if (!m) continue; // a plain comment
      const [, kw, name, rest = ''] = m;
      if (!METRIC_NAME_RE.test(name)) throw new ProtocolError(`${where}: bad metric name ${JSON.stringify(name)}`);
      const f = famOf(name);
      if (kw === 'HELP') f.help = unescapeHelp(rest);
      else if (kw === 'UNIT') f.unit = rest.trim() || undefined;
      else {
        const t = TYPES[rest.trim().toLowerCase()];
        if (!t) throw new ProtocolError(`${where}: unknown type ${JSON.stringify(rest.trim())}`);
        if (f.series.size > 0 && f.type !== t) limits.onSkip?.();
        else f.type = t;
      }
      continue;
    }
    if (total >= maxSeries) {
      // The cap is reached: count what is left (sample lines) without parsing it.
      let skipped = 0;
      for (let j = i; j < lines.length; j++) {
        const c = lines[j].charCodeAt(0);
        if (lines[j] === '# EOF') break;
        if (c !== 35 /* # */ && lines[j].trim() !== '') skipped++;
      }
      limits.onTruncate?.(skipped);
      break;
    }
    const s = parseSample(line, where, om);
    const { fam, suffix } = resolve(fams, s.name);
    const f = fam ?? famOf(s.name);
    const before = f.series.size;
    if (!addSample(f, suffix, s)) limits.onSkip?.();
    total += f.series.size - before;
  }
  const out: MetricFamily[] = [];
  for (const f of fams.values()) {
    if (f.series.size === 0) continue;
    let name = f.declared;
    if (f.type === 'counter' && om && !name.endsWith('_total')) name += '_total';
    if (f.type === 'info' && !name.endsWith('_info')) name += '_info';
    const metrics: Metric[] = [];
    for (const s of f.series.values()) {
      if (f.type === 'histogram' && s.buckets) {
        s.buckets.sort((a, b) => a.le - b.le);
        if (s.buckets.length === 0 || s.buckets[s.buckets.length - 1].le !== Infinity) s.buckets.push({ le: Infinity, count: s.count ?? 0 });
        s.count ??= s.buckets[s.buckets.length - 1].count;
      }
      if (f.type === 'summary' && s.quantiles) s.quantiles.sort((a, b) => a.quantile - b.quantile);
      metrics.push(s);
    }
    out.push({ name, help: f.help, type: f.type, ...(f.unit ? { unit: f.unit } : {}), metrics });
  }
  return out;
}

function resolve(fams: Map<string, Fam>, sample: string): { fam?: Fam; suffix: string } {
  const exact = fams.get(sample);
  if (exact && (exact.type !== 'info' || !sample.endsWith('_info'))) return { fam: exact, suffix: '' };
  for (const suffix of ['_bucket', '_sum', '_count', '_created', '_total', '_info']) {
    if (!sample.endsWith(suffix)) continue;
    const f = fams.get(sample.slice(0, -suffix.length));
    if (f && (SUFFIXES[f.type] ?? []).includes(suffix)) return { fam: f, suffix };
  }
  // Prometheus-text counters are declared with their `_total`; their `_created` sample still belongs to them.
  if (sample.endsWith('_created')) {
    const f = fams.get(`${sample.slice(0, -'_created'.length)}_total`);
    if (f && f.type === 'counter') return { fam: f, suffix: '_created' };
  }
  return { fam: exact, suffix: '' };
}

/** Adds one sample line to its family; false (nothing added) for a line the model cannot hold (see onSkip). */
function addSample(f: Fam, suffix: string, s: ParsedSample): boolean {
  let labels = s.labels;
  let le: number | undefined;
  let quantile: number | undefined;
  const observer = f.type === 'histogram' || f.type === 'summary';
  if (f.type === 'histogram' && suffix === '_bucket') {
    le = labels.le === undefined ? undefined : goFloat(labels.le);
    if (le === undefined) return false;
    labels = without(labels, 'le');
  } else if (f.type === 'summary' && suffix === '' && 'quantile' in labels) {
    quantile = goFloat(labels.quantile);
    if (quantile === undefined) return false;
    labels = without(labels, 'quantile');
  } else if (observer && suffix === '') return false;
  const key = labelKey(labels);
  let series = f.series.get(key);
  if (!series) {
    series = { labels };
    f.series.set(key, series);
  }
  // A sample line repeated in one body keeps its first value, as Prometheus' scrape does (it refuses the second as
  // a duplicate); a repeated bucket or quantile must not be served twice.
  if (s.timestampMs !== undefined) series.timestampMs ??= s.timestampMs;
  if (suffix === '_created') series.created ??= s.value;
  else if (le !== undefined) {
    if (!(series.buckets ??= []).some((b) => b.le === le)) series.buckets.push({ le, count: s.value });
  } else if (quantile !== undefined) {
    if (!(series.quantiles ??= []).some((q) => q.quantile === quantile)) series.quantiles.push({ quantile, value: s.value });
  } else if (suffix === '_sum') series.sum ??= s.value;
  else if (suffix === '_count') series.count ??= s.value;
  else series.value ??= f.type === 'info' ? 1 : s.value;
  if (observer) series.buckets ??= f.type === 'histogram' ? [] : undefined;
  if (f.type === 'summary') series.quantiles ??= [];
  return true;
}

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

/** One sample line: `name{a="b",…} value [timestamp] [# exemplar]`. */
export function parseSample(line: string, where: string, om: boolean): ParsedSample {
  let i = 0;
  const n = line.length;
  while (i < n && line[i] !== '{' && line[i] !== ' ' && line[i] !== '\t') i++;
  const name = line.slice(0, i);
  if (!METRIC_NAME_RE.test(name)) throw new ProtocolError(`${where}: bad metric name ${JSON.stringify(name)}`);
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    // Blanks (spaces, tabs) may stand between any two tokens inside the braces, as Prometheus' lexer allows.
    const blanks = () => {
      while (line[i] === ' ' || line[i] === '\t') i++;
    };
    for (;;) {
      blanks();
      if (line[i] === '}') { i++; break; }
      const start = i;
      LABEL_NAME_AT.lastIndex = i;
      const nm = LABEL_NAME_AT.exec(line);
      if (!nm) throw new ProtocolError(`${where}: bad label name at column ${start + 1}`);
      const lname = nm[0];
      i += lname.length;
      blanks();
      if (line[i] !== '=') throw new ProtocolError(`${where}: expected ="value" after label ${lname}`);
      i++;
      blanks();
      if (line[i] !== '"') throw new ProtocolError(`${where}: expected ="value" after label ${lname}`);
      i++;
      // Fast path: no escapes before the closing quote.
      const q = line.indexOf('"', i);
      const bs = line.indexOf('\\', i);
      let v: string;
      if (q >= 0 && (bs < 0 || bs > q)) {
        v = line.slice(i, q);
        i = q + 1;
      } else {
        v = '';
        for (;;) {
          if (i >= n) throw new ProtocolError(`${where}: unterminated label value`);
          const c = line[i++];
          if (c === '"') break;
          if (c === '\\') {
            const e = line[i++];
            v += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`;
          } else v += c;
        }
      }
      if (lname in labels) throw new ProtocolError(`${where}: duplicate label ${lname}`);
      labels[lname] = v;
      blanks();
      if (line[i] === ',') { i++; continue; }
      if (line[i] === '}') { i++; break; }
      throw new ProtocolError(`${where}: expected , or } in labels`);
    }
  }
  const rest = line.slice(i).trim();
  const hash = rest.indexOf('#'); // OpenMetrics exemplar (or a trailing comment): not kept
  const fields = (hash >= 0 ? rest.slice(0, hash) : rest).trim().split(/\s+/).filter(Boolean);
  if (fields.length < 1 || fields.length > 2) throw new ProtocolError(`${where}: expected a value and an optional timestamp`);
  const value = parseNumber(fields[0], where);
  let timestampMs: number | undefined;
  if (fields.length === 2) {
    // As Prometheus reads them: 0.0.4 timestamps are int64 milliseconds written as digits only (no sign, fraction or
    // exponent); OpenMetrics ones are seconds, any finite number.
    const t = om ? goFloat(fields[1]) : /^\d{1,19}$/.test(fields[1]) && isGoInt64(fields[1]) ? Number(fields[1]) : NaN;
    if (t === undefined || !Number.isFinite(t)) throw new ProtocolError(`${where}: bad timestamp ${JSON.stringify(fields[1])}`);
    timestampMs = om ? t * 1000 : t;
  }
  return { name, labels, value, ...(timestampMs !== undefined ? { timestampMs } : {}) };
}

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INFINITY = /^[+-]?inf(?:inity)?$/i;

/**
 * A number as Go's strconv.ParseFloat reads it with Prometheus' restrictions (no hex, no `_`): decimal, `Inf` or
 * `Infinity` with an optional sign, `NaN` without one, any case. A decimal beyond ±1.8e308 is an error there (not
 * ±Inf). Undefined for anything else (`0x10`, `1_000`, `Infinity1`, ` 1`), which Number() would have taken.
 */
function goFloat(s: string): number | undefined {
  if (DECIMAL.test(s)) {
    const v = Number(s);
    return Number.isFinite(v) ? v : undefined;
  }
  if (INFINITY.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  return /^nan$/i.test(s) ? NaN : undefined;
}

function parseNumber(s: string, where: string): number {
  const v = goFloat(s);
  if (v === undefined) throw new ProtocolError(`${where}: bad value ${JSON.stringify(s)}`);
  return v;
}

function unescapeHelp(s: string): string {
  return s.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

function without(labels: Labels, name: string): Labels {
  const out: Record<string, string> = {};
  for (const k in labels) if (k !== name) out[k] = labels[k];
  return out;
}
