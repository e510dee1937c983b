/** @module Config loading: defaults → config file → env → flags, validated once into a frozen object. */
import { UsageError } from './errors.js';
import { parseDuration, parseHostPort, type HostPort } from './parse.js';
import { didYouMean } from './suggest.js';

export type FlagKind = 'string' | 'int' | 'number' | 'bool' | 'duration' | 'hostport' | 'enum';

/** One flag: its spelling(s), env var(s), type, default and help. */
export interface Flag<T> {
  kind: FlagKind;
  /** Help text: one line. */
  help: string;
  /** Other `--` spellings accepted for compatibility (e.g. statsd_exporter's `statsd.listen-udp`). */
  aliases?: readonly string[];
  /** One-letter shorthand, used as `-v 5` or `-v=5`. */
  short?: string;
  /** Env vars, first wins. Defaults to `PODKIT_<NAME>` when omitted; `[]` means none. */
  env?: readonly string[];
  /** Value when nothing sets it. Repeatable flags default to []. */
  default?: T;
  /** The flag may be given several times; the value is the array of all of them (env: comma-separated). */
  repeatable?: boolean;
  /** A repeatable flag's env separator instead of `,` (git-sync's key files use `:`, like PATH); `''`: one item. */
  envSeparator?: string;
  /** For `enum`: the allowed values. */
  values?: readonly string[];
  /** The value is a secret: shown as [REDACTED] in help defaults and config dumps. */
  secret?: boolean;
  /** Hidden from --help (deprecated compatibility spellings). */
  hidden?: boolean;
  /** Extra check after type conversion; return a message to reject. */
  check?: (value: T) => string | undefined;
  /** Help placeholder for the value, e.g. HOST:PORT. */
  metavar?: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a spec is a bag of flags of different value types
export type FlagSpec = Record<string, Flag<any>>;

type ScalarOf<F> = F extends Flag<infer T> ? T : never;
type ValueOf<F> = F extends { repeatable: true } ? ScalarOf<F>[] : F extends { default: unknown } ? ScalarOf<F> : ScalarOf<F> | undefined;
export type Values<S extends FlagSpec> = { readonly [K in keyof S]: ValueOf<S[K]> };

function make<T>(kind: FlagKind) {
  return <const O extends Omit<Flag<T>, 'kind'>>(opts: O): O & { kind: FlagKind } & Flag<T> => ({ ...opts, kind }) as O & { kind: FlagKind } & Flag<T>;
}

/** Flag constructors. `duration` values are milliseconds; `hostport` values are `{host, port}`. */
export const flag = {
  string: make<string>('string'),
  int: make<number>('int'),
  number: make<number>('number'),
  bool: make<boolean>('bool'),
  duration: make<number>('duration'),
  hostport: make<HostPort>('hostport'),
  enum: make<string>('enum'),
};

export interface ParseOptions {
  /** The command, for the `see … --help` hint: `podkit git-sync`. Callers prefix messages with it (see core/command.ts). */
  command: string;
  env?: NodeJS.ProcessEnv;
  /** Values from a config file, keyed by flag name; `source` names the file for messages. */
  file?: { values: Record<string, unknown>; source: string };
  /** Accept positional arguments (otherwise they are a usage error). */
  positionals?: boolean;
}

export interface Parsed<S extends FlagSpec> {
  values: Values<S>;
  positionals: string[];
  /** Where each value came from, for `--help`-style dumps and debugging. */
  origin: Readonly<Record<keyof S, 'default' | 'file' | 'env' | 'flag'>>;
}

/**
 * Give every flag that names no env var of its own `<prefix><NAME>` (e.g. PODKIT_REDIS_AMBASSADOR_READ_POLICY), so
 * one component's settings cannot be picked up by another's from a shared environment.
 */
export function withEnvPrefix<S extends FlagSpec>(prefix: string, spec: S): S {
  const out: FlagSpec = {};
  for (const [name, f] of Object.entries(spec)) out[name] = f.env ? f : { ...f, env: [`${prefix}${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`] };
  return out as S;
}

export function envNames(name: string, f: Flag<unknown>): readonly string[] {
  return f.env ?? [`PODKIT_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`];
}

/** Convert one raw string to the flag's type, or throw a UsageError naming `where`. */
export function convert(f: Flag<unknown>, raw: string, where: string): unknown {
  const bad = (what: string) => UsageError.at(where, `${what} (got ${JSON.stringify(f.secret ? '[REDACTED]' : raw)})`);
  let v: unknown;
  switch (f.kind) {
    case 'string':
      v = raw;
      break;
    case 'int': {
      if (!/^[-+]?\d+$/.test(raw.trim())) throw bad('expected an integer');
      v = Number.parseInt(raw, 10);
      break;
    }
    case 'number': {
      const n = Number(raw.trim());
      if (raw.trim() === '' || !Number.isFinite(n)) throw bad('expected a number');
      v = n;
      break;
    }
    case 'bool': {
      const s = raw.trim().toLowerCase();
      if (['true', '1', 't', 'yes', 'y', 'on'].includes(s)) v = true;
      else if (['false', '0', 'f', 'no', 'n', 'off', ''].includes(s)) v = false;
      else throw bad('expected true or false');
      break;
    }
    case 'duration': {
      const ms = parseDuration(raw);
      if (ms === undefined) throw bad('expected a duration like 500ms, 10s, 1m30s');
      v = ms;
      break;
    }
    case 'hostport': {
      const hp = parseHostPort(raw);
      if (!hp) throw bad('expected HOST:PORT');
      v = hp;
      break;
    }
    case 'enum': {
      if (!f.values?.includes(raw)) throw bad(`expected one of ${f.values?.join('|')}`);
      v = raw;
      break;
    }
  }
  const problem = f.check?.(v);
  if (problem) throw bad(problem);
  return v;
}

function splitList(raw: string, sep = ','): string[] {
  return (sep === '' ? [raw] : raw.split(sep)).map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * Parse argv and env against a spec. Flags win over env, env over the config file, the file over defaults.
 * Accepts `--name value`, `--name=value`, `-name` (Go style), `-x value` for shorthands, `--no-name` for bools,
 * and `--` to end flags. Throws UsageError (exit 2) with one line naming the flag or env var.
 */
export function parseConfig<S extends FlagSpec>(spec: S, argv: readonly string[], opts: ParseOptions): Parsed<S> {
  const l = new Layers(spec);
  if (opts.file) l.file(opts.file);
  l.env(opts.env ?? process.env);
  const positionals = l.argv(argv, opts);
  for (const v of Object.values(l.values)) if (v && typeof v === 'object') Object.freeze(v);
  return {
    values: Object.freeze(l.values) as Values<S>,
    positionals,
    origin: Object.freeze(l.origin) as Parsed<S>['origin'],
  };
}

/** The values of one parse, laid over the defaults layer by layer: file, then env, then flags (each wins over the last). */
class Layers {
  readonly values: Record<string, unknown> = {};
  readonly origin: Record<string, 'default' | 'file' | 'env' | 'flag'> = {};
  /** Flag names and aliases → the flag's name. */
  private readonly byName = new Map<string, string>();
  private readonly byShort = new Map<string, string>();

  constructor(private readonly spec: FlagSpec) {
    for (const [name, f] of Object.entries(spec)) {
      this.byName.set(name, name);
      for (const a of f.aliases ?? []) this.byName.set(a, name);
      if (f.short) this.byShort.set(f.short, name);
      this.values[name] = f.repeatable ? [...((f.default as unknown[] | undefined) ?? [])] : f.default;
      this.origin[name] = 'default';
    }
  }

  file(file: NonNullable<ParseOptions['file']>): void {
    for (const [key, raw] of Object.entries(file.values)) {
      const name = this.byName.get(key);
      if (!name) throw new UsageError(`${file.source}: unknown setting "${key}"`);
      const f = this.spec[name];
      const where = `${file.source}: ${key}`;
      const items = Array.isArray(raw) ? raw : [raw];
      const conv = items.map((x) => convert(f, typeof x === 'string' ? x : String(x), where));
      this.values[name] = f.repeatable ? conv : conv[conv.length - 1];
      this.origin[name] = 'file';
    }
  }

  env(env: NodeJS.ProcessEnv): void {
    for (const [name, f] of Object.entries(this.spec)) {
      for (const e of envNames(name, f)) {
        const raw = env[e];
        if (raw === undefined) continue;
        const where = `env ${e}`;
        this.values[name] = f.repeatable ? splitList(raw, f.envSeparator).map((x) => convert(f, x, where)) : convert(f, raw, where);
        this.origin[name] = 'env';
        break;
      }
    }
  }

  /** The flags in `argv`; answers the positional arguments. */
  argv(argv: readonly string[], opts: ParseOptions): string[] {
    const positionals: string[] = [];
    const fromFlags = new Set<string>();
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (arg === '--') {
        positionals.push(...argv.slice(i + 1));
        break;
      }
      if (!arg.startsWith('-') || arg === '-') {
        if (!opts.positionals) throw new UsageError(`unexpected argument "${arg}" (see ${opts.command} --help)`);
        positionals.push(arg);
        continue;
      }
      const { name, inline, alias } = this.flagOf(arg, opts.command);
      const f = this.spec[name];
      // An error names the flag as it was typed: a user of a compatibility spelling may not know the name.
      const where = `flag --${alias ?? name}`;
      let raw: string;
      if (inline !== undefined) raw = inline;
      else if (f.kind === 'bool') raw = 'true';
      else {
        if (i + 1 >= argv.length) throw UsageError.at(where, 'needs a value');
        raw = argv[++i];
      }
      const v = convert(f, raw, where);
      if (f.repeatable) {
        if (!fromFlags.has(name)) this.values[name] = [];
        (this.values[name] as unknown[]).push(v);
      } else this.values[name] = v;
      fromFlags.add(name);
      this.origin[name] = 'flag';
    }
    return positionals;
  }

  /** The flag `arg` names (`--name`, `-name`, `-x`, `--no-name` for a bool) and its `=value`, if any. */
  private flagOf(arg: string, command: string): { name: string; inline?: string; alias?: string } {
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const key = eq >= 0 ? body.slice(0, eq) : body;
    const inline: string | undefined = eq >= 0 ? body.slice(eq + 1) : undefined;
    const name = this.byName.get(key) ?? (key.length === 1 ? this.byShort.get(key) : undefined);
    if (name) return { name, inline, ...(name !== key && key.length > 1 ? { alias: key } : {}) };
    if (key.startsWith('no-') && inline === undefined) {
      const base = this.byName.get(key.slice(3));
      if (base && this.spec[base].kind === 'bool') return { name: base, inline: 'false' };
    }
    throw new UsageError(`unknown flag ${arg.split('=')[0]}${didYouMean(key, this.byName.keys(), (n) => `--${n}`)} (see ${command} --help)`);
  }
}

function showDefault(f: Flag<unknown>): string {
  const d = f.default;
  if (f.secret) return '';
  if (d === undefined || (Array.isArray(d) && d.length === 0) || d === '') return '';
  if (f.kind === 'duration' && typeof d === 'number') return ` (default ${formatDuration(d)})`;
  if (f.kind === 'hostport' && typeof d === 'object' && d && 'port' in d) {
    const hp = d as HostPort;
    return ` (default ${hp.host.includes(':') ? `[${hp.host}]` : hp.host}:${hp.port})`;
  }
  return ` (default ${String(d)})`;
}

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** `--help` text: every flag with its env var(s) and default. */
/**
 * Every --help line in one style, sentence case ("Sync a git repo…"), whatever the flag's author wrote; the
 * `podkit:` mark on flags a peer does not have stays lowercase as the name is.
 */
export function sentence(text: string): string {
  const mark = /^podkit: /.exec(text)?.[0] ?? '';
  const rest = text.slice(mark.length);
  return mark + rest.replace(/^[a-z]/, (c) => c.toUpperCase());
}

export function helpText(spec: FlagSpec, usage: string, summary: string): string {
  const lines = [`Usage: ${usage}`, '', sentence(summary), '', 'Flags:'];
  const rows: [string, string][] = [];
  for (const [name, f] of Object.entries(spec)) {
    if (f.hidden) continue;
    const meta = f.kind === 'bool' ? '' : ` ${f.metavar ?? (f.kind === 'enum' ? f.values?.join('|') : f.kind.toUpperCase())}`;
    const spellings = [f.short ? `-${f.short}, --${name}` : `    --${name}`, ...(f.aliases ?? []).map((a) => `--${a}`)].join(', ');
    const env = envNames(name, f);
    const extra = [f.repeatable ? 'repeatable' : '', env.length ? `env ${env.join(', ')}` : ''].filter(Boolean).join('; ');
    rows.push([`  ${spellings}${meta}`, `${sentence(f.help)}${showDefault(f)}${extra ? ` [${extra}]` : ''}`]);
  }
  const width = Math.min(44, Math.max(...rows.map(([a]) => a.length)) + 2);
  for (const [a, b] of rows) lines.push(a.length + 1 >= width ? `${a}\n${' '.repeat(width)}${b}` : `${a.padEnd(width)}${b}`);
  lines.push('  -h, --help'.padEnd(width) + 'Show this help');
  return lines.join('\n') + '\n';
}
