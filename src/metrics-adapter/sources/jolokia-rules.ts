/**
 * @module Pure part of the `jolokia` source: flatten Jolokia read values the way jmx_exporter does
 * (`domain<k1=v1, k2=v2><compositeKey>attr: value`) and apply jmx_exporter-style rules. No I/O.
 */
import { ConfigError } from '../../core/errors.js';
import { labelKey, type Metric, type MetricFamily, type MetricType } from '../../core/metrics/model.js';
import { asObject, join, onlyKeys, optBool, optNumber, optString, optStringMap, type Raw } from './options.js';

export interface JmxRule {
  pattern: RegExp;
  /** Output name template (`$1`, `${name}`); absent → jmx_exporter's default name format. */
  name?: string;
  help?: string;
  labels: Array<[string, string]>;
  type: MetricType;
  valueFactor: number;
  /** A constant value instead of the attribute's (jmx_exporter `value:`), e.g. for string attributes. */
  value?: number;
  attrNameSnakeCase: boolean;
}

export interface JmxRuleSet {
  rules: JmxRule[];
  lowercaseOutputName: boolean;
  lowercaseOutputLabelNames: boolean;
}

const TYPES: Record<string, MetricType> = { GAUGE: 'gauge', COUNTER: 'counter', UNTYPED: 'untyped' };

/** Java's `$1`/`${name}` replacement syntax → JavaScript's (`$1`/`$<name>`). */
function jsTemplate(t: string): string {
  return t.replace(/\$\{(\d+)\}/g, '$$$1').replace(/\$\{([A-Za-z]\w*)\}/g, '$$<$1>');
}

export function parseJmxRules(o: Raw, path: string): JmxRuleSet {
  const rawRules = o.rules;
  if (rawRules !== undefined && !Array.isArray(rawRules)) throw new ConfigError(join(path, 'rules'), 'must be a list');
  const rules = ((rawRules as unknown[] | undefined) ?? [{ pattern: '.*' }]).map((r, i) => {
    const at = join(join(path, 'rules'), i);
    const ro = asObject(r, at);
    onlyKeys(ro, ['pattern', 'name', 'help', 'labels', 'type', 'valueFactor', 'value', 'attrNameSnakeCase', 'cache'], at);
    const src = optString(ro, 'pattern', at) ?? '.*';
    let pattern: RegExp;
    try {
      // jmx_exporter compiles `^.*(?:pattern).*$`, so a pattern may match any part of `beanName attr: value`.
      pattern = new RegExp(`^.*(?:${src}).*$`, 's');
    } catch (err) {
      throw new ConfigError(join(at, 'pattern'), `bad regex: ${(err as Error).message}`);
    }
    const typeName = (optString(ro, 'type', at) ?? 'UNTYPED').toUpperCase();
    const type = TYPES[typeName];
    if (!type) throw new ConfigError(join(at, 'type'), `must be GAUGE, COUNTER or UNTYPED, got ${JSON.stringify(typeName)}`);
    const name = optString(ro, 'name', at);
    const labels = Object.entries(optStringMap(ro, 'labels', at) ?? {}).map(([k, v]) => [jsTemplate(k), jsTemplate(v)] as [string, string]);
    if (labels.length > 0 && name === undefined) throw new ConfigError(join(at, 'labels'), 'labels need a name');
    const value = ro.value === undefined ? undefined : Number(ro.value);
    if (value !== undefined && !Number.isFinite(value)) throw new ConfigError(join(at, 'value'), 'must be a number');
    const help = optString(ro, 'help', at);
    return {
      pattern, labels, type, value,
      ...(name !== undefined ? { name: jsTemplate(name) } : {}),
      ...(help !== undefined ? { help: jsTemplate(help) } : {}),
      valueFactor: optNumber(ro, 'valueFactor', at) ?? 1,
      attrNameSnakeCase: optBool(ro, 'attrNameSnakeCase', at) ?? false,
    };
  });
  return { rules, lowercaseOutputName: optBool(o, 'lowercaseOutputName', path) ?? false, lowercaseOutputLabelNames: optBool(o, 'lowercaseOutputLabelNames', path) ?? false };
}

/** jmx_exporter's safeName: invalid characters → `_`, runs of `_` squashed. */
export function safeName(s: string): string {
  return s.replace(/[^a-zA-Z0-9:_]/g, '_').replace(/__+/g, '_');
}

/** jmx_exporter's attrNameSnakeCase: `HeapMemoryUsage` → `heap_memory_usage`. */
export function snakeCase(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const upper = c >= 'A' && c <= 'Z';
    if (upper && i > 0 && s[i - 1] !== '_' && !(s[i - 1] >= 'A' && s[i - 1] <= 'Z' && (i + 1 >= s.length || !(s[i + 1] >= 'a' && s[i + 1] <= 'z')))) out += '_';
    out += c.toLowerCase();
  }
  return out;
}

/** `domain:k1=v1,k2=v2` → domain and its key properties in the order given. */
export function splitObjectName(name: string): { domain: string; props: Array<[string, string]> } {
  const colon = name.indexOf(':');
  const domain = name.slice(0, colon);
  const props: Array<[string, string]> = [];
  const re = /([^,=]+)=("(?:[^"\\]|\\.)*"|[^,]*)/g;
  let m: RegExpExecArray | null;
  const rest = name.slice(colon + 1);
  while ((m = re.exec(rest))) props.push([m[1], m[2]]);
  return { domain, props };
}

export interface Sample {
  name: string;
  type: MetricType;
  help: string;
  labels: Record<string, string>;
  value: number;
}

/** Collects samples into families: first type wins, one series per label set. */
export class SampleSink {
  private fams = new Map<string, { f: MetricFamily; metrics: Metric[]; keys: Set<string> }>();
  add(s: Sample): void {
    let slot = this.fams.get(s.name);
    if (!slot) this.fams.set(s.name, (slot = { f: { name: s.name, help: s.help, type: s.type, metrics: [] }, metrics: [], keys: new Set() }));
    else if (slot.f.type !== s.type) return;
    const key = labelKey(s.labels);
    if (slot.keys.has(key)) return;
    slot.keys.add(key);
    slot.metrics.push({ labels: s.labels, value: s.value });
  }
  families(): MetricFamily[] {
    return [...this.fams.values()].map((s) => ({ ...s.f, metrics: s.metrics }));
  }
}

/** Walk one attribute's value (numbers, booleans, nested composite maps) and hand each leaf to the rules. */
export function recordAttribute(set: JmxRuleSet, sink: SampleSink, mbean: string, attr: string, value: unknown): void {
  const { domain, props } = splitObjectName(mbean);
  walk(set, sink, domain, props, [], attr, value, 0);
}

function walk(set: JmxRuleSet, sink: SampleSink, domain: string, props: Array<[string, string]>, attrKeys: string[], attr: string, value: unknown, depth: number): void {
  if (depth > 8 || value === null || value === undefined) return;
  if (typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(set, sink, domain, props, [...attrKeys, attr], k, v, depth + 1);
    return;
  }
  let num: number | undefined;
  if (typeof value === 'number') num = value;
  else if (typeof value === 'boolean') num = value ? 1 : 0;
  const beanName = `${domain}<${props.map(([k, v]) => `${k}=${v}`).join(', ')}><${attrKeys.join(', ')}>`;
  const snake = snakeCase(attr);
  for (const rule of set.rules) {
    const attrName = rule.attrNameSnakeCase ? snake : attr;
    const matchName = beanName + attrName;
    const subject = `${matchName}: ${value === undefined ? '' : String(value)}`;
    if (!rule.pattern.test(subject)) continue;
    const v = rule.value ?? num;
    if (v === undefined) return; // matched, but a string attribute without a constant value: nothing to export
    const help = `${rule.help !== undefined ? subject.replace(rule.pattern, rule.help) : 'JMX attribute'} (${beanName}${attr})`;
    if (rule.name === undefined) {
      sink.add(defaultSample(set, domain, props, attrKeys, attrName, rule.type, help, v * rule.valueFactor));
      return;
    }
    let name = safeName(subject.replace(rule.pattern, rule.name));
    if (name === '' || name === '_') return;
    if (set.lowercaseOutputName) name = name.toLowerCase();
    if (/^[0-9]/.test(name)) name = `_${name}`;
    const labels: Record<string, string> = {};
    for (const [k, t] of rule.labels) {
      let ln = safeName(subject.replace(rule.pattern, k));
      if (set.lowercaseOutputLabelNames) ln = ln.toLowerCase();
      if (ln === '' || ln.startsWith('__') || /^[0-9]/.test(ln) || ln.includes(':')) continue;
      labels[ln] = subject.replace(rule.pattern, t);
    }
    sink.add({ name, type: rule.type, help, labels, value: v * rule.valueFactor });
    return;
  }
}

/** jmx_exporter's default format: `domain_firstPropValue_compositeKeys_attr`, other properties as labels. */
function defaultSample(set: JmxRuleSet, domain: string, props: Array<[string, string]>, attrKeys: string[], attr: string, type: MetricType, help: string, value: number): Sample {
  let name = domain;
  if (props.length > 0) name += `_${props[0][1]}`;
  for (const k of attrKeys) name += `_${k}`;
  name = safeName(`${name}_${attr}`);
  if (set.lowercaseOutputName) name = name.toLowerCase();
  if (/^[0-9]/.test(name)) name = `_${name}`;
  const labels: Record<string, string> = {};
  for (const [k, v] of props.slice(1)) {
    let ln = safeName(k);
    if (set.lowercaseOutputLabelNames) ln = ln.toLowerCase();
    if (/^[0-9]/.test(ln)) ln = `_${ln}`;
    labels[ln] = v;
  }
  return { name, type, help, labels, value };
}
