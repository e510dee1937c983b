/** @module Several sources of one kind (a master and a replica) served together: same-named families merged, each series labelled by its source. */
import type { Metric, MetricFamily } from '../../core/metrics/model.js';

export interface SourceFamilies {
  source: string;
  families: MetricFamily[];
}

/**
 * One list of families from every source. A family only one source gives passes unchanged (a single redis source
 * looks exactly like redis_exporter). A family several sources give, with the same type, becomes one family whose
 * series each carry `source="<name>"` (a `source` label already there becomes `exported_source`), so two redis
 * sources both serve `redis_up`, `redis_db_keys`, … instead of the second being dropped as a name conflict. Same name
 * with another type stays apart and is dropped later as a conflict, as before.
 */
export function mergeSources(per: readonly SourceFamilies[]): MetricFamily[] {
  const owners = new Map<string, Array<{ source: string; family: MetricFamily }>>();
  for (const { source, families } of per) {
    for (const f of families) {
      if (!f || typeof f.name !== 'string') continue;
      let list = owners.get(f.name);
      if (list === undefined) owners.set(f.name, (list = []));
      list.push({ source, family: f });
    }
  }
  const out: MetricFamily[] = [];
  for (const { families } of per) {
    for (const f of families) {
      const list = f && typeof f.name === 'string' ? owners.get(f.name)! : [];
      const same = list.filter((o) => o.family.type === list[0].family.type);
      if (new Set(same.map((o) => o.source)).size < 2 || !same.some((o) => o.family === f)) out.push(f);
      else if (same[0].family === f) {
        const metrics: Metric[] = [];
        for (const { source, family } of same) for (const m of family.metrics ?? []) metrics.push({ ...m, labels: withSource(m.labels ?? {}, source) });
        out.push({ ...f, metrics });
      }
      // else: already served inside the merged family.
    }
  }
  return out;
}

function withSource(labels: Metric['labels'], source: string): Metric['labels'] {
  const out: Record<string, string> = {};
  for (const k in labels) out[k === 'source' ? 'exported_source' : k] = labels[k];
  out.source = source;
  return out;
}
