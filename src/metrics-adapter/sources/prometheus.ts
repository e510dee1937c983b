/** @module Source `prometheus`: scrape a Prometheus-text or OpenMetrics endpoint and re-export it through relabel_configs. */
import type { MetricFamily } from '../../core/metrics/model.js';
import type { Source, SourceFactory } from './source.js';
import { fetchText } from './http.js';
import { asObject, join, onlyKeys, optStringMap, reqUrl } from './options.js';
import { parseExposition } from './prom-parse.js';
import { parseRelabelConfigs, relabelFamilies, type RelabelRule } from './relabel.js';

export interface PrometheusOptions {
  /** Target URL, e.g. http://127.0.0.1:9090/metrics. Required. */
  url: string;
  /** Extra request headers (e.g. Authorization). Default none. */
  headers: Record<string, string>;
  /** Applied to every series after parsing (`metric_relabel_configs` is accepted as a spelling). Default none. */
  relabel: RelabelRule[];
}

const ACCEPT = 'application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export const prometheusSource: SourceFactory<PrometheusOptions> = {
  kind: 'prometheus',
  parseOptions(raw, path) {
    const o = asObject(raw, path);
    onlyKeys(o, ['url', 'headers', 'relabel_configs', 'metric_relabel_configs'], path);
    const key = o.relabel_configs !== undefined ? 'relabel_configs' : 'metric_relabel_configs';
    return { url: reqUrl(o, 'url', path), headers: optStringMap(o, 'headers', path) ?? {}, relabel: parseRelabelConfigs(o[key], join(path, key)) };
  },
  create(name, options, deps): Source {
    return {
      name,
      kind: 'prometheus',
      async collect(signal: AbortSignal): Promise<MetricFamily[]> {
        const { text, contentType } = await fetchText(options.url, signal, { headers: { accept: ACCEPT, ...options.headers } , maxBytes: deps.maxBodyBytes });
        const om = contentType.includes('openmetrics') || /(^|\n)# EOF\s*$/.test(text);
        // The parse stops at max_series (+1, so the core still sees the cap exceeded); relabeling may drop some,
        // and the core applies the exact cap after it.
        const limits = { onSkip: deps.onSkip, ...(deps.maxSeries === undefined ? {} : { maxSeries: deps.maxSeries + 1, onTruncate: deps.onTruncate }) };
        return relabelFamilies(parseExposition(text, om ? 'openmetrics' : 'prometheus', limits), options.relabel);
      },
    };
  },
};
