/** @module Structured logs: JSON lines when not on a TTY, readable lines on a TTY; secrets redacted. */

export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
const RANK: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, silent: 99 };

export type Fields = Record<string, unknown>;

export interface Logger {
  readonly level: Level;
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  enabled(level: Level): boolean;
  /** A logger whose lines carry these fields too. */
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  /** Component name, the `component` field of every line. */
  name: string;
  /** Default info. */
  level?: Level;
  /** json, text, or auto (text on a TTY). Default auto; PODKIT_LOG_FORMAT overrides auto. */
  format?: 'json' | 'text' | 'auto';
  /** Where lines go. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Clock, for tests. */
  now?: () => Date;
}

/** Field names whose values are never logged. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|credential|private.?key|api.?key/i;
const REDACTED = '[REDACTED]';

/** Values registered as secrets are scrubbed from every line, wherever they appear. */
const secretValues = new Set<string>();

/** Register a secret value (a password read from a file, a token) so it never reaches a log line. */
export function addSecret(value: string | undefined): void {
  if (value && value.length >= 3) secretValues.add(value);
}

/**
 * Query-string parameters that carry credentials (`?token=`, `&access_token=`, `?apikey=`, `X-Amz-Signature`, …):
 * their values are scrubbed wherever a URL is logged. Errs on the side of scrubbing (`?monkey=` goes too).
 */
const SECRET_PARAM = /([?&;][^=&#\s]*(?:token|key|pass|pwd|secret|signature|sig|auth|credential|session)[^=&#\s]*=)[^&#\s]+/gi;

/** Scrub URL credentials (user:password@ and secret query parameters) and registered secret values from a string. */
export function redactString(s: string): string {
  let out = s.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/@\s:]+)(:[^/@\s]*)?@/gi, (_m, scheme: string, user: string, pass?: string) =>
    pass ? `${scheme}${user}:${REDACTED}@` : `${scheme}${user}@`,
  );
  if (out.includes('=')) out = out.replace(SECRET_PARAM, `$1${REDACTED}`);
  for (const v of secretValues) if (out.includes(v)) out = out.split(v).join(REDACTED);
  return out;
}

/** Deep copy of a value with secret-named keys and secret values redacted. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object' || depth > 6) return value;
  if (value instanceof Error) {
    const out: Fields = { message: redactString(value.message), name: value.name };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  const out: Fields = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) && v !== undefined && v !== '' ? REDACTED : redact(v, depth + 1);
  return out;
}

const COLOR: Record<string, string> = { trace: '\x1b[90m', debug: '\x1b[36m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' };

export function parseLevel(text: string): Level | undefined {
  const t = text.toLowerCase();
  return t in RANK ? (t as Level) : undefined;
}

/** git-sync style `-v N`: 0 → info, 1-4 → debug, ≥ 5 → trace. */
export function levelFromVerbosity(v: number): Level {
  return v >= 5 ? 'trace' : v >= 1 ? 'debug' : 'info';
}

export function createLogger(opts: LoggerOptions): Logger {
  const stream = opts.stream ?? process.stderr;
  const level = opts.level ?? 'info';
  const envFormat = process.env.PODKIT_LOG_FORMAT;
  let format = opts.format ?? 'auto';
  if (format === 'auto' && (envFormat === 'json' || envFormat === 'text')) format = envFormat;
  const text = format === 'text' || (format === 'auto' && Boolean(stream.isTTY));
  const color = text && Boolean(stream.isTTY) && !process.env.NO_COLOR;
  const now = opts.now ?? (() => new Date());
  return build({ component: opts.name }, level, text, color, stream, now);
}

function build(base: Fields, level: Level, text: boolean, color: boolean, stream: NodeJS.WritableStream, now: () => Date): Logger {
  const min = RANK[level];
  const write = (lvl: Level, msg: string, fields?: Fields) => {
    if (RANK[lvl] < min) return;
    const clean = redact({ ...base, ...fields }) as Fields;
    const ts = now().toISOString();
    let line: string;
    if (text) {
      const { component, ...rest } = clean;
      const kv = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`)
        .join(' ');
      const lv = color ? `${COLOR[lvl]}${lvl.toUpperCase().padEnd(5)}\x1b[0m` : lvl.toUpperCase().padEnd(5);
      line = `${ts.slice(11, 23)} ${lv} [${String(component)}] ${redactString(msg)}${kv ? ` ${kv}` : ''}\n`;
    } else {
      line = JSON.stringify({ ts, level: lvl, msg: redactString(msg), ...clean }) + '\n';
    }
    stream.write(line);
  };
  return {
    level,
    trace: (m, f) => write('trace', m, f),
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    enabled: (l) => RANK[l] >= min,
    child: (fields) => build({ ...base, ...fields }, level, text, color, stream, now),
  };
}

/** A logger that drops everything, for library use and tests. */
export const silentLogger: Logger = createLogger({ name: 'silent', level: 'silent', format: 'json' });
