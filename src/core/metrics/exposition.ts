/** @module Pure writers for Prometheus text 0.0.4 and OpenMetrics 1.0, and Accept negotiation. */
import { stripSuffix, type Labels, type Metric, type MetricFamily } from './model.js';

export type Format = 'prometheus' | 'openmetrics';

export const CONTENT_TYPE: Record<Format, string> = {
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** Pick the format from an Accept header the way Prometheus' own clients do: OpenMetrics only when asked for. */
export function negotiate(accept: string | undefined): Format {
  if (!accept) return 'prometheus';
  let best: Format = 'prometheus';
  let bestQ = -1;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.trim().split(';').map((s) => s.trim());
    let q = 1;
    let version: string | undefined;
    for (const p of params) {
      const [k, v] = p.split('=').map((s) => s.trim());
      if (k === 'q') q = Number(v);
      if (k === 'version') version = v;
    }
    if (!Number.isFinite(q)) continue;
    let f: Format | undefined;
    if (type === 'application/openmetrics-text' && (version === undefined || version.startsWith('1.0') || version.startsWith('0.0.1'))) f = 'openmetrics';
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') f = 'prometheus';
    if (f && q > bestQ) {
      best = f;
      bestQ = q;
    }
  }
  return best;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeLabel = (s: string) => (/[\\"\n]/.test(s) ? s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : s);
const escapeHelpText = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeHelpOM = (s: string) => escapeHelpText(s).replace(/"/g, '\\"');

function labelText(labels: Labels, extraName?: string, extraValue?: string): string {
  let out = '';
  for (const k in labels) out += `${out ? ',' : ''}${k}="${escapeLabel(labels[k])}"`;
  if (extraName !== undefined) out += `${out ? ',' : ''}${extraName}="${extraValue}"`;
  return out ? `{${out}}` : '';
}

/**
 * Lines of one family. Yields one string per family so a caller can render large registries across
 * several event-loop turns.
 */
function renderFamily(f: MetricFamily, fmt: Format): string {
  const om = fmt === 'openmetrics';
  const ts = (m: Metric) => (m.timestampMs === undefined ? '' : ` ${om ? formatValue(m.timestampMs / 1000) : String(Math.round(m.timestampMs))}`);
  let family = f.name;
  let sample = f.name;
  let type: string = f.type;
  if (f.type === 'counter') {
    if (om) {
      family = stripSuffix(f.name, '_total');
      sample = `${family}_total`;
    }
  } else if (f.type === 'info') {
    family = stripSuffix(f.name, '_info');
    sample = `${family}_info`;
    if (!om) {
      family = sample;
      type = 'gauge';
    }
  } else if (f.type === 'untyped' && om) type = 'unknown';

  let out = `# HELP ${family} ${om ? escapeHelpOM(f.help) : escapeHelpText(f.help)}\n# TYPE ${family} ${type}\n`;
  if (om && f.unit && family.endsWith(`_${f.unit}`)) out += `# UNIT ${family} ${f.unit}\n`;
  for (const m of f.metrics) {
    const t = ts(m);
    switch (f.type) {
      case 'histogram': {
        for (const b of m.buckets ?? []) out += `${family}_bucket${labelText(m.labels, 'le', formatValue(b.le))} ${formatValue(b.count)}${t}\n`;
        out += `${family}_sum${labelText(m.labels)} ${formatValue(m.sum ?? 0)}${t}\n${family}_count${labelText(m.labels)} ${formatValue(m.count ?? 0)}${t}\n`;
        if (om && m.created !== undefined) out += `${family}_created${labelText(m.labels)} ${formatValue(m.created)}\n`;
        break;
      }
      case 'summary': {
        for (const q of m.quantiles ?? []) out += `${family}${labelText(m.labels, 'quantile', formatValue(q.quantile))} ${formatValue(q.value)}${t}\n`;
        out += `${family}_sum${labelText(m.labels)} ${formatValue(m.sum ?? 0)}${t}\n${family}_count${labelText(m.labels)} ${formatValue(m.count ?? 0)}${t}\n`;
        if (om && m.created !== undefined) out += `${family}_created${labelText(m.labels)} ${formatValue(m.created)}\n`;
        break;
      }
      case 'info':
        out += `${sample}${labelText(m.labels)} 1${t}\n`;
        break;
      case 'counter':
        out += `${sample}${labelText(m.labels)} ${formatValue(m.value ?? 0)}${t}\n`;
        if (om && m.created !== undefined) out += `${family}_created${labelText(m.labels)} ${formatValue(m.created)}\n`;
        break;
      default:
        out += `${sample}${labelText(m.labels)} ${formatValue(m.value ?? 0)}${t}\n`;
    }
  }
  return out;
}

/** Render families chunk by chunk (one chunk per family, then `# EOF` for OpenMetrics). */
export function* renderChunks(families: Iterable<MetricFamily>, fmt: Format): Generator<string> {
  for (const f of families) if (f.metrics.length > 0 || fmt === 'openmetrics') yield renderFamily(f, fmt);
  if (fmt === 'openmetrics') yield '# EOF\n';
}

/** Render families to one exposition string. */
export function render(families: Iterable<MetricFamily>, fmt: Format = 'prometheus'): string {
  let out = '';
  for (const c of renderChunks(families, fmt)) out += c;
  return out;
}
