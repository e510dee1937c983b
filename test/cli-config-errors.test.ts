/** @module Config errors as a linter reports them: every one at once, each naming the file and YAML path; a missing file in words. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runPodkit, yamlFile } from './helpers/index.js';

test('metrics-adapter: every config error at once, each with the file and YAML path; exit 2', async () => {
  const file = yamlFile('statsd:\n  listen_udp: nope\n  bogus: 1\nlimits: {ttl: x}\nsources:\n  - kind: wat\n', 'adapter.yaml');
  const r = await runPodkit(['metrics-adapter', `--config=${file}`, '--check-config']);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines[0], 'podkit metrics-adapter: 4 config errors:');
  for (const path of ['statsd.bogus: unknown setting', 'limits.ttl: expected a duration', 'sources[0].kind: unknown source kind "wat"', 'statsd.listen_udp: expected HOST:PORT']) {
    assert.ok(lines.some((l) => l.startsWith(`  ${file}: ${path}`)), `${path} in:\n${r.stderr}`);
  }
});

test('metrics-adapter: a missing config or mapping file is named, in words (no bare ENOENT)', async () => {
  const r = await runPodkit(['metrics-adapter', '--config=/nonexistent/adapter.yaml']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'podkit metrics-adapter: /nonexistent/adapter.yaml: cannot read: no such file or directory\n');
  const m = await runPodkit(['metrics-adapter', '--statsd.mapping-config=/nonexistent/mapping.yaml']);
  assert.equal(m.code, 2);
  assert.equal(m.stderr, 'podkit metrics-adapter: --statsd.mapping-config: cannot read /nonexistent/mapping.yaml: no such file or directory\n');
});
