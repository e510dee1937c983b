/** @module Prometheus `relabel_configs` (subset: replace, keep, drop, labeldrop, labelkeep, labelmap) — option parsing and pure application. */
import { ConfigError } from '../../core/errors.js';
import { labelKey, LABEL_NAME_RE, METRIC_NAME_RE, type Metric, type MetricFamily } from '../../core/metrics/model.js';
import { anchoredRegex, asObject, join, onlyKeys, optArray, optString, type Raw } from './options.js';

export type RelabelAction = 'replace' | 'keep' | 'drop' | 'labeldrop' | 'labelkeep' | 'labelmap';

export interface RelabelRule {
  sourceLabels: string[];
  separator: string;
  regex: RegExp;
  targetLabel?: string;
  replacement: string;
  action: RelabelAction;
}

const ACTIONS: readonly RelabelAction[] = ['replace', 'keep', 'drop', 'labeldrop', 'labelkeep', 'labelmap'];

export function parseRelabelConfigs(raw: unknown, path: string): RelabelRule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new ConfigError(path, 'must be a list');
  return raw.map((r, i) => parseRule(r, join(path, i)));
}

function parseRule(raw: unknown, path: string): RelabelRule {
  const o: Raw = asObject(raw, path);
  onlyKeys(o, ['source_labels', 'separator', 'regex', 'target_label', 'replacement', 'action'], path);
  const action = (optString(o, 'action', path) ?? 'replace') as RelabelAction;
  if (!ACTIONS.includes(action)) throw new ConfigError(join(path, 'action'), `unsupported action ${JSON.stringify(action)} (supported: ${ACTIONS.join(', ')})`);
  const sourceLabels = (optArray(o, 'source_labels', path) ?? []).map((s, i) => {
    if (typeof s !== 'string' || !LABEL_NAME_RE.test(s)) throw new ConfigError(join(join(path, 'source_labels'), i), 'must be a label name');
    return s;
  });
  const regexSrc = optString(o, 'regex', path) ?? '(.*)';
  const targetLabel = optString(o, 'target_label', path);
  if (action === 'replace' && !targetLabel) throw new ConfigError(join(path, 'target_label'), 'is required for action replace');
  if ((action === 'keep' || action === 'drop') && sourceLabels.length === 0) throw new ConfigError(join(path, 'source_labels'), `is required for action ${action}`);
  return {
    sourceLabels,
    separator: optString(o, 'separator', path) ?? ';',
    regex: anchoredRegex(regexSrc, join(path, 'regex')),
    ...(targetLabel ? { targetLabel } : {}),
    replacement: optString(o, 'replacement', path) ?? '$1',
    action,
  };
}

/** Prometheus' `$1`, `${1}`, `$name` expansion against a match. */
function expand(template: string, m: RegExpExecArray): string {
  return template.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_all, a?: string, b?: string) => {
    const ref = a ?? b ?? '';
    const v = /^\d+$/.test(ref) ? m[Number(ref)] : m.groups?.[ref];
    return v ?? '';
  });
}

/** Apply rules to one label set (with `__name__`). Returns undefined when the series is dropped. */
export function relabel(labels: Record<string, string>, rules: readonly RelabelRule[]): Record<string, string> | undefined {
  let ls = { ...labels };
  for (const r of rules) {
    const value = r.sourceLabels.map((n) => ls[n] ?? '').join(r.separator);
    switch (r.action) {
      case 'keep':
        if (!r.regex.test(value)) return undefined;
        break;
      case 'drop':
        if (r.regex.test(value)) return undefined;
        break;
      case 'replace': {
        const m = r.regex.exec(value);
        if (!m) break;
        const target = expand(r.targetLabel ?? '', m);
        if (!LABEL_NAME_RE.test(target)) break;
        const v = expand(r.replacement, m);
        if (v === '') delete ls[target];
        else ls[target] = v;
        break;
      }
      case 'labeldrop':
        for (const k of Object.keys(ls)) if (r.regex.test(k)) delete ls[k];
        break;
      case 'labelkeep':
        for (const k of Object.keys(ls)) if (k !== '__name__' && !r.regex.test(k)) delete ls[k];
        break;
      case 'labelmap': {
        const next = { ...ls };
        for (const [k, v] of Object.entries(ls)) {
          const m = r.regex.exec(k);
          if (m) next[expand(r.replacement, m)] = v;
        }
        ls = next;
        break;
      }
    }
  }
  return ls;
}

/**
 * Relabel whole families. Each series is relabeled with `__name__` = its family name (for histograms and
 * summaries the family name, not the `_bucket`/`_sum` sample names). A renamed series moves to the family of
 * its new name; labels starting with `__` are removed afterwards; series that collide keep the first one.
 */
export function relabelFamilies(families: readonly MetricFamily[], rules: readonly RelabelRule[]): MetricFamily[] {
  if (rules.length === 0) return [...families];
  const out = new Map<string, { fam: MetricFamily; metrics: Metric[]; keys: Set<string> }>();
  for (const f of families) {
    for (const m of f.metrics) {
      const ls = relabel({ ...m.labels, __name__: f.name }, rules);
      if (!ls) continue;
      const name = ls.__name__;
      if (!name || !METRIC_NAME_RE.test(name)) continue;
      const labels: Record<string, string> = {};
      for (const k of Object.keys(ls)) if (!k.startsWith('__') && ls[k] !== '') labels[k] = ls[k];
      let slot = out.get(name);
      if (!slot) {
        slot = { fam: { ...f, name }, metrics: [], keys: new Set() };
        out.set(name, slot);
      } else if (slot.fam.type !== f.type) continue; // a rename onto a family of another type: drop, never a broken exposition
      const key = labelKey(labels);
      if (slot.keys.has(key)) continue;
      slot.keys.add(key);
      slot.metrics.push({ ...m, labels });
    }
  }
  return [...out.values()].map((s) => ({ ...s.fam, metrics: s.metrics }));
}
