/** @module statsd_exporter mapping YAML: matching semantics and validation errors that name the YAML path. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../../core/errors.js';
import { Mapper, parseMappingConfig } from './mapping.js';

const YAML = `
defaults:
  observer_type: histogram
  buckets: [0.1, 1, 10]
  ttl: 1m
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatcher_events_total"
  labels:
    processor: "$1"
    action: "$2"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "\${1}_server"
- match: test.timing.*
  name: my_timer
  timer_type: summary
  quantiles:
    - quantile: 0.99
      error: 0.001
- match: test.hist.*
  name: my_hist
  histogram_options:
    buckets: [1, 2]
- match: drop.me.*
  action: drop
  name: dropped
- match: only.counter
  match_metric_type: counter
  name: only_counter_total
- match: test\\.(\\w+)\\.(\\w+)\\.counter
  match_type: regex
  name: "\${2}_total"
  labels:
    provider: "$1"
- match: http.request.*
  help: "Total number of http requests"
  name: "http_requests_total"
  ttl: 5s
  honor_labels: true
  labels:
    code: "$1"
`;

describe('statsd mapping', () => {
  const cfg = parseMappingConfig(parseYaml(YAML));
  const m = new Mapper(cfg);

  test('glob matches with $n and ${n} captures', () => {
    const r = m.map('test.dispatcher.FooProcessor.send.success', 'c');
    assert.equal(r.name, 'dispatcher_events_total');
    assert.deepEqual(Object.fromEntries(r.labels), { processor: 'FooProcessor', action: 'send', outcome: 'success', job: 'test_dispatcher' });
    const s = m.map('foo_product.signup.facebook.failure', 'c');
    assert.equal(s.name, 'signup_events_total');
    assert.deepEqual(Object.fromEntries(s.labels), { provider: 'facebook', outcome: 'failure', job: 'foo_product_server' });
  });

  test('unmatched names are escaped as statsd_exporter does', () => {
    assert.equal(m.map('test.web-server.foo.bar', 'g').name, 'test_web_server_foo_bar');
    assert.equal(m.map('test.web-server.foo.bar', 'c').name, 'test_web_server_foo_bar', 'a counter keeps its name, as statsd_exporter exposes it');
    assert.equal(new Mapper(cfg, { alwaysTotal: true }).map('test.web-server.foo.bar', 'c').name, 'test_web_server_foo_bar_total', 'counters_always_total');
    assert.equal(m.map('9lives', 'g').name, '_9lives');
  });

  test('regex matches with captures in name and labels', () => {
    const r = m.map('test.aws.requests.counter', 'c');
    assert.equal(r.name, 'requests_total');
    assert.deepEqual(r.labels, [['provider', 'aws']]);
  });

  test('match_metric_type restricts by StatsD type', () => {
    assert.equal(m.map('only.counter', 'c').name, 'only_counter_total');
    assert.equal(m.map('only.counter', 'g').name, 'only_counter');
    assert.equal(m.map('only.counter', 'ms').name, 'only_counter');
  });

  test('action: drop', () => {
    assert.equal(m.map('drop.me.now', 'c').drop, true);
  });

  test('observer types, buckets, quantiles, ttl, help and honor_labels from mapping and defaults', () => {
    const t = m.map('test.timing.x', 'ms').mapping!;
    assert.equal(t.observerType, 'summary');
    assert.deepEqual(t.summary.quantiles, [{ quantile: 0.99, error: 0.001 }]);
    assert.equal(t.ttlMs, 60_000);
    const h = m.map('test.hist.x', 'ms').mapping!;
    assert.equal(h.observerType, 'histogram');
    assert.deepEqual(h.buckets, [1, 2]);
    const d = m.map('test.dispatcher.a.b.c', 'ms').mapping!;
    assert.deepEqual(d.buckets, [0.1, 1, 10]);
    const http = m.map('http.request.200', 'c').mapping!;
    assert.equal(http.ttlMs, 5000);
    assert.equal(http.help, 'Total number of http requests');
    assert.equal(http.honorLabels, true);
  });

  test('first matching glob wins in file order; glob_disable_ordering prefers literals', () => {
    const ordered = new Mapper(parseMappingConfig({ mappings: [{ match: 'a.*', name: 'star' }, { match: 'a.b', name: 'literal' }] }));
    assert.equal(ordered.map('a.b', 'g').name, 'star');
    const unordered = new Mapper(parseMappingConfig({ defaults: { glob_disable_ordering: true }, mappings: [{ match: 'a.*', name: 'star' }, { match: 'a.b', name: 'literal' }] }));
    assert.equal(unordered.map('a.b', 'g').name, 'literal');
  });

  test('the default observer is a summary, as in statsd_exporter', () => {
    assert.equal(parseMappingConfig({}).defaults.observerType, 'summary');
  });

  test('bad mappings name the YAML path', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ mappings: [{ match: 'a.*' }] }, /^mappings\[0\]\.name: /],
      [{ mappings: [{ match: 'a b', name: 'x' }] }, /^mappings\[0\]\.match: invalid glob/],
      [{ mappings: [{ match: '(', match_type: 'regex', name: 'x' }] }, /^mappings\[0\]\.match: invalid regex/],
      [{ mappings: [{ match: 'a', name: 'x', labels: { 'bad-label': 'v' } }] }, /^mappings\[0\]\.labels\.bad-label: invalid label name/],
      [{ mappings: [{ match: 'a', name: 'x', observer_type: 'sketch' }] }, /^mappings\[0\]\.observer_type: expected histogram or summary/],
      [{ mappings: [{ match: 'a', name: 'x', ttl: 'soon' }] }, /^mappings\[0\]\.ttl: expected a duration/],
      [{ mappings: [{ match: 'a', name: 'x', action: 'keep' }] }, /^mappings\[0\]\.action/],
      [{ mappings: [{ match: 'a', name: 'x', buckets: [2, 1] }] }, /^mappings\[0\]\.buckets: buckets must be in increasing order/],
      [{ mappings: [{ match: 'a', name: 'x', observer_type: 'histogram', summary_options: {} }] }, /^mappings\[0\]\.summary_options/],
      [{ mappings: [{ match: 'a', name: 'x', typo: 1 }] }, /^mappings\[0\]\.typo: unknown setting/],
      [{ defaults: { match_type: 'fuzzy' } }, /^defaults\.match_type/],
      [{ mappings: [{ match: 'a', name: 'bad-name' }] }, /^mappings\[0\]\.name: "bad-name" is not a metric name/],
    ];
    for (const [doc, re] of bad) {
      assert.throws(
        () => parseMappingConfig(doc),
        (e: unknown) => e instanceof ConfigError && re.test(e.message) && e.exitCode === 2,
        JSON.stringify(doc),
      );
    }
  });
});
