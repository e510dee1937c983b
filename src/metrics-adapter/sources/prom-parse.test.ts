/** @module Unit tests for the Prometheus/OpenMetrics text parser and relabel_configs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError, ConfigError } from '../../core/errors.js';
import { render, type MetricFamily } from '../../core/metrics/index.js';
import { parseExposition } from './prom-parse.js';
import { parseRelabelConfigs, relabel, relabelFamilies } from './relabel.js';

const FAMILIES: MetricFamily[] = [
  { name: 'http_requests_total', help: 'Requests "served"\nsecond line \\ slash', type: 'counter', metrics: [{ labels: { code: '200', path: '/a"b\\c\nd' }, value: 10, created: 1700000000 }, { labels: { code: '500', path: '' }, value: 1 }] },
  { name: 'temp_celsius', help: 'T', type: 'gauge', unit: 'celsius', metrics: [{ labels: {}, value: -1.5, timestampMs: 1700000000123 }] },
  { name: 'lat_seconds', help: 'L', type: 'histogram', metrics: [{ labels: { r: 'x' }, buckets: [{ le: 0.5, count: 1 }, { le: 1, count: 2 }, { le: Infinity, count: 3 }], sum: 4.5, count: 3 }] },
  { name: 'rpc_seconds', help: 'R', type: 'summary', metrics: [{ labels: {}, quantiles: [{ quantile: 0.5, value: 0.1 }, { quantile: 0.99, value: Infinity }], sum: 9, count: 4 }] },
  { name: 'build_info', help: 'B', type: 'info', metrics: [{ labels: { version: '1.0' }, value: 1 }] },
  { name: 'odd', help: '', type: 'untyped', metrics: [{ labels: { a: 'b' }, value: NaN }] },
];

const strip = (fams: MetricFamily[], om: boolean) => fams.map((f) => ({ ...f, unit: om ? f.unit : undefined, metrics: f.metrics.map((m) => ({ ...m, created: om ? m.created : undefined })) }));
const clean = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)));

for (const fmt of ['prometheus', 'openmetrics'] as const) {
  test(`render → parse round-trips every type (${fmt})`, () => {
    const text = render(FAMILIES, fmt);
    const parsed = parseExposition(text, fmt);
    const expected = strip(FAMILIES, fmt === 'openmetrics').map((f) => (f.type === 'info' && fmt === 'prometheus' ? { ...f, type: 'gauge' as const } : f));
    assert.deepEqual(clean(parsed), clean(expected));
  });
}

test('parses hand-written text: comments, CRLF, exemplars, timestamps in each format', () => {
  const prom = parseExposition('# a comment\r\n# TYPE x_total counter\r\nx_total{a="1",} 3 1700000000000\r\n\r\n', 'prometheus');
  assert.deepEqual(prom, [{ name: 'x_total', help: '', type: 'counter', metrics: [{ labels: { a: '1' }, value: 3, timestampMs: 1700000000000 }] }]);
  const om = parseExposition('# TYPE x counter\nx_total{a="1"} 3 1700000000.5 # {trace_id="abc"} 1.0\n# EOF\n', 'openmetrics');
  assert.deepEqual(om, [{ name: 'x_total', help: '', type: 'counter', metrics: [{ labels: { a: '1' }, value: 3, timestampMs: 1700000000500 }] }]);
  const untyped = parseExposition('foo 1\nbar{x="y"} +Inf\n');
  assert.deepEqual(untyped.map((f) => [f.name, f.type, f.metrics[0].value]), [['foo', 'untyped', 1], ['bar', 'untyped', Infinity]]);
});

test('malformed lines are ProtocolErrors naming the line', () => {
  for (const bad of ['x{a="1" 3', 'x{1a="b"} 3', 'x abc', 'x{a="b",a="c"} 1', '# TYPE x nonsense', 'x 1 2 3', '0x 1']) {
    assert.throws(() => parseExposition(`ok 1\n${bad}\n`), (e: unknown) => e instanceof ProtocolError && /line 2/.test(e.message), bad);
  }
});

test('blanks around label tokens are read as Prometheus reads them (its lexer skips spaces and tabs there)', () => {
  const fams = parseExposition('spaced{ a = "b" ,\tc\t=\t"d" , } 1\n', 'prometheus');
  assert.deepEqual(fams[0].metrics, [{ labels: { a: 'b', c: 'd' }, value: 1 }]);
});

test('timestamps and values only as Prometheus reads them: 0.0.4 digits-only int64 ms, OpenMetrics finite seconds, Go floats', () => {
  // Each of these fails a Prometheus scrape of the target; passed on, a 0.0.4 timestamp like -1, 1.5 or 1e+21 would
  // fail the scrape of the adapter's whole /metrics instead.
  for (const bad of ['x 1 -1', 'x 1 1.5', 'x 1 1e3', 'x 1 +5', 'x 1 9223372036854775808', 'x 1 99999999999999999999', 'x 0x10', 'x 0b1', 'x 1e400', 'x +NaN', 'x Infinity1', 'x 1_000']) {
    assert.throws(() => parseExposition(`${bad}\n`, 'prometheus'), ProtocolError, bad);
  }
  assert.equal(parseExposition('x 1 9223372036854775807\n')[0].metrics[0].timestampMs, 2 ** 63, 'the largest int64 (as a double)');
  const vals = parseExposition('a -Inf\nb +inf\nc Infinity\nd nan\ne 1e-400\nf .5\ng 1.\n').map((f) => f.metrics[0].value);
  assert.deepEqual(vals, [-Infinity, Infinity, Infinity, NaN, 0, 0.5, 1]);
  assert.equal(parseExposition('# TYPE x gauge\nx 1 -1.5\n# EOF\n', 'openmetrics')[0].metrics[0].timestampMs, -1500);
  assert.throws(() => parseExposition('# TYPE x gauge\nx 1 NaN\n# EOF\n', 'openmetrics'), ProtocolError);
});

test('a repeated sample line keeps its first value (Prometheus refuses the second): no bucket or quantile served twice', () => {
  const body = '# TYPE rpc summary\nrpc{quantile="0.5"} 4773\nrpc_sum 9\nrpc_count 3\nrpc{quantile="0.5"} 1\n# TYPE lat histogram\nlat_bucket{le="1"} 2\nlat_bucket{le="1.0"} 7\nlat_bucket{le="+Inf"} 3\nlat_count 3\nlat_count 4\ng 1\ng 2\n';
  const fams = parseExposition(body, 'prometheus');
  assert.deepEqual(clean(fams.map((f) => f.metrics)), clean([
    [{ labels: {}, quantiles: [{ quantile: 0.5, value: 4773 }], sum: 9, count: 3 }],
    [{ labels: {}, buckets: [{ le: 1, count: 2 }, { le: Infinity, count: 3 }], count: 3 }],
    [{ labels: {}, value: 1 }],
  ]));
  const text = render(fams, 'prometheus');
  assert.equal(text.split('\n').filter((l) => l.startsWith('rpc{')).length, 1, text);
});

test('lines Prometheus scrapes but the model cannot hold are skipped and counted, not a failed collection', () => {
  // Each of the four marked lines used to throw, so the source went down where Prometheus scrapes the target fine.
  const body = '# TYPE h histogram\nh_bucket{a="1"} 1\nh_bucket{le="x"} 1\nh{a="1"} 5\nh_bucket{le="+Inf"} 2\nh_count 2\nh_sum 1\ng 1\n# TYPE g counter\nok 3\n';
  let skipped = 0;
  const fams = parseExposition(body, 'prometheus', { onSkip: () => skipped++ });
  assert.equal(skipped, 4);
  assert.deepEqual(fams.map((f) => [f.name, f.type, f.metrics.length]), [['h', 'histogram', 1], ['g', 'untyped', 1], ['ok', 'untyped', 1]]);
  assert.deepEqual(fams[0].metrics[0].buckets, [{ le: Infinity, count: 2 }]);
});

test('relabel: replace, keep, drop, labeldrop, labelkeep, labelmap with Prometheus semantics', () => {
  const rules = parseRelabelConfigs([
    { source_labels: ['__name__'], regex: 'go_.*', action: 'drop' },
    { source_labels: ['job', 'instance'], separator: '/', regex: '(.*)/(.*):\\d+', target_label: 'where', replacement: '$1@${2}' },
    { regex: '__meta_(.+)', action: 'labelmap', replacement: 'm_$1' },
    { regex: '__meta_.*|secret', action: 'labeldrop' },
    { source_labels: ['env'], regex: 'prod|stage', action: 'keep' },
  ], 'r');
  assert.equal(relabel({ __name__: 'go_gc', env: 'prod' }, rules), undefined, 'dropped');
  assert.equal(relabel({ __name__: 'x', env: 'dev' }, rules), undefined, 'not kept (regex anchored: "dev" ≠ "prod|stage")');
  assert.equal(relabel({ __name__: 'x', env: 'production' }, rules), undefined, 'anchored: production does not match prod');
  assert.deepEqual(relabel({ __name__: 'x', env: 'prod', job: 'api', instance: 'h1:80', __meta_zone: 'z1', secret: 's' }, rules), { __name__: 'x', env: 'prod', job: 'api', instance: 'h1:80', where: 'api@h1', m_zone: 'z1' });
  const keep = parseRelabelConfigs([{ regex: 'code|__name__', action: 'labelkeep' }], 'r');
  assert.deepEqual(relabel({ __name__: 'x', code: '1', other: '2' }, keep), { __name__: 'x', code: '1' });
});

test('relabelFamilies renames families, drops type clashes and duplicate series', () => {
  const fams: MetricFamily[] = [
    { name: 'a_total', help: 'A', type: 'counter', metrics: [{ labels: { x: '1' }, value: 1 }, { labels: { x: '2' }, value: 2 }] },
    { name: 'b', help: 'B', type: 'gauge', metrics: [{ labels: {}, value: 3 }] },
  ];
  const rules = parseRelabelConfigs([
    { source_labels: ['__name__'], regex: 'a_total', target_label: '__name__', replacement: 'renamed_total' },
    { regex: 'x', action: 'labeldrop' },
    { source_labels: ['__name__'], regex: 'b', target_label: '__name__', replacement: 'renamed_total' },
  ], 'r');
  const out = relabelFamilies(fams, rules);
  assert.deepEqual(out, [{ name: 'renamed_total', help: 'A', type: 'counter', metrics: [{ labels: {}, value: 1 }] }]);
});

test('bad relabel configs name their path', () => {
  const cases: Array<[unknown, string]> = [
    [[{ action: 'hashmod' }], 'r[0].action'], [[{ regex: '(' , action: 'labeldrop' }], 'r[0].regex'], [[{ action: 'replace' }], 'r[0].target_label'],
    [[{ action: 'keep' }], 'r[0].source_labels'], [[{ source_labels: ['1bad'], action: 'drop' }], 'r[0].source_labels[0]'], [{}, 'r'], [[{ bogus: 1 }], 'r[0].bogus'],
  ];
  for (const [raw, path] of cases) assert.throws(() => parseRelabelConfigs(raw, 'r'), (e: unknown) => e instanceof ConfigError && e.path === path, path);
});

test('fast-check: any rendered gauge/counter family set parses back to itself (names, label values with escapes, values)', () => {
  const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/);
  const labels = fc.dictionary(fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,8}$/), fc.string({ maxLength: 12 }), { maxKeys: 3 });
  const value = fc.oneof(fc.double({ noNaN: true }), fc.integer());
  const fam = fc.record({ name, type: fc.constantFrom('gauge' as const, 'counter' as const, 'untyped' as const), help: fc.string({ maxLength: 20 }), metrics: fc.uniqueArray(fc.record({ labels, value }), { selector: (m) => JSON.stringify(Object.entries(m.labels).sort()), maxLength: 4, minLength: 1 }) });
  fc.assert(fc.property(fc.uniqueArray(fam, { selector: (f) => f.name.replace(/_total$/, ''), maxLength: 4 }), fc.constantFrom('prometheus' as const, 'openmetrics' as const), (fams, fmt) => {
    // Families whose names collide with another's sample suffixes are a different test; keep names distinct.
    fc.pre(fams.every((f) => !/_(total|bucket|sum|count|created|info)$/.test(f.name)));
    const input: MetricFamily[] = fams.map((f) => ({ ...f, name: f.type === 'counter' ? `${f.name}_total` : f.name }));
    const parsed = parseExposition(render(input, fmt), fmt);
    const norm = (fs: MetricFamily[]) => clean(fs.map((f) => ({ name: f.name, type: f.type, help: f.help, metrics: f.metrics.map((m) => ({ labels: m.labels, value: Object.is(m.value, -0) ? 0 : m.value })) })));
    assert.deepEqual(norm(parsed), norm(input));
  }), { numRuns: 300 });
});

test('maxSeries stops the parse and counts the sample lines left unparsed', () => {
  const body = `# TYPE a gauge\n${Array.from({ length: 10 }, (_, i) => `a{i="${i}"} ${i}`).join('\n')}\n# HELP b x\nb 1\n`;
  let skipped = -1;
  const fams = parseExposition(body, 'prometheus', { maxSeries: 4, onTruncate: (n) => (skipped = n) });
  assert.equal(fams[0].metrics.length, 4);
  assert.equal(skipped, 7, 'six a lines and b, comments not counted');
});
