/** @module Walks a YAML value against a field table: unknown fields, bad types, missing required fields, fields podkit ignores. */
import { closest } from '../../core/suggest.js';
import { isQuantity } from './resources.js';
import type { Field } from './schema.js';
import type { Issue } from './types.js';

/** The range of a Kubernetes int32 and int64 field (as doubles: 2^63 - 1 reads as 2^63, close enough for a bound). */
const INT_RANGE = { 32: [-(2 ** 31), 2 ** 31 - 1], 64: [-(2 ** 63), 2 ** 63 - 1] } as const;

/**
 * `record[key]` when the record itself has the key: a manifest's words (a kind, a field, a variable named
 * `constructor` or `toString`) must not find Object.prototype's members.
 */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  // JSON.stringify would print Infinity and NaN (a YAML 1e400, .nan) as null.
  return `${typeof v} ${typeof v === 'number' ? String(v) : JSON.stringify(v)}`;
}

export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Check `value` against `field`, appending issues. `path` is the YAML path of `value`. */
export function walk(value: unknown, field: Field, path: string, out: Issue[]): void {
  if (value === undefined || value === null) return;
  if (field.ignored) out.push({ severity: 'warning', path, message: `ignored: ${field.ignored}` });
  const bad = (want: string): void => void out.push({ severity: 'error', path, message: `must be ${want}, got ${describe(value)}` });
  switch (field.t) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') return bad('a string');
      if (field.enum && !field.enum.includes(value)) out.push({ severity: 'error', path, message: `must be one of ${field.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}` });
      return;
    case 'int': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return bad('an integer');
      // Beyond the field's width the API server's decoder refuses the object ("cannot unmarshal number … of type int32").
      const bits = field.bits ?? 32;
      const [lo, hi] = [field.min ?? INT_RANGE[bits][0], field.max ?? INT_RANGE[bits][1]];
      const width = (bound: number | undefined, v: number) => (bound === undefined ? `${v} (a ${bits}-bit integer)` : `${bound}`);
      if (value < lo) out.push({ severity: 'error', path, message: `must be at least ${width(field.min, lo)}, got ${value}` });
      if (value > hi) out.push({ severity: 'error', path, message: `must be at most ${width(field.max, hi)}, got ${value}` });
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') bad('true or false');
      return;
    case 'intOrString':
      if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) bad('an integer or a string');
      return;
    case 'quantity':
      if (!isQuantity(value)) bad('a quantity like 100m, 1, 64Mi');
      return;
    case 'map':
      if (!isObject(value)) return bad('a mapping of strings');
      for (const [k, v] of Object.entries(value)) {
        if (typeof v !== 'string') out.push({ severity: 'error', path: join(path, k), message: `must be a string, got ${describe(v)} (quote it in YAML)` });
      }
      return;
    case 'array':
      if (!Array.isArray(value)) return bad('a list');
      value.forEach((item, i) => {
        if (item === null || item === undefined) out.push({ severity: 'error', path: `${path}[${i}]`, message: 'must not be empty' });
        else walk(item, field.of, `${path}[${i}]`, out);
      });
      return;
    case 'object':
      if (!isObject(value)) return bad('a mapping');
      for (const [k, v] of Object.entries(value)) {
        const f = own(field.fields, k);
        if (!f) {
          const near = closest(k, Object.keys(field.fields));
          out.push({ severity: 'error', path: join(path, k), message: `unknown field${near ? ` (did you mean "${near}"?)` : ''}` });
        } else walk(v, f, join(path, k), out);
      }
      for (const [k, f] of Object.entries(field.fields)) {
        if (f.required && (value[k] === undefined || value[k] === null)) out.push({ severity: 'error', path: join(path, k), message: 'is required' });
      }
      return;
  }
}

