/** @module Golden files: test/fixtures/inject/X.yaml → X.injected.yaml; a stale or missing golden fails (PODKIT_UPDATE_GOLDEN=1 rewrites them). */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../src/core/config.js';
import { components, injectText } from '../src/inject/index.js';
import { validateObject } from '../src/inject/validate/index.js';
import { stopAll, tempDir } from './helpers/index.js';

after(stopAll);

const DIR = fileURLToPath(new URL('./fixtures/inject/', import.meta.url));
const UPDATE = process.env.PODKIT_UPDATE_GOLDEN === '1';
/** Fixed so goldens do not change with the package version. */
const IMAGE = 'ghcr.io/podkit/podkit:test';

const inputs = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && !f.endsWith('.injected.yaml')).sort();
const goldenOf = (f: string) => f.replace(/\.yaml$/, '.injected.yaml');
const modeOf = (f: string) => (f.endsWith('.classic.yaml') ? 'classic' : 'native');
const inject = (text: string, f: string, direction: 'inject' | 'uninject' = 'inject') => injectText(text, { source: f, image: IMAGE, version: 'test', sidecarMode: modeOf(f), direction });
const objects = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown).filter((v) => v !== null);

interface C {
  name: string;
  command: string[];
  args: string[];
}
/** The podkit containers of any workload kind's pod template. */
function podkitContainers(o: unknown): C[] {
  const found: C[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      const r = v as Record<string, unknown>;
      if (typeof r.name === 'string' && r.name.startsWith('podkit-') && Array.isArray(r.args)) found.push(r as unknown as C);
      else Object.values(r).forEach(visit);
    }
  };
  visit(o);
  return found;
}

/** Compare output with its golden; returns why it is stale, or undefined when it matches. Rewrites it under UPDATE. */
function checkGolden(actual: string, goldenPath: string, update = UPDATE): string | undefined {
  if (update) {
    writeFileSync(goldenPath, actual);
    return undefined;
  }
  if (!existsSync(goldenPath)) return `${goldenPath} is missing (run with PODKIT_UPDATE_GOLDEN=1 to create it)`;
  const want = readFileSync(goldenPath, 'utf8');
  if (want === actual) return undefined;
  const a = actual.split('\n');
  const w = want.split('\n');
  const line = a.findIndex((l, i) => l !== w[i]);
  return `${goldenPath} is stale at line ${line + 1}: want ${JSON.stringify(w[line])}, got ${JSON.stringify(a[line])} (review, then PODKIT_UPDATE_GOLDEN=1 to rewrite)`;
}

describe('inject goldens', () => {
  test('there are fixtures, and every golden has its input', () => {
    assert.ok(inputs.length >= 5, `fixtures in ${DIR}`);
    for (const g of readdirSync(DIR).filter((f) => f.endsWith('.injected.yaml'))) {
      assert.ok(existsSync(join(DIR, g.replace(/\.injected\.yaml$/, '.yaml'))), `orphan golden ${g}`);
    }
  });

  for (const f of inputs) {
    describe(f, () => {
      const input = readFileSync(join(DIR, f), 'utf8');
      const out = inject(input, f);

      test('matches its golden', () => {
        const stale = checkGolden(out, join(DIR, goldenOf(f)));
        assert.equal(stale, undefined, stale);
      });
      test('injecting twice equals injecting once', () => {
        assert.equal(inject(out, f), out);
      });
      test('--uninject removes exactly what was added', () => {
        assert.deepEqual(objects(inject(out, f, 'uninject')), objects(input));
      });
      test('comments of the input survive', () => {
        for (const line of input.split('\n')) {
          const c = line.indexOf('# ');
          if (c >= 0 && !line.slice(0, c).includes('"')) assert.ok(out.includes(line.slice(c)), `comment lost: ${line.slice(c)}`);
        }
      });
      test("every added container's args parse with its component's own flag spec", () => {
        for (const o of objects(out) as { spec?: Record<string, unknown> }[]) {
          for (const c of podkitContainers(o)) {
            const def = components.find((d) => d.container === c.name);
            assert.ok(def, c.name);
            assert.deepEqual(c.command, ['podkit', def.name]);
            assert.doesNotThrow(() => parseConfig(def.spec, c.args, { command: `podkit ${def.name}`, env: {} }), `${c.name} ${c.args.join(' ')}`);
          }
        }
      });
      test('every resulting object passes strict validation', () => {
        for (const o of objects(out)) assert.deepEqual(validateObject(o), []);
      });
    });
  }

  test('the golden check fails on a stale golden and on a missing one', () => {
    const f = inputs[0];
    const out = inject(readFileSync(join(DIR, f), 'utf8'), f);
    const tmp = join(tempDir(), 'stale.injected.yaml');
    writeFileSync(tmp, out.replace('podkit-', 'podkat-'));
    assert.match(checkGolden(out, tmp, false) ?? '', /is stale at line \d+/);
    assert.match(checkGolden(out, `${tmp}.missing`, false) ?? '', /is missing/);
  });
});
