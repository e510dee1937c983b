/** @module The house rule (eslint/floors.js) fails on deliberate violations and passes the tree as it is. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ESLint } from 'eslint';

const root = join(import.meta.dirname, '..');
const eslint = new ESLint({ cwd: root });

async function floorsMessages(file: string, code: string): Promise<string[]> {
  const [res] = await eslint.lintText(code, { filePath: join(root, file) });
  return res.messages.filter((m) => m.ruleId === 'podkit/floors').map((m) => m.message);
}

test('a component importing src/cli is refused', async () => {
  const m = await floorsMessages('src/git-sync/x.ts', "export { main } from '../cli/main.js';\n");
  assert.equal(m.length, 1);
  assert.match(m[0], /nothing outside src\/cli imports src\/cli/);
});

test('a component importing another component is refused', async () => {
  const m = await floorsMessages('src/redis-ambassador/x.ts', "import { start } from '../git-sync/index.js';\nexport { start };\n");
  assert.match(m.join('\n'), /a component \(src\/redis-ambassador\) imports only src\/core/);
});

test('core importing a component is refused; dynamic imports count', async () => {
  const m = await floorsMessages('src/core/x.ts', "export const load = () => import('../pod/index.js');\n");
  assert.match(m.join('\n'), /ground floor/);
});

test('inject may import flag specs and pod/spec, nothing else of a component', async () => {
  assert.deepEqual(await floorsMessages('src/inject/x.ts', "export { spec } from '../git-sync/flags.js';\nexport { validateManifest } from '../pod/spec/index.js';\n"), []);
  const m = await floorsMessages('src/inject/x.ts', "export { start } from '../git-sync/index.js';\n");
  assert.match(m.join('\n'), /only through its flags\.ts or pod\/spec/);
});

test('parsers are pure: resp/, statsd/ and pod/spec/ import no sockets, files or processes', async () => {
  for (const [file, mod] of [['src/redis-ambassador/resp/x.ts', 'node:net'], ['src/metrics-adapter/statsd/x.ts', 'node:dgram'], ['src/pod/spec/x.ts', 'node:fs'], ['src/pod/spec/y.ts', 'node:child_process']]) {
    const m = await floorsMessages(file, `import * as m from '${mod}';\nexport { m };\n`);
    assert.match(m.join('\n'), /parsers are pure/, `${file} importing ${mod}`);
  }
  assert.deepEqual(await floorsMessages('src/pod/spec/x.test.ts', "import * as m from 'node:fs';\nexport { m };\n"), []);
});

test('the tree as it is passes the rule', async () => {
  const results = await eslint.lintFiles(['src']);
  const bad = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'podkit/floors').map((m) => `${r.filePath}:${m.line} ${m.message}`));
  assert.deepEqual(bad, []);
});
