/** @module Small pure parsers shared by config and components: durations, HOST:PORT, byte sizes, Go's int64. */

export interface HostPort {
  host: string;
  port: number;
}

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * Go-style duration ("1h2m3.5s", "500ms", "-1s") → milliseconds. A bare number is seconds, as older
 * git-sync releases took `--wait 10`. Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (s === '') return undefined;
  if (/^[-+]?\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const m = /^([-+]?)((?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+)$/.exec(s);
  if (!m) return undefined;
  let total = 0;
  for (const part of m[2].matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_MS[part[2]];
  return m[1] === '-' ? -total : total;
}

/** "host:port", "[v6]:port" or ":port" (all interfaces) → {host, port}. Undefined when malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const s = text.trim();
  const m = /^(?:\[([0-9a-fA-F:.%\w]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  const host = m[1] ?? (m[2] === '' ? '0.0.0.0' : m[2]);
  return { host, port };
}

export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

// Redis's convention (k = 1000, kb = 1024) plus Kubernetes' Ki/Mi/Gi.
const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, m: 1e6, g: 1e9,
  kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3,
};

/** "512mb", "64Ki", "1000" → bytes. Undefined when malformed. */
export function parseBytes(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = BYTE_UNITS[m[2].toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** Whether `s` is what Go's strconv.ParseInt(s, 10, 64) accepts: an optional sign, decimal digits, within int64. */
export function isGoInt64(s: string): boolean {
  if (!/^[+-]?\d+$/.test(s)) return false;
  const n = BigInt(s);
  return n >= -9223372036854775808n && n <= 9223372036854775807n;
}
