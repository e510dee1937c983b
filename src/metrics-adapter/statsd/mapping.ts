/** @module statsd_exporter's mapping YAML, accepted unchanged: validation (errors name the YAML path) and matching. Pure. */
import { ConfigError } from '../../core/errors.js';
import { DEFAULT_BUCKETS, LABEL_NAME_RE } from '../../core/metrics/model.js';
import { parseDuration } from '../../core/parse.js';
import { escapeMetricName, own, type StatType } from './parser.js';

export type MatchMetricType = 'counter' | 'gauge' | 'observer';
export type ObserverType = 'histogram' | 'summary';

export interface QuantileObjective {
  quantile: number;
  error: number;
}

export interface SummaryOptions {
  quantiles: QuantileObjective[];
  /** How long an observation counts towards quantiles, ms. Default 10 minutes (client_golang's default). */
  maxAgeMs: number;
  /** How many observations are kept per series for quantiles. Default 500. */
  bufCap: number;
}

export interface Mapping {
  match: string;
  matchType: 'glob' | 'regex';
  name: string;
  labels: Array<[string, string]>;
  matchMetricType?: MatchMetricType;
  observerType: ObserverType;
  buckets: number[];
  summary: SummaryOptions;
  action: 'map' | 'drop';
  /** 0 = never expires. */
  ttlMs: number;
  help?: string;
  honorLabels: boolean;
  /** Multiplies every value the mapping matches (statsd_exporter's `scale`); undefined = as sent. */
  scale?: number;
  re: RegExp;
  /** Number of literal (non-`*`) characters, for glob_disable_ordering's "literal beats wildcard". */
  specificity: number;
}

export interface MappingConfig {
  mappings: Mapping[];
  defaults: { observerType: ObserverType; buckets: number[]; summary: SummaryOptions; ttlMs: number; matchType: 'glob' | 'regex'; globDisableOrdering: boolean };
}

/** The outcome of matching one StatsD name. */
export interface MapResult {
  name: string;
  labels: Array<[string, string]>;
  mapping?: Mapping;
  /** An `action: drop` mapping matched, or the name template expanded to nothing (`empty`). */
  drop: boolean;
  empty?: boolean;
}

export interface MapperOptions {
  /** Bound of the match cache. Default 10,000 names. */
  cacheSize?: number;
  /** Give every counter a `_total` suffix (podkit's earlier naming); default off, names as statsd_exporter makes them. */
  alwaysTotal?: boolean;
}

export const DEFAULT_QUANTILES: QuantileObjective[] = [
  { quantile: 0.5, error: 0.05 },
  { quantile: 0.9, error: 0.01 },
  { quantile: 0.99, error: 0.001 },
];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function only(o: Obj, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ConfigError(`${path}.${k}`, `unknown setting (known: ${keys.join(', ')})`);
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new ConfigError(path, 'expected a string');
  return v;
}
function bool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new ConfigError(path, 'expected true or false');
  return v;
}
function num(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(path, 'expected a number');
  return v;
}
function duration(v: unknown, path: string): number {
  if (typeof v === 'number' && v >= 0) return v * 1000;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || ms < 0) throw new ConfigError(path, 'expected a duration like 30s or 1m20s');
  return ms;
}
function buckets(v: unknown, path: string): number[] {
  if (!Array.isArray(v)) throw new ConfigError(path, 'expected a list of numbers');
  const out = v.map((b, i) => num(b, `${path}[${i}]`)).filter((b) => b !== Infinity);
  for (let i = 1; i < out.length; i++) if (out[i] <= out[i - 1]) throw new ConfigError(path, 'buckets must be in increasing order');
  return out;
}
function quantiles(v: unknown, path: string): QuantileObjective[] {
  if (!Array.isArray(v)) throw new ConfigError(path, 'expected a list of {quantile, error}');
  return v.map((q, i) => {
    const p = `${path}[${i}]`;
    if (!isObj(q)) throw new ConfigError(p, 'expected {quantile, error}');
    only(q, p, ['quantile', 'error']);
    const quantile = num(q.quantile, `${p}.quantile`);
    if (quantile < 0 || quantile > 1) throw new ConfigError(`${p}.quantile`, 'must be between 0 and 1');
    return { quantile, error: q.error === undefined ? 0.01 : num(q.error, `${p}.error`) };
  });
}
function observerType(v: unknown, path: string): ObserverType | undefined {
  if (v === undefined || v === '') return undefined;
  if (v === 'histogram' || v === 'summary') return v;
  throw new ConfigError(path, 'expected histogram or summary');
}
function summaryOptions(v: unknown, path: string, base: SummaryOptions): SummaryOptions {
  if (v === undefined || v === null) return base;
  if (!isObj(v)) throw new ConfigError(path, 'expected a mapping');
  only(v, path, ['quantiles', 'max_age', 'age_buckets', 'buf_cap']);
  const q = v.quantiles === undefined ? [] : quantiles(v.quantiles, `${path}.quantiles`);
  const bufCap = v.buf_cap === undefined || v.buf_cap === 0 ? base.bufCap : num(v.buf_cap, `${path}.buf_cap`);
  if (bufCap < 1 || bufCap > 100_000) throw new ConfigError(`${path}.buf_cap`, 'must be between 1 and 100000');
  return { quantiles: q.length ? q : base.quantiles, maxAgeMs: v.max_age === undefined ? base.maxAgeMs : duration(v.max_age, `${path}.max_age`) || base.maxAgeMs, bufCap };
}
function histogramBuckets(v: unknown, path: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw new ConfigError(path, 'expected a mapping');
  only(v, path, ['buckets', 'native_histogram_bucket_factor', 'native_histogram_max_buckets']);
  return v.buckets === undefined ? undefined : buckets(v.buckets, `${path}.buckets`);
}

/** Turn a glob (`a.*.c`, `*` within one dot-separated part) into an anchored RegExp with one group per `*`. */
export function globToRegExp(glob: string): RegExp {
  let src = '^';
  for (const ch of glob) src += ch === '*' ? '([^.]*)' : ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  return new RegExp(`${src}$`);
}

const GLOB_RE = /^[a-zA-Z0-9_:*\-.]+$/;
const NAME_TEMPLATE_RE = /^([a-zA-Z_:]|\$\{?\w+\}?)([a-zA-Z0-9_:]|\$\{?\w+\}?)*$/;

/** Parse and validate a statsd_exporter mapping document (the YAML already decoded). `path` prefixes error paths. */
export function parseMappingConfig(doc: unknown, path = ''): MappingConfig {
  const p = (k: string) => (path ? `${path}.${k}` : k);
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw new ConfigError(path || '(root)', 'expected a mapping with "defaults" and "mappings"');
  only(doc, path || '(root)', ['defaults', 'mappings']);
  const d = doc.defaults ?? {};
  if (!isObj(d)) throw new ConfigError(p('defaults'), 'expected a mapping');
  const dp = p('defaults');
  only(d, dp, ['observer_type', 'timer_type', 'buckets', 'quantiles', 'histogram_options', 'summary_options', 'match_type', 'glob_disable_ordering', 'ttl']);
  const baseSummary: SummaryOptions = { quantiles: DEFAULT_QUANTILES, maxAgeMs: 600_000, bufCap: 500 };
  let dSummary = summaryOptions(d.summary_options, `${dp}.summary_options`, baseSummary);
  if (d.quantiles !== undefined) dSummary = { ...dSummary, quantiles: quantiles(d.quantiles, `${dp}.quantiles`) };
  const dBuckets = histogramBuckets(d.histogram_options, `${dp}.histogram_options`) ?? (d.buckets === undefined ? undefined : buckets(d.buckets, `${dp}.buckets`));
  const defaults: MappingConfig['defaults'] = {
    // statsd_exporter's historical default for timers is a summary.
    observerType: observerType(d.observer_type, `${dp}.observer_type`) ?? observerType(d.timer_type, `${dp}.timer_type`) ?? 'summary',
    buckets: dBuckets && dBuckets.length ? dBuckets : [...DEFAULT_BUCKETS],
    summary: dSummary,
    ttlMs: d.ttl === undefined ? 0 : duration(d.ttl, `${dp}.ttl`),
    matchType: d.match_type === undefined || d.match_type === '' ? 'glob' : d.match_type === 'glob' || d.match_type === 'regex' ? d.match_type : bad(`${dp}.match_type`, 'expected glob or regex'),
    globDisableOrdering: d.glob_disable_ordering === undefined ? false : bool(d.glob_disable_ordering, `${dp}.glob_disable_ordering`),
  };

  const list = doc.mappings ?? [];
  if (!Array.isArray(list)) throw new ConfigError(p('mappings'), 'expected a list');
  const mappings = list.map((m, i) => parseMapping(m, p(`mappings[${i}]`), defaults));
  return { mappings, defaults };
}

function bad(path: string, msg: string): never {
  throw new ConfigError(path, msg);
}

const MAPPING_KEYS = [
  'match', 'name', 'labels', 'help', 'match_type', 'match_metric_type', 'observer_type', 'timer_type', 'buckets', 'quantiles',
  'histogram_options', 'summary_options', 'action', 'ttl', 'honor_labels', 'scale',
] as const;

function parseMapping(m: unknown, mp: string, defaults: MappingConfig['defaults']): Mapping {
  if (!isObj(m)) throw new ConfigError(mp, 'expected a mapping');
  only(m, mp, MAPPING_KEYS);
  const match = str(m.match, `${mp}.match`);
  const matchType = m.match_type === undefined || m.match_type === '' ? defaults.matchType : m.match_type === 'glob' || m.match_type === 'regex' ? m.match_type : bad(`${mp}.match_type`, 'expected glob or regex');
  const action = m.action === undefined || m.action === '' ? 'map' : m.action === 'map' || m.action === 'drop' ? m.action : bad(`${mp}.action`, 'expected map or drop');
  const name = m.name === undefined && action === 'drop' ? 'dropped' : str(m.name, `${mp}.name`);
  if (name === '') throw new ConfigError(`${mp}.name`, 'a mapping needs a metric name');
  if (!NAME_TEMPLATE_RE.test(name)) throw new ConfigError(`${mp}.name`, `"${name}" is not a metric name (letters, digits, _ and $n captures)`);
  let re: RegExp;
  if (matchType === 'glob') {
    if (!GLOB_RE.test(match)) throw new ConfigError(`${mp}.match`, `invalid glob "${match}"`);
    re = globToRegExp(match);
  } else {
    try {
      // Go's RE2 spells named groups (?P<name>…); JavaScript wants (?<name>…).
      re = new RegExp(match.replace(/\(\?P</g, '(?<'));
    } catch (err) {
      throw new ConfigError(`${mp}.match`, `invalid regex: ${(err as Error).message}`);
    }
  }
  const labels: Array<[string, string]> = [];
  if (m.labels !== undefined && m.labels !== null) {
    if (!isObj(m.labels)) throw new ConfigError(`${mp}.labels`, 'expected a mapping of label name to value');
    for (const [k, v] of Object.entries(m.labels)) {
      if (!LABEL_NAME_RE.test(k) || k.startsWith('__')) throw new ConfigError(`${mp}.labels.${k}`, 'invalid label name');
      labels.push([k, typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : bad(`${mp}.labels.${k}`, 'expected a string')]);
    }
  }
  let mmt: MatchMetricType | undefined;
  if (m.match_metric_type !== undefined && m.match_metric_type !== '') {
    const t = m.match_metric_type;
    if (t === 'counter' || t === 'gauge' || t === 'observer') mmt = t;
    else if (t === 'timer' || t === 'histogram' || t === 'distribution') mmt = 'observer';
    else throw new ConfigError(`${mp}.match_metric_type`, 'expected counter, gauge or observer (timer)');
  }
  const ot = observerType(m.observer_type, `${mp}.observer_type`) ?? observerType(m.timer_type, `${mp}.timer_type`) ?? defaults.observerType;
  const hb = histogramBuckets(m.histogram_options, `${mp}.histogram_options`);
  const lb = m.buckets === undefined ? undefined : buckets(m.buckets, `${mp}.buckets`);
  if (hb && lb) throw new ConfigError(`${mp}.buckets`, 'cannot use buckets both at the top level and in histogram_options');
  let summary = summaryOptions(m.summary_options, `${mp}.summary_options`, defaults.summary);
  if (m.quantiles !== undefined) {
    if (isObj(m.summary_options) && m.summary_options.quantiles !== undefined) throw new ConfigError(`${mp}.quantiles`, 'cannot use quantiles both at the top level and in summary_options');
    const q = quantiles(m.quantiles, `${mp}.quantiles`);
    if (q.length) summary = { ...summary, quantiles: q };
  }
  if (ot === 'histogram' && m.summary_options !== undefined) throw new ConfigError(`${mp}.summary_options`, 'cannot use a histogram observer with summary_options');
  if (ot === 'summary' && m.histogram_options !== undefined) throw new ConfigError(`${mp}.histogram_options`, 'cannot use a summary observer with histogram_options');
  const b = hb ?? lb;
  return {
    match,
    matchType,
    name,
    labels,
    matchMetricType: mmt,
    observerType: ot,
    buckets: b && b.length ? b : defaults.buckets,
    summary,
    action,
    ttlMs: m.ttl === undefined ? defaults.ttlMs : duration(m.ttl, `${mp}.ttl`) || defaults.ttlMs,
    help: m.help === undefined ? undefined : str(m.help, `${mp}.help`),
    honorLabels: m.honor_labels === undefined ? false : bool(m.honor_labels, `${mp}.honor_labels`),
    scale: m.scale === undefined || m.scale === null ? undefined : num(m.scale, `${mp}.scale`),
    re,
    specificity: match.replace(/\*/g, '').length,
  };
}

/**
 * Expand `$n`, `${n}` (and, for regex matches, `$name`/`${name}`) in a template. A reference is the longest run of
 * name characters, as Go's Expand (regex) and statsd_exporter's glob formatter read it: `$1_foo` is the group
 * `1_foo`, which does not exist, so it expands to "" (write `${1}_foo`).
 */
export function expand(template: string, groups: RegExpExecArray, glob: boolean): string {
  if (!template.includes('$')) return template;
  const re = glob ? /\$\{?([a-zA-Z0-9_$]+)\}?()/g : /\$(?:\$|\{(\w+)\}|(\w+))/g;
  return template.replace(re, (all: string, a: string | undefined, b: string | undefined) => {
    if (all === '$$') return '$';
    const key = a ?? b ?? '';
    if (/^\d+$/.test(key)) return glob && key === '0' ? '' : (groups[Number(key)] ?? '');
    return groups.groups?.[key] ?? '';
  });
}

const TYPE_OF: Record<StatType, MatchMetricType> = { c: 'counter', g: 'gauge', s: 'gauge', ms: 'observer', h: 'observer', d: 'observer' };

/** Matches names against a mapping config; results are cached (bounded) per type+name. */
export class Mapper {
  private readonly globs: Mapping[];
  private readonly regexes: Mapping[];
  /** One cache per StatsD type, so a lookup needs no key building. */
  private caches: Record<StatType, Map<string, MapResult>> = { c: new Map(), g: new Map(), s: new Map(), ms: new Map(), h: new Map(), d: new Map() };
  private cached = 0;
  private readonly cacheSize: number;
  private readonly alwaysTotal: boolean;
  constructor(
    readonly config: MappingConfig,
    opts: MapperOptions = {},
  ) {
    this.cacheSize = opts.cacheSize ?? 10_000;
    this.alwaysTotal = opts.alwaysTotal ?? false;
    this.globs = config.mappings.filter((m) => m.matchType === 'glob');
    // With ordering disabled, a literal part beats a `*` (the more literal characters, the earlier).
    if (config.defaults.globDisableOrdering) this.globs.sort((a, b) => b.specificity - a.specificity);
    this.regexes = config.mappings.filter((m) => m.matchType === 'regex');
  }

  map(name: string, type: StatType): MapResult {
    const cache = this.caches[type];
    const hit = cache.get(name);
    if (hit) return hit;
    const r = this.compute(name, TYPE_OF[type]);
    // Opt-in: counters named <name>_total in the 0.0.4 text too (OpenMetrics adds the suffix to samples anyway).
    if (this.alwaysTotal && type === 'c' && !r.drop && !r.name.endsWith('_total')) r.name += '_total';
    if (this.cached >= this.cacheSize) {
      // Bounded: a burst of unique names must not grow memory; start over rather than track recency.
      for (const m of Object.values(this.caches)) m.clear();
      this.cached = 0;
    }
    cache.set(name, r);
    this.cached++;
    return r;
  }

  private compute(name: string, type: MatchMetricType): MapResult {
    for (const list of [this.globs, this.regexes]) {
      for (const m of list) {
        if (m.matchMetricType && m.matchMetricType !== type) continue;
        const g = m.re.exec(name);
        if (!g) continue;
        if (m.action === 'drop') return { name: '', labels: [], mapping: m, drop: true };
        const glob = m.matchType === 'glob';
        const mapped = escapeMetricName(expand(m.name, g, glob));
        // statsd_exporter drops the event (counted as empty_metric_name) rather than invent a name.
        if (mapped === '') return { name: '', labels: [], mapping: m, drop: true, empty: true };
        return { name: mapped, labels: m.labels.map(([k, v]) => [k, expand(v, g, glob)]), mapping: m, drop: false };
      }
    }
    return { name: own(escapeMetricName(name)), labels: [], drop: false };
  }
}
