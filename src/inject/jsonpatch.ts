/** @module RFC 6902 JSON Patch for plain JSON values: a structural diff that keeps named list items in place, and an applier. */
import { ConfigError } from '../core/errors.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export type PatchOp =
  | { op: 'add'; path: string; value: Json }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: Json };

/** RFC 6901 escaping of one reference token. */
export function escapeToken(t: string): string {
  return t.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function unescapeToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Split a JSON Pointer into tokens; `''` is the whole document. */
export function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new ConfigError('', `bad JSON pointer ${JSON.stringify(p)}`);
  return p.slice(1).split('/').map(unescapeToken);
}

export function pointer(tokens: readonly (string | number)[]): string {
  return tokens.map((t) => `/${escapeToken(String(t))}`).join('');
}

function isObj(v: unknown): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

/** Names of a list of `{name: …}` objects, or undefined when the list is not keyed by unique names. */
function names(list: readonly Json[]): string[] | undefined {
  const out: string[] = [];
  for (const x of list) {
    if (!isObj(x) || typeof x.name !== 'string') return undefined;
    out.push(x.name);
  }
  return new Set(out).size === out.length ? out : undefined;
}

/**
 * The ops that turn `a` into `b`. Objects are diffed key by key; lists of uniquely named items (containers,
 * volumes, mounts) are matched by name so an app container that gains a mount gets one `add`, not a
 * replacement; other lists are matched by a longest common subsequence of equal items.
 */
export function diff(a: Json, b: Json, path: (string | number)[] = []): PatchOp[] {
  if (deepEqual(a, b)) return [];
  if (isObj(a) && isObj(b)) {
    const ops: PatchOp[] = [];
    for (const k of Object.keys(a)) if (!(k in b)) ops.push({ op: 'remove', path: pointer([...path, k]) });
    for (const k of Object.keys(b)) {
      if (!(k in a)) ops.push({ op: 'add', path: pointer([...path, k]), value: b[k] });
      else ops.push(...diff(a[k], b[k], [...path, k]));
    }
    return ops;
  }
  if (Array.isArray(a) && Array.isArray(b)) return diffList(a, b, path);
  return [{ op: 'replace', path: pointer(path), value: b }];
}

function diffList(a: Json[], b: Json[], path: (string | number)[]): PatchOp[] {
  const na = names(a);
  const nb = names(b);
  // Pairs (i in a, j in b) of items kept; everything else in a is removed and in b added.
  let pairs: [number, number][];
  if (na && nb) {
    pairs = [];
    for (let i = 0; i < na.length; i++) {
      const j = nb.indexOf(na[i]);
      if (j >= 0) pairs.push([i, j]);
    }
    // Kept items must keep their relative order, or a positional patch cannot express the move.
    if (pairs.some(([, j], k) => k > 0 && j < pairs[k - 1][1])) return [{ op: 'replace', path: pointer(path), value: b }];
  } else pairs = lcs(a, b);
  const ops: PatchOp[] = [];
  const keptA = new Set(pairs.map(([i]) => i));
  for (let i = a.length - 1; i >= 0; i--) if (!keptA.has(i)) ops.push({ op: 'remove', path: pointer([...path, i]) });
  // After the removals the kept items sit at 0..k-1 in order; diff them in place, then insert the new items.
  pairs.forEach(([i, j], k) => ops.push(...diff(a[i], b[j], [...path, k])));
  const keptB = new Set(pairs.map(([, j]) => j));
  for (let j = 0; j < b.length; j++) if (!keptB.has(j)) ops.push({ op: 'add', path: pointer([...path, j]), value: b[j] });
  return ops;
}

function lcs(a: Json[], b: Json[]): [number, number][] {
  const ka = a.map((x) => JSON.stringify(x));
  const kb = b.map((x) => JSON.stringify(x));
  const t: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--) t[i][j] = ka[i] === kb[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (ka[i] === kb[j]) {
      out.push([i, j]);
      i++;
      j++;
    } else if (t[i + 1][j] >= t[i][j + 1]) i++;
    else j++;
  }
  return out;
}

/** Apply ops to a deep copy of `doc` (RFC 6902 add/remove/replace/test semantics for the ops podkit emits). */
export function applyPatch(doc: Json, ops: readonly { op: string; path: string; value?: unknown }[]): Json {
  let root = structuredClone(doc);
  for (const o of ops) {
    const tokens = parsePointer(o.path);
    if (tokens.length === 0) {
      if (o.op === 'remove') throw new ConfigError('', 'cannot remove the whole document');
      root = structuredClone(o.value as Json);
      continue;
    }
    const last = tokens[tokens.length - 1];
    let parent: Json = root;
    for (const t of tokens.slice(0, -1)) {
      const next: Json | undefined = Array.isArray(parent) ? parent[index(t, parent.length - 1)] : isObj(parent) ? parent[t] : undefined;
      if (next === undefined) throw new ConfigError(o.path, 'path does not exist');
      parent = next;
    }
    const value = structuredClone(o.value as Json);
    if (Array.isArray(parent)) {
      if (o.op === 'add') parent.splice(last === '-' ? parent.length : index(last, parent.length), 0, value);
      else if (o.op === 'remove') parent.splice(index(last, parent.length - 1), 1);
      else if (o.op === 'replace') parent[index(last, parent.length - 1)] = value;
      else throw new ConfigError('', `unsupported op ${o.op}`);
    } else if (isObj(parent)) {
      if ((o.op === 'remove' || o.op === 'replace') && !(last in parent)) throw new ConfigError(o.path, 'path does not exist');
      if (o.op === 'add' || o.op === 'replace') parent[last] = value;
      else if (o.op === 'remove') delete parent[last];
      else throw new ConfigError('', `unsupported op ${o.op}`);
    } else throw new ConfigError(o.path, 'parent is not a container');
  }
  return root;
}

function index(t: string, max: number): number {
  if (!/^(0|[1-9]\d*)$/.test(t)) throw new ConfigError('', `bad array index ${JSON.stringify(t)}`);
  const i = Number(t);
  if (i > max) throw new ConfigError('', `array index ${i} out of range`);
  return i;
}
