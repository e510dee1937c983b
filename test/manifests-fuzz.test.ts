/**
 * @module A bounded, seeded fuzz of what reads manifests (`podkit up --dry-run`'s and `podkit inject`'s in-process
 * paths) over the Kubernetes documentation's examples: byte mutations, and structural ones after parsing (a scalar
 * replaced by a list, a map, null, a huge or negative number, a long or odd string; a field deleted, copied under an
 * odd key, wrapped in a list). Each case either passes or is refused with a catalogue error (exit 2) naming the
 * file; inject's output is YAML that the same validation accepts. A failure names the seed and case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { loadManifests, parseManifests } from '../src/pod/spec/index.js';
import { documentValue, parseYamlStream } from '../src/core/yaml.js';
import { injectText } from '../src/inject/index.js';
import { assertValid } from '../src/inject/validate/index.js';
import { PodkitError } from '../src/core/errors.js';
import { Rng, fuzzSeed, mutate, mutateNumber } from './helpers/fuzz.js';

const CORPUS = fileURLToPath(new URL('./fixtures/k8s-examples/', import.meta.url));
const files = (function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : n.endsWith('.yaml') ? [join(dir, n)] : []));
})(CORPUS).sort();
const texts = files.map((f) => readFileSync(f, 'utf8'));

const HOSTILE: unknown[] = [[], ['x', 1], {}, { a: { b: 1 } }, null, true, Infinity, -Infinity, 2 ** 64, 2 ** 31, -1, 0.5, 'x'.repeat(100_000), 'a\u0000b', 'ü名前', '', '..', '/', 'A', 'a'.repeat(254), '0x10', 'constructor', 'toString', '$(constructor)', "metadata.labels['toString']"];
const KEYS = ['constructor', 'toString', '__proto__', '', 'a\u0000', 'x'.repeat(300), 'name', 'spec', 'podkit.io/git-sync.repo', 'podkit.io/status', 'podkit.io/sidecar-mode'];

type Path = (string | number)[];
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...at, k], out);
  return out;
}

/** One structural change at a random node of `doc` (in place; the root may be replaced). */
function change(doc: unknown, rng: Rng): unknown {
  const at = rng.pick(paths(doc));
  const value = structuredClone(rng.pick(HOSTILE));
  if (at.length === 0) return rng.int(4) === 0 ? value : doc;
  let parent = doc as Record<string | number, unknown>;
  for (const k of at.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const key = at[at.length - 1];
  const op = rng.int(5);
  if (op <= 1) parent[key] = value;
  else if (op === 2 && Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (op === 2) delete parent[key];
  else if (op === 3 && !Array.isArray(parent)) Object.defineProperty(parent, rng.pick(KEYS), { value: structuredClone(parent[key]), enumerable: true, configurable: true, writable: true });
  else parent[key] = [parent[key]];
  return doc;
}

/** The case's text: a byte- or number-level mutation, or 1–3 structural changes to one document. */
function hostileCase(rng: Rng): string {
  const base = texts[rng.int(texts.length)];
  const kind = rng.int(3);
  if (kind === 0) return mutateNumber(base, rng);
  if (kind === 1) return mutate(Buffer.from(base), rng, 1 + rng.int(4)).toString('utf8');
  const docs = parseAllDocuments(base, { version: '1.1' }) as unknown as { toJS(): unknown }[];
  const values = docs.map((d) => d.toJS());
  const i = rng.int(values.length);
  for (let n = 1 + rng.int(3); n > 0; n--) values[i] = change(values[i], rng);
  return values.map((v) => stringify(v, { version: '1.1' })).join('---\n');
}

/** A refusal must be a catalogue error with exit 2 whose message names the input. */
function assertRefusal(e: unknown, where: string): void {
  assert.ok(e instanceof PodkitError && e.exitCode === 2, `${where}: ${(e as Error)?.stack ?? String(e)}`);
  assert.match((e as Error).message, /in\.yaml/, where);
}

function checkCase(text: string, where: string): void {
  // podkit up --dry-run: issues (the first error names file and field), never a throw.
  const p = parseManifests(text, 'in.yaml');
  const loaded = loadManifests(p.objects, { local: true, images: true });
  for (const i of [...p.issues, ...loaded.issues]) assert.match(i.source ?? '', /^in\.yaml[#:]/, `${where}: ${JSON.stringify(i)}`);
  for (const pod of loaded.pods) assert.ok(pod.spec.containers.every((c) => typeof c.name === 'string'), where);
  // podkit inject: refused with exit 2, or valid YAML the same validation accepts.
  let out: string;
  try {
    out = injectText(text, { source: 'in.yaml', version: 'fuzz' });
  } catch (e) {
    return assertRefusal(e, where);
  }
  const docs = parseYamlStream(out, { version: '1.1' });
  const objects = docs.flatMap((d, i) => {
    assert.deepEqual(d.errors, [], `${where}: inject wrote YAML with errors:\n${out.slice(0, 2000)}`);
    const r = documentValue(d);
    assert.equal(r.error, undefined, where);
    return r.value === null || r.value === undefined ? [] : [{ doc: i + 1, value: r.value }];
  });
  assert.doesNotThrow(() => assertValid(objects, 'out.yaml'), where);
}

test('hostile manifests from seeded mutations of the documentation examples: exit 0 or a refusal naming the file, never a throw', () => {
  assert.equal(files.length, 224);
  let cases = 0;
  for (const seed of [1, 2, 3].map((s) => fuzzSeed(s))) {
    const rng = new Rng(seed);
    for (let n = 0; n < 120; n++, cases++) checkCase(hostileCase(rng), `seed ${seed} case ${n}`);
  }
  assert.equal(cases, 360);
});
