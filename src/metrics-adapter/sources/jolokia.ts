/** @module Source `jolokia`: JMX over HTTP — one bulk POST of read requests (wildcards allowed), jmx_exporter-style rules. */
import { ConfigError, ProtocolError, UpstreamError } from '../../core/errors.js';
import { addSecret, type Logger } from '../../core/log.js';
import type { MetricFamily } from '../../core/metrics/model.js';
import type { Source, SourceFactory } from './source.js';
import { fetchText } from './http.js';
import { asObject, join, onlyKeys, optArray, optString, optStringMap, reqUrl } from './options.js';
import { parseJmxRules, recordAttribute, SampleSink, type JmxRuleSet } from './jolokia-rules.js';

export interface JolokiaMBean {
  mbean: string;
  /** Attributes to read; absent → all. */
  attributes?: string[];
}

export interface JolokiaOptions {
  /** Agent URL, e.g. http://127.0.0.1:8778/jolokia. Required. */
  url: string;
  headers: Record<string, string>;
  /** MBeans (patterns allowed, e.g. `java.lang:type=*`). Default `['*:*']` — everything, like jmx_exporter. */
  mbeans: JolokiaMBean[];
  rules: JmxRuleSet;
  /** MBeans never exported (jmx_exporter's excludeObjectNames), as compiled ObjectName patterns. Default none. */
  exclude: Array<(name: string) => boolean>;
}

const PATTERN = /[*?]/;

export const jolokiaSource: SourceFactory<JolokiaOptions> = {
  kind: 'jolokia',
  parseOptions(raw, path) {
    const o = asObject(raw, path);
    onlyKeys(o, ['url', 'headers', 'username', 'password', 'mbeans', 'rules', 'lowercaseOutputName', 'lowercaseOutputLabelNames', 'includeObjectNames', 'whitelistObjectNames', 'excludeObjectNames', 'blacklistObjectNames'], path);
    const headers = optStringMap(o, 'headers', path) ?? {};
    const username = optString(o, 'username', path);
    const password = optString(o, 'password', path);
    if (password !== undefined && username === undefined) throw new ConfigError(join(path, 'username'), 'is required with password');
    if (username !== undefined) {
      addSecret(password);
      headers.authorization = `Basic ${Buffer.from(`${username}:${password ?? ''}`).toString('base64')}`;
    }
    // jmx_exporter's spellings: include/whitelistObjectNames are the MBeans to read, exclude/blacklist filter them.
    const mbeansKey = ['mbeans', 'includeObjectNames', 'whitelistObjectNames'].find((k) => o[k] !== undefined) ?? 'mbeans';
    const excludeKey = ['excludeObjectNames', 'blacklistObjectNames'].find((k) => o[k] !== undefined) ?? 'excludeObjectNames';
    const exclude = (optArray(o, excludeKey, path) ?? []).map((m, i) => {
      if (typeof m !== 'string') throw new ConfigError(join(join(path, excludeKey), i), 'must be an MBean name or pattern');
      return compileObjectNamePattern(checkName(m, join(join(path, excludeKey), i)));
    });
    const mbeans = (optArray(o, mbeansKey, path) ?? ['*:*']).map((m, i): JolokiaMBean => {
      const at = join(join(path, mbeansKey), i);
      if (typeof m === 'string') return { mbean: checkName(m, at) };
      const mo = asObject(m, at);
      onlyKeys(mo, ['mbean', 'attributes'], at);
      const attrs = optArray(mo, 'attributes', at)?.map((a, j) => {
        if (typeof a !== 'string' || a === '') throw new ConfigError(join(join(at, 'attributes'), j), 'must be an attribute name');
        return a;
      });
      return { mbean: checkName(optString(mo, 'mbean', at) ?? '', join(at, 'mbean')), ...(attrs ? { attributes: attrs } : {}) };
    });
    return { url: reqUrl(o, 'url', path), headers, mbeans, exclude, rules: parseJmxRules(o, path) };
  },
  create(name, options, deps): Source {
    return { name, kind: 'jolokia', collect: (signal) => collectJolokia(options, signal, deps.log, deps.maxBodyBytes) };
  },
};

function checkName(s: string, at: string): string {
  if (!/^[^:]*:.+$/.test(s)) throw new ConfigError(at, `not an MBean name or pattern (domain:key=value,…): ${JSON.stringify(s)}`);
  return s;
}

interface JolokiaResponse {
  status?: number;
  value?: unknown;
  error?: string;
  request?: { mbean?: string };
}

async function collectJolokia(options: JolokiaOptions, signal: AbortSignal, log: Logger, maxBytes?: number): Promise<MetricFamily[]> {
  // canonicalNaming=false keeps key properties in registration order, which is what jmx_exporter matches against.
  const config = { ignoreErrors: true, canonicalNaming: false, serializeException: false, includeStackTrace: false };
  const body = options.mbeans.map((m) => ({ type: 'read', mbean: m.mbean, ...(m.attributes ? { attribute: m.attributes } : {}), config }));
  const url = `${options.url.replace(/\/+$/, '')}/`;
  const { text } = await fetchText(url, signal, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...options.headers }, maxBytes });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ProtocolError(`${url}: not a Jolokia JSON reply: ${JSON.stringify(text.slice(0, 80))}`);
  }
  if (!Array.isArray(parsed)) {
    const single = parsed as JolokiaResponse;
    throw new UpstreamError(`${url}: Jolokia error ${single.status ?? '?'}: ${single.error ?? 'not a bulk reply'}`);
  }
  const sink = new SampleSink();
  let failed = 0;
  parsed.forEach((r: JolokiaResponse, i) => {
    const req = options.mbeans[i];
    if (!req || r.status !== 200) {
      failed++;
      log.warn('jolokia read failed', { mbean: req?.mbean, status: r.status, error: r.error });
      return;
    }
    if (PATTERN.test(req.mbean)) {
      for (const [mbean, attrs] of Object.entries((r.value ?? {}) as Record<string, unknown>)) recordAll(options, sink, mbean, attrs);
    } else recordAll(options, sink, req.mbean, r.value); // an attribute list always comes back as {attr: value}
  });
  if (failed > 0 && failed === parsed.length) throw new UpstreamError(`${url}: every Jolokia read failed (first: ${(parsed[0] as JolokiaResponse).error ?? 'unknown'})`);
  return sink.families();
}

function recordAll(options: JolokiaOptions, sink: SampleSink, mbean: string, attrs: unknown): void {
  if (attrs === null || typeof attrs !== 'object') return;
  if (options.exclude.some((x) => x(mbean))) return;
  for (const [attr, value] of Object.entries(attrs as Record<string, unknown>)) recordAttribute(options.rules, sink, mbean, attr, value);
}

/** JMX ObjectName pattern semantics: `*`/`?` globs in the domain and in values, `,*` (or `*`) allows other keys. */
export function compileObjectNamePattern(pattern: string): (name: string) => boolean {
  const glob = (g: string) => new RegExp(`^${g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const colon = pattern.indexOf(':');
  const domain = glob(pattern.slice(0, colon));
  const parts = pattern.slice(colon + 1).split(',').filter((p) => p !== '');
  const open = parts.includes('*');
  const props = parts.filter((p) => p !== '*').map((p) => {
    const eq = p.indexOf('=');
    return [p.slice(0, eq), glob(p.slice(eq + 1))] as const;
  });
  return (name: string) => {
    const c = name.indexOf(':');
    if (!domain.test(name.slice(0, c))) return false;
    const have = new Map<string, string>();
    for (const p of name.slice(c + 1).split(',')) {
      const eq = p.indexOf('=');
      have.set(p.slice(0, eq), p.slice(eq + 1));
    }
    if (!open && have.size !== props.length) return false;
    return props.every(([k, re]) => have.has(k) && re.test(have.get(k)!));
  };
}
