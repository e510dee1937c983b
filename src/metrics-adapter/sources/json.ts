/** @module Source `json`: select values from a JSON document with path rules (json_exporter's module config as the model). */
import { ConfigError } from '../../core/errors.js';
import { labelKey, LABEL_NAME_RE, METRIC_NAME_RE, type Metric, type MetricFamily } from '../../core/metrics/model.js';
import type { Source, SourceFactory } from './source.js';
import { fetchText } from './http.js';
import { compilePath, JsonNumber, parseJson, select, type CompiledPath, type Json } from './json-path.js';
import { asObject, join, onlyKeys, optArray, optString, optStringMap, reqString, reqUrl } from './options.js';

type LabelSpec = { kind: 'static'; value: string } | { kind: 'key' } | { kind: 'path'; path: CompiledPath } | { kind: 'template'; parts: Array<string | CompiledPath> };
type ValueSpec = { kind: 'const'; value: number } | { kind: 'path'; path: CompiledPath; source: string };

export interface JsonMetricRule {
  name: string;
  help: string;
  /** `value`: the path selects values; `object`: the path selects objects and `values` picks from each. */
  type: 'value' | 'object';
  valuetype: 'gauge' | 'counter' | 'untyped';
  path: CompiledPath;
  labels: Array<[string, LabelSpec]>;
  /** Suffix → value; the empty suffix means the metric name itself. */
  values: Array<[string, ValueSpec]>;
  /** String value → number, for every value of this rule (`value_map`), or per value path (`valueconverter`). */
  valueMap: Record<string, number>;
  converters: Record<string, Record<string, number>>;
}

export interface JsonOptions {
  url: string;
  headers: Record<string, string>;
  metrics: JsonMetricRule[];
}

function numberMap(raw: unknown, path: string): Record<string, number> {
  const o = asObject(raw, path);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(join(path, k), 'must be a number');
    out[k.toLowerCase()] = v;
  }
  return out;
}

function labelSpec(v: string, at: string): LabelSpec {
  if (v === '$key' || v === '{$key}') return { kind: 'key' };
  if (/^[$@]/.test(v.trim()) || /^\{[^{}]*\}$/.test(v.trim())) return { kind: 'path', path: compilePath(v, at) };
  // json_exporter-style template: text with {.path} parts, e.g. "planet-{.location}".
  if (/\{[^{}]*\}/.test(v)) return { kind: 'template', parts: v.split(/(\{[^{}]*\})/).filter((x) => x !== '').map((x) => (/^\{[^{}]*\}$/.test(x) ? compilePath(x, at) : x)) };
  return { kind: 'static', value: v };
}

function valueSpec(v: unknown, at: string): ValueSpec {
  if (typeof v === 'number') return { kind: 'const', value: v };
  if (typeof v === 'string' && /^[$@{]/.test(v.trim())) return { kind: 'path', path: compilePath(v, at), source: v };
  throw new ConfigError(at, 'must be a number or a path like $.field');
}

function parseRule(raw: unknown, path: string): JsonMetricRule {
  const o = asObject(raw, path);
  onlyKeys(o, ['name', 'help', 'type', 'valuetype', 'path', 'labels', 'value', 'values', 'value_map', 'valueconverter'], path);
  const name = reqString(o, 'name', path);
  if (!METRIC_NAME_RE.test(name)) throw new ConfigError(join(path, 'name'), `not a valid metric name: ${JSON.stringify(name)}`);
  const type = (optString(o, 'type', path) ?? 'value') as JsonMetricRule['type'];
  if (type !== 'value' && type !== 'object') throw new ConfigError(join(path, 'type'), 'must be value or object');
  const valuetype = (optString(o, 'valuetype', path) ?? 'untyped') as JsonMetricRule['valuetype'];
  if (!['gauge', 'counter', 'untyped'].includes(valuetype)) throw new ConfigError(join(path, 'valuetype'), 'must be gauge, counter or untyped');
  const labels: Array<[string, LabelSpec]> = Object.entries(optStringMap(o, 'labels', path) ?? {}).map(([k, v]) => {
    if (!LABEL_NAME_RE.test(k) || k.startsWith('__')) throw new ConfigError(join(join(path, 'labels'), k), 'not a valid label name');
    return [k, labelSpec(v, join(join(path, 'labels'), k))];
  });
  const values: Array<[string, ValueSpec]> = [];
  if (type === 'object') {
    if (o.values === undefined) throw new ConfigError(join(path, 'values'), 'is required when type is object');
    for (const [k, v] of Object.entries(asObject(o.values, join(path, 'values')))) {
      if (!/^[a-zA-Z0-9_]*$/.test(k)) throw new ConfigError(join(join(path, 'values'), k), 'must be a metric name suffix');
      values.push([k, valueSpec(v, join(join(path, 'values'), k))]);
    }
  } else {
    if (o.values !== undefined) throw new ConfigError(join(path, 'values'), 'only for type object');
    values.push(['', o.value === undefined ? { kind: 'path', path: compilePath('@', join(path, 'value')), source: '@' } : valueSpec(o.value, join(path, 'value'))]);
  }
  const converters: Record<string, Record<string, number>> = {};
  if (o.valueconverter !== undefined) {
    for (const [k, v] of Object.entries(asObject(o.valueconverter, join(path, 'valueconverter')))) converters[k] = numberMap(v, join(join(path, 'valueconverter'), k));
  }
  return {
    name, help: optString(o, 'help', path) ?? `JSON value ${name}`, type, valuetype, labels, values, converters,
    path: compilePath(reqString(o, 'path', path), join(path, 'path')),
    valueMap: o.value_map === undefined ? {} : numberMap(o.value_map, join(path, 'value_map')),
  };
}

export const jsonSource: SourceFactory<JsonOptions> = {
  kind: 'json',
  parseOptions(raw, path) {
    const o = asObject(raw, path);
    onlyKeys(o, ['url', 'headers', 'metrics'], path);
    const rules = optArray(o, 'metrics', path);
    if (!rules || rules.length === 0) throw new ConfigError(join(path, 'metrics'), 'needs at least one metric rule');
    return { url: reqUrl(o, 'url', path), headers: optStringMap(o, 'headers', path) ?? {}, metrics: rules.map((r, i) => parseRule(r, join(join(path, 'metrics'), i))) };
  },
  create(name, options, deps): Source {
    return {
      name,
      kind: 'json',
      async collect(signal) {
        const { text } = await fetchText(options.url, signal, { headers: { accept: 'application/json', ...options.headers } , maxBytes: deps.maxBodyBytes });
        return extractJson(parseJson(text), options.metrics);
      },
    };
  },
};

function labelText(v: Json | undefined): string {
  if (v === undefined || v === null) return '';
  if (v instanceof JsonNumber) return v.text; // every digit, even past 2^53
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function toNumber(v: Json | undefined, map: Record<string, number>): number | undefined {
  if (v instanceof JsonNumber) return Number(v.text);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const mapped = map[v.toLowerCase()];
    if (mapped !== undefined) return mapped;
    const n = Number(v);
    return v.trim() !== '' && !Number.isNaN(n) ? n : undefined;
  }
  return undefined;
}

/** Pure: apply the rules to a parsed document. Values that are not numbers (and not mapped) are skipped. */
export function extractJson(doc: Json, rules: readonly JsonMetricRule[]): MetricFamily[] {
  const fams = new Map<string, { f: MetricFamily; metrics: Metric[]; keys: Set<string> }>();
  for (const rule of rules) {
    for (const node of select(doc, rule.path)) {
      const labels: Record<string, string> = {};
      for (const [k, spec] of rule.labels) {
        if (spec.kind === 'static') labels[k] = spec.value;
        else if (spec.kind === 'key') labels[k] = node.key;
        else if (spec.kind === 'path') labels[k] = labelText(select(node.value, spec.path, node.key)[0]?.value);
        else labels[k] = spec.parts.map((p) => (typeof p === 'string' ? p : labelText(select(node.value, p, node.key)[0]?.value))).join('');
      }
      for (const [suffix, spec] of rule.values) {
        const name = suffix ? `${rule.name}_${suffix}` : rule.name;
        let value: number | undefined;
        if (spec.kind === 'const') value = spec.value;
        else value = toNumber(select(node.value, spec.path, node.key)[0]?.value, { ...rule.valueMap, ...(rule.converters[spec.source] ?? {}) });
        if (value === undefined) continue;
        let slot = fams.get(name);
        if (!slot) {
          slot = { f: { name, help: rule.help, type: rule.valuetype, metrics: [] }, metrics: [], keys: new Set() };
          fams.set(name, slot);
        } else if (slot.f.type !== rule.valuetype) continue;
        const key = labelKey(labels);
        if (slot.keys.has(key)) continue; // one series per label set: the first wins
        slot.keys.add(key);
        slot.metrics.push({ labels, value });
      }
    }
  }
  return [...fams.values()].filter((s) => s.metrics.length > 0).map((s) => ({ ...s.f, metrics: s.metrics }));
}
