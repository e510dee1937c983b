/** @module Errors that end a command at start-up: config errors all at once with file and YAML path, a missing file in words, a busy port with its flag. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { freePort, runPodkit, tempDir, yamlFile } from './helpers/index.js';

const FIX = new URL('./fixtures/pod/', import.meta.url).pathname;

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

test('a busy HTTP port ends each component at once with one line naming the address and the flag that moves it', async () => {
  const holder = createServer().listen(0, '127.0.0.1');
  await once(holder, 'listening');
  const port = (holder.address() as AddressInfo).port;
  try {
    const cases: [string, string[], string][] = [
      ['metrics-adapter', [`--http-bind=127.0.0.1:${port}`, `--statsd.listen-udp=127.0.0.1:${await freePort()}`, '--statsd.listen-tcp='], '--http-bind'],
      ['git-sync', ['--repo=file:///nonexistent/repo.git', `--root=${tempDir('podkit-bind-')}`, `--http-bind=127.0.0.1:${port}`], '--http-bind'],
      ['up', ['--sandbox=host', `--state-dir=${tempDir('podkit-bind-')}`, `--status-bind=127.0.0.1:${port}`, join(FIX, 'web.yaml')], '--status-bind'],
    ];
    for (const [cmd, args, flagName] of cases) {
      const r = await runPodkit([cmd, ...args], { timeoutMs: 20_000 });
      assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').at(-1), `podkit ${cmd}: cannot listen on 127.0.0.1:${port}: the port is in use by another process (choose another with ${flagName})`);
    }
  } finally {
    holder.close();
  }
});

test('hostile YAML in every config file: 10,000 levels of [ and an alias bomb are exit 2 with one line naming the file, never a stack overflow', async () => {
  const deep = yamlFile(`mappings: ${'['.repeat(10_000)}\n`, 'deep.yaml');
  const bomb = yamlFile(['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 11 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n') + '\n', 'bomb.yaml');
  const runs: [string, string[], RegExp, RegExp][] = [
    ['metrics-adapter', [`--statsd.mapping-config=${deep}`], /^podkit metrics-adapter: \S+deep\.yaml: invalid YAML at line 1: nested more than 256 levels deep\n$/, /^podkit metrics-adapter: \S+bomb\.yaml: invalid YAML at line 2 \(b\[0\]\): Excessive alias count indicates a resource exhaustion attack\n$/],
    ['metrics-adapter', [`--config=${deep}`], /^podkit metrics-adapter: \S+deep\.yaml: invalid YAML at line 1: nested more than 256 levels deep\n$/, /^podkit metrics-adapter: \S+bomb\.yaml: invalid YAML at line 2 \(b\[0\]\): Excessive alias count/],
    ['redis-ambassador', ['--master=127.0.0.1:1', `--config=${deep}`], /^podkit redis-ambassador: config: \S+deep\.yaml: invalid YAML at line 1: nested more than 256 levels deep\n$/, /^podkit redis-ambassador: config: \S+bomb\.yaml: invalid YAML at line 2 \(b\[0\]\): Excessive alias count indicates a resource exhaustion attack\n$/],
  ];
  for (const [cmd, args, deepRe, bombRe] of runs) {
    const d = await runPodkit([cmd, ...args]);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stderr, deepRe);
    const b = await runPodkit([cmd, ...args.map((a) => a.replace(deep, bomb))]);
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, bombRe);
  }
});
