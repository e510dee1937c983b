/** @module The adapter's YAML config: load, validate (errors name the YAML path, exit 2), and resolve against flags. */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { singleDocument } from '../core/yaml.js';
import { ConfigError, fileErrorReason } from '../core/errors.js';
import { parseBytes, parseDuration, parseHostPort, type HostPort } from '../core/parse.js';
import { parseMappingConfig, type MappingConfig } from './statsd/mapping.js';
import type { TagStyles } from './statsd/parser.js';
import type { SourceFactory } from './sources/source.js';
import { DEFAULT_MAX_BODY } from './sources/http.js';
import { DEFAULT_MAX_TCP_CONNECTIONS } from './statsd/lines.js';

/** Default cap of series one source collection may contribute. */
export const DEFAULT_SOURCE_MAX_SERIES = 50_000;

export interface SourceConfig {
  name: string;
  kind: string;
  /** Per-collection deadline, ms. Default 5 s. */
  timeoutMs: number;
  /** Most series kept from one collection (the rest dropped and counted). Default 50,000. */
  maxSeries: number;
  /** Largest response body an HTTP source reads (bigger: the collection fails, counted). Default 16 MiB. */
  maxBodyBytes: number;
  /** What the kind's parseOptions returned. */
  options: unknown;
  factory: SourceFactory<unknown>;
}

export interface AdapterConfig {
  statsd: {
    udp?: HostPort;
    tcp?: HostPort;
    unixgram?: string;
    readBuffer: number;
    mapping: MappingConfig;
    /** Where the mapping came from, for messages. */
    mappingSource: string;
    tags: TagStyles;
    setWindowMs: number;
    /** Counters always named <name>_total (earlier podkit naming); default false: statsd_exporter's names. */
    alwaysTotal: boolean;
  };
  limits: { maxSeries: number; maxSeriesPerFamily: number; ttlMs: number; maxSetMembers: number; maxTcpConnections: number };
  sources: SourceConfig[];
  otlp?: { endpoint: string; intervalMs: number; headers: Record<string, string>; resource: Record<string, string>; compression: 'gzip' | 'none' };
}

/** What flags (or start options) may override. Empty string disables a listener. */
export interface ConfigOverrides {
  listenUdp?: string;
  listenTcp?: string;
  listenUnixgram?: string;
  mappingConfig?: string;
  readBuffer?: number;
  /** statsd_exporter's --statsd.parse-*-tags. */
  tags?: Partial<TagStyles>;
  /** --statsd.counters-always-total. */
  alwaysTotal?: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function section(v: unknown, path: string, keys: readonly string[]): Obj {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new ConfigError(path, 'expected a mapping');
  for (const k of Object.keys(v)) if (!keys.includes(k)) throw new ConfigError(path ? `${path}.${k}` : k, `unknown setting (known: ${keys.join(', ')})`);
  return v;
}
function int(v: unknown, path: string, def: number, min = 0): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new ConfigError(path, `expected an integer >= ${min}`);
  return v;
}
function dur(v: unknown, path: string, def: number): number {
  if (v === undefined) return def;
  const ms = typeof v === 'number' ? v * 1000 : typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined || ms < 0) throw new ConfigError(path, 'expected a duration like 10s or 1m30s');
  return ms;
}
function bool(v: unknown, path: string, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') throw new ConfigError(path, 'expected true or false');
  return v;
}
function listen(v: unknown, path: string): HostPort | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ConfigError(path, 'expected HOST:PORT');
  const hp = parseHostPort(v);
  if (!hp) throw new ConfigError(path, `expected HOST:PORT (got ${JSON.stringify(v)})`);
  // ":9125" means all interfaces in statsd_exporter; keep it explicit.
  return { host: hp.host === '' ? '0.0.0.0' : hp.host, port: hp.port };
}

/** Decode YAML text; a syntax error becomes a ConfigError naming the file and line. */
export function parseYaml(text: string, source: string): unknown {
  // Scalars keep YAML's own schema: the mapping's fields are typed here as statsd_exporter types them.
  const read = singleDocument(text, { uniqueKeys: true }, false);
  if (read.reason === undefined) return read.value;
  // An alias with no anchor is typically an unquoted glob such as `match: *.test.*`.
  const hint = /unresolved alias/i.test(read.reason) ? ' (quote a value that starts with *, e.g. match: "*.test.*")' : '';
  throw new ConfigError(source, `invalid YAML${read.where}: ${read.reason}${hint}`);
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(what, `cannot read${what === path ? '' : ` ${path}`}: ${fileErrorReason(err)}`);
  }
}

/** A section with an unknown key still has its known keys checked. */
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});

/**
 * Every config error at once, as a linter reports them: each section is checked on its own and a bad one yields
 * its fallback so the rest is still checked. One error is thrown as it is; several as one ConfigError, one per line.
 */
class Collector {
  readonly errors: ConfigError[] = [];
  check<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.errors.push(err);
      return fallback;
    }
  }
  async checkAsync<T>(fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.errors.push(err);
      return fallback;
    }
  }
  throwIfAny(file: string | undefined): void {
    const named = this.errors.map((e) => (file && !e.isWithin(file) ? e.within(file) : e));
    if (named.length === 1) throw named[0];
    if (named.length > 1) throw new ConfigError('', `${named.length} config errors:\n${named.map((e) => `  ${e.message}`).join('\n')}`, { cause: named[0] });
  }
}

export interface LoadOptions {
  /** The adapter YAML file; optional when flags give everything. */
  file?: string;
  /** Already-decoded document (tests and start() callers); wins over `file`. */
  doc?: unknown;
  overrides?: ConfigOverrides;
  factories: Record<string, SourceFactory<unknown>>;
}

/** Load and validate everything, or throw a ConfigError naming the file and YAML path. Nothing is started. */
export async function loadConfig(opts: LoadOptions): Promise<AdapterConfig> {
  const o = opts.overrides ?? {};
  let doc: unknown = opts.doc;
  const base = opts.file ? dirname(resolve(opts.file)) : process.cwd();
  if (doc === undefined && opts.file) doc = parseYaml(await readText(opts.file, opts.file), opts.file);
  const c = new Collector();
  const config = await c.checkAsync(() => validate(doc, base, o, opts.factories, c), undefined);
  c.throwIfAny(opts.file);
  return config!;
}

async function validate(doc: unknown, base: string, o: ConfigOverrides, factories: Record<string, SourceFactory<unknown>>, c: Collector): Promise<AdapterConfig> {
  const root = section(doc, '', ['statsd', 'limits', 'sources', 'outputs']);
  const sd = c.check(() => section(root.statsd, 'statsd', ['listen_udp', 'listen_tcp', 'listen_unixgram', 'read_buffer', 'mapping_config', 'mappings', 'defaults', 'tags', 'set_window', 'counters_always_total']), asObj(root.statsd));
  const tags = c.check(() => section(sd.tags, 'statsd.tags', ['dogstatsd', 'influxdb', 'librato', 'signalfx']), asObj(sd.tags));
  const { mapping, mappingSource } = await mappingOf(sd, base, o, c);
  const readBuffer = c.check(() => {
    const rb = o.readBuffer ?? sd.read_buffer;
    if (rb === undefined) return 0;
    const n = typeof rb === 'number' ? rb : typeof rb === 'string' ? parseBytes(rb) : undefined;
    if (n === undefined || n < 0) throw new ConfigError('statsd.read_buffer', 'expected a size like 8MiB');
    return n;
  }, 0);

  const lim = c.check(() => section(root.limits, 'limits', ['max_series', 'max_series_per_family', 'ttl', 'max_set_members', 'max_tcp_connections']), asObj(root.limits));
  const limits = {
    maxSeries: c.check(() => int(lim.max_series, 'limits.max_series', 100_000, 1), 0),
    maxSeriesPerFamily: c.check(() => int(lim.max_series_per_family, 'limits.max_series_per_family', 10_000, 1), 0),
    ttlMs: c.check(() => dur(lim.ttl, 'limits.ttl', 0), 0),
    maxSetMembers: c.check(() => int(lim.max_set_members, 'limits.max_set_members', 10_000, 1), 0),
    maxTcpConnections: c.check(() => int(lim.max_tcp_connections, 'limits.max_tcp_connections', DEFAULT_MAX_TCP_CONNECTIONS, 1), 0),
  };
  const sources = sourcesOf(root.sources, factories, c);
  const outs = c.check(() => section(root.outputs, 'outputs', ['otlp']), asObj(root.outputs));
  const otlp = c.check(() => otlpOf(outs.otlp), undefined);

  return {
    statsd: {
      udp: c.check(() => listen(o.listenUdp ?? sd.listen_udp ?? '127.0.0.1:9125', o.listenUdp !== undefined ? '--statsd.listen-udp' : 'statsd.listen_udp'), undefined),
      tcp: c.check(() => listen(o.listenTcp ?? sd.listen_tcp ?? '127.0.0.1:9125', o.listenTcp !== undefined ? '--statsd.listen-tcp' : 'statsd.listen_tcp'), undefined),
      unixgram: (o.listenUnixgram ?? (sd.listen_unixgram as string | undefined)) || undefined,
      readBuffer,
      mapping,
      mappingSource,
      tags: {
        dogstatsd: o.tags?.dogstatsd ?? c.check(() => bool(tags.dogstatsd, 'statsd.tags.dogstatsd', true), true),
        influxdb: o.tags?.influxdb ?? c.check(() => bool(tags.influxdb, 'statsd.tags.influxdb', true), true),
        librato: o.tags?.librato ?? c.check(() => bool(tags.librato, 'statsd.tags.librato', true), true),
        signalfx: o.tags?.signalfx ?? c.check(() => bool(tags.signalfx, 'statsd.tags.signalfx', true), true),
      },
      setWindowMs: c.check(() => dur(sd.set_window, 'statsd.set_window', 60_000), 0) || 60_000,
      alwaysTotal: o.alwaysTotal ?? c.check(() => bool(sd.counters_always_total, 'statsd.counters_always_total', false), false),
    },
    limits,
    sources,
    otlp,
  };
}

/** The StatsD mapping: from `mapping_config` (a file; the flag wins) or inline `mappings`/`defaults`, never both. */
async function mappingOf(sd: Obj, base: string, o: ConfigOverrides, c: Collector): Promise<{ mapping: MappingConfig; mappingSource: string }> {
  let mappingSource = 'statsd.mappings';
  const mappingFile = o.mappingConfig ?? (typeof sd.mapping_config === 'string' ? sd.mapping_config : undefined);
  const mapping = await c.checkAsync(async (): Promise<MappingConfig> => {
    if (sd.mapping_config !== undefined && typeof sd.mapping_config !== 'string') throw new ConfigError('statsd.mapping_config', 'expected a file path');
    if (mappingFile && (sd.mappings !== undefined || sd.defaults !== undefined) && o.mappingConfig === undefined)
      throw new ConfigError('statsd.mapping_config', 'give either mapping_config or inline mappings/defaults, not both');
    if (mappingFile) {
      const p = resolve(base, mappingFile);
      mappingSource = mappingFile;
      const text = await readText(p, o.mappingConfig !== undefined ? '--statsd.mapping-config' : 'statsd.mapping_config');
      try {
        return parseMappingConfig(parseYaml(text, mappingFile));
      } catch (err) {
        if (err instanceof ConfigError && !err.isWithin(mappingFile)) throw err.within(mappingFile);
        throw err;
      }
    }
    return parseMappingConfig({ defaults: sd.defaults, mappings: sd.mappings }, 'statsd');
  }, parseMappingConfig({}, 'statsd'));
  return { mapping, mappingSource };
}

/** `sources:`, each checked on its own (every bad entry is reported) and its kind's options parsed by its factory. */
function sourcesOf(list: unknown, factories: Record<string, SourceFactory<unknown>>, c: Collector): SourceConfig[] {
  const sources: SourceConfig[] = [];
  if (list === undefined || list === null) return sources;
  if (!Array.isArray(list)) throw new ConfigError('sources', 'expected a list');
  const names = new Set<string>();
  list.forEach((raw: unknown, i: number) => c.check(() => {
    const p = `sources[${i}]`;
    if (!isObj(raw)) throw new ConfigError(p, 'expected a mapping with name and kind');
    if (typeof raw.kind !== 'string') throw new ConfigError(`${p}.kind`, `required: one of ${Object.keys(factories).join(', ')}`);
    const factory = factories[raw.kind];
    if (!factory) throw new ConfigError(`${p}.kind`, `unknown source kind "${raw.kind}" (known: ${Object.keys(factories).join(', ')})`);
    const name = raw.name === undefined ? `${raw.kind}${i}` : raw.name;
    if (typeof name !== 'string' || name === '') throw new ConfigError(`${p}.name`, 'expected a non-empty string');
    if (names.has(name)) throw new ConfigError(`${p}.name`, `duplicate source name "${name}"`);
    names.add(name);
    const timeoutMs = dur(raw.timeout, `${p}.timeout`, 5000);
    if (timeoutMs <= 0) throw new ConfigError(`${p}.timeout`, 'must be positive');
    const maxSeries = int(raw.max_series, `${p}.max_series`, DEFAULT_SOURCE_MAX_SERIES, 1);
    const mb = raw.max_body_size === undefined ? DEFAULT_MAX_BODY : typeof raw.max_body_size === 'number' ? raw.max_body_size : typeof raw.max_body_size === 'string' ? parseBytes(raw.max_body_size) : undefined;
    if (mb === undefined || !Number.isInteger(mb) || mb < 1) throw new ConfigError(`${p}.max_body_size`, 'expected a size like 16MiB');
    const rest: Obj = { ...raw };
    delete rest.timeout;
    delete rest.max_series;
    delete rest.max_body_size;
    sources.push({ name, kind: raw.kind, timeoutMs, maxSeries, maxBodyBytes: mb, options: factory.parseOptions(rest, p), factory });
  }, undefined));
  return sources;
}

/** `outputs.otlp`: endpoint, interval, headers, resource attributes, compression; undefined when absent. */
function otlpOf(raw: unknown): AdapterConfig['otlp'] {
  if (raw === undefined || raw === null) return undefined;
  const ot = section(raw, 'outputs.otlp', ['endpoint', 'interval', 'headers', 'resource', 'compression']);
  if (typeof ot.endpoint !== 'string' || !/^https?:\/\//.test(ot.endpoint)) throw new ConfigError('outputs.otlp.endpoint', 'required: an http(s):// URL such as http://127.0.0.1:4318/v1/metrics');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(section(ot.headers, 'outputs.otlp.headers', Object.keys(isObj(ot.headers) ? ot.headers : {})))) {
    if (typeof v !== 'string') throw new ConfigError(`outputs.otlp.headers.${k}`, 'expected a string');
    headers[k] = v;
  }
  const intervalMs = dur(ot.interval, 'outputs.otlp.interval', 10_000);
  if (intervalMs < 100) throw new ConfigError('outputs.otlp.interval', 'must be at least 100ms');
  const resource: Record<string, string> = {};
  for (const [k, v] of Object.entries(section(ot.resource, 'outputs.otlp.resource', Object.keys(isObj(ot.resource) ? ot.resource : {})))) {
    if (typeof v !== 'string') throw new ConfigError(`outputs.otlp.resource.${k}`, 'expected a string (a resource attribute such as service.name)');
    resource[k] = v;
  }
  const compression = ot.compression ?? 'none';
  if (compression !== 'gzip' && compression !== 'none') throw new ConfigError('outputs.otlp.compression', 'expected gzip or none');
  return { endpoint: ot.endpoint, intervalMs, headers, resource, compression };
}
