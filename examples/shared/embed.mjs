// Copies examples/shared/app.mjs into every example's ConfigMap (key app.mjs), so each pod file stays
// self-contained (it runs with `podkit up` and on a cluster alike). Run after editing app.mjs:
//   node examples/shared/embed.mjs        (test/examples-files.test.ts fails when a copy is stale)
import { readFileSync, writeFileSync } from 'node:fs';

const here = new URL('.', import.meta.url);
const app = readFileSync(new URL('app.mjs', here), 'utf8');
const block = app.split('\n').map((l) => (l ? `    ${l}` : '')).join('\n').replace(/\n*$/, '\n');
export const FILES = ['redis-ambassador/pods.yaml', 'metrics-adapter/pod.yaml', 'metrics-adapter/annotated.yaml', 'all-three/pods.yaml'];
for (const rel of FILES) {
  const url = new URL(`../${rel}`, here);
  let text;
  try {
    text = readFileSync(url, 'utf8');
  } catch {
    continue;
  }
  // The block runs from "  app.mjs: |" to the next line that is not indented by 4 (blank lines included).
  const next = text.replace(/^( {2}app\.mjs: \|\n)(?:(?: {4}.*)?\n)*?(?=\S|---| {0,3}\S)/m, (_m, head) => head + block);
  if (next !== text) writeFileSync(url, next);
  console.log(`${rel}: ${next === text ? 'up to date' : 'updated'}`);
}
