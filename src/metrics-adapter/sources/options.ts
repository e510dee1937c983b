/** @module Small validators for source options: each failure is a ConfigError naming the YAML path. */
import { ConfigError } from '../../core/errors.js';

export type Raw = Record<string, unknown>;

/** Keys the adapter core owns on every `sources:` entry; sources ignore them. */
const CORE_KEYS = new Set(['name', 'kind', 'timeout', 'interval', 'scrape_timeout']);

export function asObject(raw: unknown, path: string): Raw {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(path, 'must be a mapping');
  return raw as Raw;
}

/** Reject keys this source does not know, so a typo is an error and not a silent default. */
export function onlyKeys(o: Raw, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(o)) {
    if (!CORE_KEYS.has(k) && !allowed.includes(k)) throw new ConfigError(join(path, k), `unknown option (known: ${allowed.join(', ')})`);
  }
}

export function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

export function optString(o: Raw, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ConfigError(join(path, key), 'must be a string');
  return v;
}

export function reqString(o: Raw, key: string, path: string): string {
  const v = optString(o, key, path);
  if (v === undefined || v === '') throw new ConfigError(join(path, key), 'is required');
  return v;
}

export function optNumber(o: Raw, key: string, path: string): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(join(path, key), 'must be a number');
  return v;
}

export function optBool(o: Raw, key: string, path: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new ConfigError(join(path, key), 'must be true or false');
  return v;
}

export function optArray(o: Raw, key: string, path: string): unknown[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw new ConfigError(join(path, key), 'must be a list');
  return v;
}

export function optStringMap(o: Raw, key: string, path: string): Record<string, string> | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  const m = asObject(v, join(path, key));
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(m)) {
    if (typeof x !== 'string' && typeof x !== 'number' && typeof x !== 'boolean') throw new ConfigError(join(join(path, key), k), 'must be a string');
    out[k] = String(x);
  }
  return out;
}

/** An http(s) URL. */
export function reqUrl(o: Raw, key: string, path: string): string {
  const s = reqString(o, key, path);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigError(join(path, key), `not a URL: ${JSON.stringify(s)}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new ConfigError(join(path, key), `must be http:// or https://, got ${u.protocol}`);
  return s;
}

/** A regex anchored like Prometheus' (whole-string match). */
export function anchoredRegex(src: string, path: string): RegExp {
  try {
    return new RegExp(`^(?:${src})$`, 's');
  } catch (err) {
    throw new ConfigError(path, `bad regex: ${(err as Error).message}`);
  }
}
