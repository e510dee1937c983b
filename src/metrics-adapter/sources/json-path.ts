/**
 * @module Pure JSON helpers for the `json` source: a number-preserving JSON parser (integers beyond 2^53 keep
 * their digits) and a small JSONPath subset: `$`, `.key`, `['key']`, `[n]`, `[*]`/`.*`, `[?(@.k == "v")]`.
 */
import { ProtocolError, ConfigError } from '../../core/errors.js';

/** A JSON number, kept as its source text so a label can show every digit. */
export class JsonNumber {
  constructor(readonly text: string) {}
  valueOf(): number {
    return Number(this.text);
  }
}

export type Json = null | boolean | string | JsonNumber | Json[] | { [k: string]: Json };

/** JSON.parse, except that numbers become JsonNumber. Throws ProtocolError with the offset on bad input. */
export function parseJson(text: string): Json {
  let i = 0;
  const fail = (what: string): never => {
    throw new ProtocolError(`bad JSON at offset ${i}: ${what}`);
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const value = (depth: number): Json => {
    if (depth > 512) fail('nested too deeply');
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      const o: { [k: string]: Json } = {};
      ws();
      if (text[i] === '}') { i++; return o; }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const k = str();
        ws();
        if (text[i++] !== ':') fail('expected :');
        const v = value(depth + 1);
        // As JSON.parse: "__proto__" is an own key, never the object's prototype (no prototype pollution from a scrape).
        if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        else o[k] = v;
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === '}') { i++; return o; }
        fail('expected , or }');
      }
    }
    if (ch === '[') {
      i++;
      const a: Json[] = [];
      ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value(depth + 1));
        ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i] === ']') { i++; return a; }
        fail('expected , or ]');
      }
    }
    if (ch === '"') return str();
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return fail('unexpected character');
    i += m[0].length;
    return new JsonNumber(m[0]);
  };
  const str = (): string => {
    const start = i;
    // Fast path: no escapes.
    let j = i + 1;
    while (j < text.length && text[j] !== '"' && text[j] !== '\\') j++;
    if (text[j] === '"') {
      i = j + 1;
      return text.slice(start + 1, j);
    }
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    if (j >= text.length) fail('unterminated string');
    i = j + 1;
    try {
      return JSON.parse(text.slice(start, j + 1)) as string;
    } catch {
      return fail('bad string escape');
    }
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return v;
}

type Step =
  | { t: 'key'; key: string }
  | { t: 'index'; index: number }
  | { t: 'wild' }
  | { t: 'filter'; path: CompiledPath; op?: '==' | '!='; literal?: string | number | boolean | null };

export interface CompiledPath {
  source: string;
  steps: Step[];
}

/** A selected node and the key (object key or array index) it was reached by. */
export interface Node {
  value: Json;
  key: string;
}

/**
 * Compile a path. Accepts `$.a.b`, `@.a`, `.a` and json_exporter's `{.a.b}` / `{ .a }` spellings.
 * Throws ConfigError naming `at` when the path is outside the subset.
 */
export function compilePath(src: string, at: string): CompiledPath {
  let s = src.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim();
  if (s.startsWith('$') || s.startsWith('@')) s = s.slice(1);
  let i = 0;
  const steps: Step[] = [];
  const fail = (what: string): never => {
    throw new ConfigError(at, `path ${JSON.stringify(src)}: ${what} at column ${i + 1}`);
  };
  while (i < s.length) {
    if (s[i] === '.') {
      if (s[i + 1] === '.') fail('recursive descent (..) is not supported');
      i++;
      if (s[i] === '*') { i++; steps.push({ t: 'wild' }); continue; }
      const m = /^[^.[\]\s]+/.exec(s.slice(i));
      if (!m) fail('expected a key');
      steps.push({ t: 'key', key: m![0] });
      i += m![0].length;
    } else if (s[i] === '[') {
      const close = s.indexOf(']', i);
      if (close < 0) fail('missing ]');
      let inner = s.slice(i + 1, close).trim();
      if (inner.startsWith('?(')) {
        // The filter may hold a ']' inside a string literal; find the ')]' that ends it.
        const end = s.indexOf(')]', i);
        if (end < 0) fail('missing )] after filter');
        inner = s.slice(i + 3, end).trim();
        const m = /^(@[^=!<>\s]*)\s*(?:(==|!=)\s*(.+))?$/.exec(inner);
        if (!m) fail('filter must be @.path, @.path == literal or @.path != literal');
        const filter: Step = { t: 'filter', path: compilePath(m![1], at) };
        if (m![2]) {
          filter.op = m![2] as '==' | '!=';
          filter.literal = literal(m![3].trim(), fail);
        }
        steps.push(filter);
        i = end + 2;
        continue;
      }
      if (inner === '*') steps.push({ t: 'wild' });
      else if (/^-?\d+$/.test(inner)) steps.push({ t: 'index', index: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ t: 'key', key: inner.slice(1, -1) });
      else fail(`unsupported selector [${inner}]`);
      i = close + 1;
    } else if (i === 0 && /[A-Za-z_]/.test(s[0])) {
      // A bare leading key (`a.b`) means `$.a.b`.
      s = `.${s}`;
    } else fail(`unexpected ${JSON.stringify(s[i])}`);
  }
  return { source: src, steps };
}

function literal(s: string, fail: (w: string) => never): string | number | boolean | null {
  if (/^'.*'$|^".*"$/.test(s)) return s.slice(1, -1);
  if (s === 'true') return true;
  if (s === 'false') return false;
  if (s === 'null') return null;
  const n = Number(s);
  if (s !== '' && Number.isFinite(n)) return n;
  return fail(`bad literal ${s}`);
}

/** Select every node the path reaches, in document order. */
export function select(root: Json, path: CompiledPath, rootKey = ''): Node[] {
  let nodes: Node[] = [{ value: root, key: rootKey }];
  for (const step of path.steps) {
    const next: Node[] = [];
    for (const n of nodes) {
      const v = n.value;
      if (step.t === 'key') {
        if (isObject(v) && Object.hasOwn(v, step.key)) next.push({ value: v[step.key], key: step.key });
      } else if (step.t === 'index') {
        if (Array.isArray(v)) {
          const idx = step.index < 0 ? v.length + step.index : step.index;
          if (idx >= 0 && idx < v.length) next.push({ value: v[idx], key: String(idx) });
        }
      } else {
        const children: Node[] = Array.isArray(v) ? v.map((x, k) => ({ value: x, key: String(k) })) : isObject(v) ? Object.entries(v).map(([k, x]) => ({ value: x, key: k })) : [];
        if (step.t === 'wild') next.push(...children);
        else for (const c of children) if (matches(c.value, step)) next.push(c);
      }
    }
    nodes = next;
  }
  return nodes;
}

function matches(v: Json, f: Extract<Step, { t: 'filter' }>): boolean {
  const found = select(v, f.path);
  if (!f.op) return found.length > 0;
  const eq = found.some((n) => {
    const x = n.value;
    if (x instanceof JsonNumber) return typeof f.literal === 'number' ? Number(x.text) === f.literal : x.text === f.literal;
    return x === f.literal;
  });
  return f.op === '==' ? eq : !eq;
}

export function isObject(v: Json): v is { [k: string]: Json } {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof JsonNumber);
}
