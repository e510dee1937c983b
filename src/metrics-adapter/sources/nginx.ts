/** @module Source `nginx`: stub_status → nginx-prometheus-exporter's metrics. Pure parser plus HTTP glue. */
import { ProtocolError } from '../../core/errors.js';
import type { MetricFamily } from '../../core/metrics/model.js';
import { upFamily, type Source, type SourceFactory } from './source.js';
import { fetchText } from './http.js';
import { asObject, onlyKeys, optStringMap, reqUrl } from './options.js';

export interface NginxOptions {
  /** stub_status URL, e.g. http://127.0.0.1:8080/stub_status. Required. */
  url: string;
  /** Extra request headers. Default none. */
  headers: Record<string, string>;
}

/**
 * Parse stub_status:
 * ```
 * Active connections: 1
 * server accepts handled requests
 *  5 5 7
 * Reading: 0 Writing: 1 Waiting: 0
 * ```
 */
export function parseStubStatus(text: string): MetricFamily[] {
  const active = /Active connections:\s*(\d+)/.exec(text);
  const counts = /server accepts handled requests\s*\n\s*(\d+)\s+(\d+)\s+(\d+)/.exec(text);
  const rww = /Reading:\s*(\d+)\s+Writing:\s*(\d+)\s+Waiting:\s*(\d+)/.exec(text);
  if (!active || !counts || !rww) throw new ProtocolError(`not an nginx stub_status page: ${JSON.stringify(text.slice(0, 80))}`);
  const g = (name: string, help: string, v: string, type: 'gauge' | 'counter' = 'gauge'): MetricFamily => ({ name, help, type, metrics: [{ labels: {}, value: Number(v) }] });
  return [
    g('nginx_up', 'Status of the last metric scrape', '1'),
    g('nginx_connections_active', 'Active client connections', active[1]),
    g('nginx_connections_accepted', 'Accepted client connections', counts[1], 'counter'),
    g('nginx_connections_handled', 'Handled client connections', counts[2], 'counter'),
    g('nginx_http_requests_total', 'Total http requests', counts[3], 'counter'),
    g('nginx_connections_reading', 'Connections where NGINX is reading the request header', rww[1]),
    g('nginx_connections_writing', 'Connections where NGINX is writing the response back to the client', rww[2]),
    g('nginx_connections_waiting', 'Idle client connections', rww[3]),
  ];
}

export const nginxSource: SourceFactory<NginxOptions> = {
  kind: 'nginx',
  parseOptions(raw, path) {
    const o = asObject(raw, path);
    onlyKeys(o, ['url', 'headers'], path);
    return { url: reqUrl(o, 'url', path), headers: optStringMap(o, 'headers', path) ?? {} };
  },
  create(name, options, deps): Source {
    return {
      name,
      kind: 'nginx',
      down: () => [upFamily('nginx_up', 'Status of the last metric scrape', 0)],
      async collect(signal) {
        const { text } = await fetchText(options.url, signal, { headers: options.headers , maxBytes: deps.maxBodyBytes });
        return parseStubStatus(text);
      },
    };
  },
};
