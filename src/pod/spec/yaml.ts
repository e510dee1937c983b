/**
 * @module YAML streams read as Kubernetes reads them (sigs.k8s.io/yaml → go-yaml): the `yaml` library's documents, with
 * the one escape go-yaml accepts in double-quoted strings that YAML 1.2 does not (`\'` → `'`). Pure.
 */
import { Composer, LineCounter, Parser, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';

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

function fixTokens(token: unknown): void {
  if (Array.isArray(token)) {
    for (const t of token) fixTokens(t);
    return;
  }
  if (typeof token !== 'object' || token === null) return;
  const t = token as { type?: string; source?: string };
  if (t.type === 'double-quoted-scalar' && typeof t.source === 'string') t.source = goYamlEscapes(t.source);
  for (const v of Object.values(token)) if (typeof v === 'object' && v !== null) fixTokens(v);
}

/**
 * Every document of a YAML stream; each error and warning carries `linePos` and a message ending in
 * `at line L, column C`, as the library's own parseAllDocuments gives them.
 */
export function parseYamlStream(text: string, options: Options = {}): Document.Parsed[] {
  const lines = new LineCounter();
  const parser = new Parser(lines.addNewLine);
  const tokens = Array.from(parser.parse(text));
  fixTokens(tokens);
  const docs = Array.from(new Composer(options).compose(tokens)) as Document.Parsed[];
  for (const d of docs) {
    for (const e of [...d.errors, ...d.warnings]) {
      const start = lines.linePos(e.pos[0]);
      e.linePos = [start, lines.linePos(e.pos[1])];
      e.message += ` at line ${start.line}, column ${start.col}`;
    }
  }
  return docs;
}
