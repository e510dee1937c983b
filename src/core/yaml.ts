/**
 * @module YAML read as the Go programs podkit stands in for read it (go-yaml v2: Kubernetes through sigs.k8s.io/yaml,
 * statsd_exporter's mapping file), one reader for every file podkit takes: the `yaml` library's documents, with the
 * one escape go-yaml accepts in double-quoted strings that YAML 1.2 does not (`\'` → `'`), a nesting bound checked
 * without recursion, and an alias bound. The library loads on first use (a sidecar without a YAML file never pays
 * for it). Pure.
 */
import type * as Yaml from 'yaml';
import type { Document, DocumentOptions, ParseOptions, SchemaOptions } from 'yaml';
import { lazy } from './lazy.js';

const yaml = lazy<typeof Yaml>('yaml');

type Options = ParseOptions & DocumentOptions & SchemaOptions;

/** Rewrite `\'` to `'` in a double-quoted scalar's source, leaving every other escape (`\\'` stays `\\'`) as it is. */
function goYamlEscapes(source: string): string {
  if (!source.includes("\\'")) return source;
  let out = '';
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === '\\' && i + 1 < source.length) {
      const next = source[i + 1];
      out += next === "'" ? "'" : ch + next;
      i++;
    } else out += ch;
  }
  return out;
}

type Tag = { tag: string; format?: string; test?: RegExp };
const FLOAT = 'tag:yaml.org,2002:float';
const TIMESTAMP = 'tag:yaml.org,2002:timestamp';

/**
 * The YAML 1.1 schema as go-yaml v2 resolves plain scalars into interface{} (what sigs.k8s.io/yaml does before it
 * makes JSON): no base-60 numbers (`1:20` and `12:30` are strings); a float needs a digit before its exponent (`E1`,
 * `e5`, `.` are strings, where the schema made them NaN); and a timestamp stays the string it is written as
 * (`2021-01-01`: go-yaml keeps it a string there "for backward compatibility"), so the API server sees a string.
 */
function goYamlTags(tags: Tag[]): Tag[] {
  return tags
    .filter((t) => t.format !== 'TIME' && t.tag !== TIMESTAMP)
    .map((t) => {
      if (t.tag !== FLOAT || !t.test || t.test.source.includes('inf')) return t;
      return { ...t, test: t.format === 'EXP' ? /^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$/ : /^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/ };
    });
}

/** Tokens that open a level of nesting. */
const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/**
 * Apply go-yaml's escapes to every double-quoted scalar, walking the tokens without recursion; returns the first
 * collection nested deeper than `maxDepth` (the composer recurses per level and would overflow the stack).
 */
function fixTokens(tokens: unknown[], maxDepth: number): { offset?: number } | undefined {
  const stack: [unknown, number][] = tokens.map((t) => [t, 0]);
  while (stack.length) {
    const [token, depth] = stack.pop()!;
    if (Array.isArray(token)) {
      for (const t of token) stack.push([t, depth]);
      continue;
    }
    if (typeof token !== 'object' || token === null) continue;
    const t = token as { type?: string; source?: string; offset?: number };
    if (t.type === 'double-quoted-scalar' && typeof t.source === 'string') t.source = goYamlEscapes(t.source);
    const d = depth + (t.type && COLLECTIONS.has(t.type) ? 1 : 0);
    if (d > maxDepth) return t;
    for (const v of Object.values(token)) if (typeof v === 'object' && v !== null) stack.push([v, d]);
  }
  return undefined;
}

/** Deeper than any Kubernetes object; the composer, toJS and toString recurse per level, and 256 levels pass even on a 600 KB stack. */
export const MAX_YAML_DEPTH = 256;

/**
 * Every document of a YAML stream; each error and warning carries `linePos` and a message ending in
 * `at line L, column C`, as the library's own parseAllDocuments gives them. `goYamlScalars` (the default) resolves
 * plain scalars as go-yaml v2 does into untyped values (Kubernetes); false keeps the schema's own (a reader that
 * maps scalars to typed fields itself).
 */
export function parseYamlStream(text: string, options: Options = {}, goYamlScalars = true): Document.Parsed[] {
  const { Composer, Document: Doc, LineCounter, Parser, YAMLParseError } = yaml();
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  const tokens = Array.from(parser.parse(text));
  const deep = fixTokens(tokens, MAX_YAML_DEPTH);
  let docs: Document.Parsed[];
  if (deep) {
    // The stream is refused as a whole, as one document with the error where the nesting passes the limit.
    const doc = new Doc(null, options) as Document.Parsed;
    const at = deep.offset ?? 0;
    doc.errors.push(new YAMLParseError([at, at + 1], 'IMPOSSIBLE', `nested more than ${MAX_YAML_DEPTH} levels deep`));
    docs = [doc];
  } else {
    const schema = goYamlScalars ? { customTags: goYamlTags as unknown as SchemaOptions['customTags'] } : {};
    docs = Array.from(new Composer({ ...options, ...schema }).compose(tokens)) as Document.Parsed[];
  }
  for (const d of docs) {
    for (const e of [...d.errors, ...d.warnings]) {
      const start = lines.linePos(e.pos[0]);
      e.linePos = [start, lines.linePos(e.pos[1])];
      e.message += ` at line ${start.line}, column ${start.col}`;
    }
  }
  return docs;
}

/**
 * A document's value, or why it has none: aliases past `maxAliasCount` (a "billion laughs" bomb), a merge key
 * (`<<`) of something other than a mapping. The library throws these from toJS; they are the input's fault.
 */
export function documentValue(doc: Document.Parsed): { value: unknown; error?: undefined } | { error: string } {
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }) };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  }
}

/** The 1-based line of a character offset. */
const lineOf = (text: string, offset: number): number => text.slice(0, offset).split('\n').length;

/** " at line N (yaml.path)" of the document's first alias, where toJS failed on one (no anchor, too many uses). */
function aliasWhere(doc: Document.Parsed, text: string): string {
  const { isPair, isScalar, isSeq, visit } = yaml();
  let where = '';
  visit(doc, {
    Alias(_key, node, ancestors) {
      const parts: string[] = [];
      ancestors.forEach((a, i) => {
        const child = ancestors[i + 1] ?? node;
        if (isPair(a) && isScalar(a.key)) parts.push(String(a.key.value));
        else if (isSeq(a)) parts.push(`[${a.items.indexOf(child as never)}]`);
      });
      const offset = node.range?.[0];
      where = `${offset === undefined ? '' : ` at line ${lineOf(text, offset)}`} (${parts.join('.').replace(/\.\[/g, '[')})`;
      return visit.BREAK;
    },
  });
  return where;
}

/**
 * The value of a file that holds one YAML document (null when it holds none), or why it cannot be read: `where` is
 * " at line N" (with the YAML path of an alias that could not be resolved), `reason` the first error.
 */
export function singleDocument(text: string, options: Options = {}, goYamlScalars = true): { value: unknown; reason?: undefined } | { reason: string; where: string } {
  const docs = parseYamlStream(text, options, goYamlScalars);
  const bad = docs.flatMap((d) => d.errors)[0];
  if (bad) {
    const line = bad.linePos?.[0]?.line;
    return { reason: bad.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''), where: line ? ` at line ${line}` : '' };
  }
  if (docs.length > 1) return { reason: `one document expected, found ${docs.length}`, where: ` at line ${lineOf(text, docs[1].range[0])}` };
  if (docs.length === 0) return { value: null }; // an empty file, as an empty document reads
  const read = documentValue(docs[0]);
  return read.error === undefined ? read : { reason: read.error, where: aliasWhere(docs[0], text) };
}
