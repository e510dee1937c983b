/** @module Unit tests for jmx_exporter-style flattening and rules applied to Jolokia values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../core/errors.js';
import { parseJmxRules, recordAttribute, safeName, SampleSink, snakeCase, splitObjectName } from './jolokia-rules.js';

function run(config: Record<string, unknown>, beans: Record<string, Record<string, unknown>>) {
  const set = parseJmxRules(config, 'sources[0]');
  const sink = new SampleSink();
  for (const [mbean, attrs] of Object.entries(beans)) for (const [a, v] of Object.entries(attrs)) recordAttribute(set, sink, mbean, a, v);
  return Object.fromEntries(sink.families().map((f) => [f.name, [f.type, f.metrics.map((m) => [m.labels, m.value])]]));
}

const BEANS = {
  'com.example:type=Cache,name=users': { Hits: 1500, Misses: 500, HitRatio: 0.75, Enabled: true, State: 'RUNNING' },
  'java.lang:type=Memory': { HeapMemoryUsage: { used: 100, max: 400 } },
};

test('without rules, jmx_exporter default names: domain_firstValue_compositeKeys_attr, other properties as labels', () => {
  assert.deepEqual(run({}, BEANS), {
    com_example_Cache_Hits: ['untyped', [[{ name: 'users' }, 1500]]],
    com_example_Cache_Misses: ['untyped', [[{ name: 'users' }, 500]]],
    com_example_Cache_HitRatio: ['untyped', [[{ name: 'users' }, 0.75]]],
    com_example_Cache_Enabled: ['untyped', [[{ name: 'users' }, 1]]],
    java_lang_Memory_HeapMemoryUsage_used: ['untyped', [[{}, 100]]],
    java_lang_Memory_HeapMemoryUsage_max: ['untyped', [[{}, 400]]],
  });
});

test('rules match `domain<k=v, …><keys>attr: value`, first match wins, captures fill name/labels/help', () => {
  const got = run({
    lowercaseOutputName: true,
    rules: [
      { pattern: 'com.example<type=Cache, name=(\\w+)><>(Hits|Misses): (\\d+)', name: 'Cache_$2_total', type: 'COUNTER', labels: { cache: '$1' }, help: 'cache $2' },
      { pattern: 'com.example<type=Cache, name=(?<cache>\\w+)><>HitRatio', name: 'cache_hit_percent', type: 'GAUGE', valueFactor: 100, labels: { cache: '${cache}' } },
      { pattern: 'com.example<type=Cache, name=(\\w+)><>State: RUNNING', name: 'cache_running', value: 1, labels: { cache: '$1' } },
      { pattern: 'java.lang<type=Memory><HeapMemoryUsage>(\\w+)', name: 'jvm_heap_$1_bytes', type: 'GAUGE', attrNameSnakeCase: true },
    ],
  }, BEANS);
  assert.deepEqual(got, {
    cache_hits_total: ['counter', [[{ cache: 'users' }, 1500]]],
    cache_misses_total: ['counter', [[{ cache: 'users' }, 500]]],
    cache_hit_percent: ['gauge', [[{ cache: 'users' }, 75]]],
    cache_running: ['untyped', [[{ cache: 'users' }, 1]]],
    jvm_heap_used_bytes: ['gauge', [[{}, 100]]],
    jvm_heap_max_bytes: ['gauge', [[{}, 400]]],
  });
});

test('with rules, unmatched attributes are dropped; a rule without name uses the default format', () => {
  const got = run({ rules: [{ pattern: 'java.lang<type=Memory>', type: 'GAUGE' }] }, BEANS);
  assert.deepEqual(Object.keys(got), ['java_lang_Memory_HeapMemoryUsage_used', 'java_lang_Memory_HeapMemoryUsage_max']);
  assert.equal(got.java_lang_Memory_HeapMemoryUsage_used[0], 'gauge');
});

test('helpers: safeName, snakeCase, splitObjectName keep jmx_exporter behaviour', () => {
  assert.equal(safeName('a.b--c d'), 'a_b_c_d');
  assert.equal(snakeCase('HeapMemoryUsage'), 'heap_memory_usage');
  assert.equal(snakeCase('CPULoad'), 'cpu_load');
  assert.deepEqual(splitObjectName('d:type=A,name="x,y",z=1'), { domain: 'd', props: [['type', 'A'], ['name', '"x,y"'], ['z', '1']] });
});

test('bad rules name their path', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ rules: {} }, 'sources[0].rules'], [{ rules: [{ pattern: '(' }] }, 'sources[0].rules[0].pattern'], [{ rules: [{ type: 'SUMMARY' }] }, 'sources[0].rules[0].type'],
    [{ rules: [{ labels: { a: 'b' } }] }, 'sources[0].rules[0].labels'], [{ rules: [{ valueFactor: 'x' }] }, 'sources[0].rules[0].valueFactor'], [{ rules: [{ patern: 'x' }] }, 'sources[0].rules[0].patern'],
  ];
  for (const [raw, path] of cases) assert.throws(() => parseJmxRules(raw, 'sources[0]'), (e: unknown) => e instanceof ConfigError && e.path === path, path);
});

test('ObjectName patterns for excludeObjectNames follow JMX semantics', async () => {
  const { compileObjectNamePattern: p } = await import('./jolokia.js');
  assert.equal(p('com.example:type=Cache,name=orders')('com.example:type=Cache,name=orders'), true);
  assert.equal(p('com.example:type=Cache,name=orders')('com.example:name=orders,type=Cache'), true, 'key order does not matter');
  assert.equal(p('com.example:type=Cache')('com.example:type=Cache,name=orders'), false, 'no ,* → exact key set');
  assert.equal(p('com.example:type=Cache,*')('com.example:type=Cache,name=orders'), true);
  assert.equal(p('com.*:*')('com.example:type=X'), true);
  assert.equal(p('java.lang:type=Mem?ry')('java.lang:type=Memory'), true);
  assert.equal(p('java.lang:type=Mem?ry')('java.lang:type=Threading'), false);
});
