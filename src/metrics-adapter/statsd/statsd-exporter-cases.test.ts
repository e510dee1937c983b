/** @module statsd_exporter's own test tables (line, escape, exporter) replayed through parser → mapping → store → exposition. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { render } from '../../core/metrics/exposition.js';
import { SeriesStore, type DropReason } from '../store.js';
import { StatsdIngest } from './ingest.js';
import { Mapper, parseMappingConfig } from './mapping.js';
import { parseYaml } from '../config.js';
import { escapeMetricName, type TagStyles } from './parser.js';

/** Expected series: name → [labels, value (counter/gauge) or observation count]. */
type Want = Record<string, Array<[Record<string, string>, number]>>;

function run(lines: string | Buffer, styles: Partial<TagStyles> = {}, mapping: unknown = {}) {
  const drops = new Map<DropReason, number>();
  const store = new SeriesStore({ onDrop: (r) => drops.set(r, (drops.get(r) ?? 0) + 1) });
  const ingest = new StatsdIngest(store, parseMappingConfig(mapping), { dogstatsd: true, influxdb: true, librato: true, signalfx: true, ...styles });
  // latin1 keeps the tables' \xc3\x28 bytes as bytes (invalid UTF-8 on purpose).
  ingest.packet(typeof lines === 'string' ? Buffer.from(lines, 'latin1') : lines);
  const got: Want = {};
  for (const f of store.collect()) got[f.name] = f.metrics.map((m) => [{ ...m.labels }, m.value ?? m.count ?? NaN]);
  store.close();
  return { got, drops, store, text: render(store.collect()), om: render(store.collect(), 'openmetrics') };
}

const T12 = { tag1: 'bar', tag2: 'baz' };
/** pkg/line/line_test.go TestLineToEvents: input → expected series (all tag styles on). Timers count events. */
const LINE_CASES: Array<[string, string, Want]> = [
  ['simple counter', 'foo:2|c', { foo: [[{}, 2]] }],
  ['simple gauge', 'foo:3|g', { foo: [[{}, 3]] }],
  ['gauge with sampling', 'foo:3|g|@0.2', { foo: [[{}, 3]] }],
  ['gauge decrement', 'foo:-10|g', { foo: [[{}, -10]] }],
  ['simple timer', 'foo:200|ms', { foo: [[{}, 1]] }],
  ['simple histogram', 'foo:200|h', { foo: [[{}, 1]] }],
  ['simple distribution', 'foo:200|d', { foo: [[{}, 1]] }],
  ['distribution with sampling', 'foo:0.01|d|@0.2|#tag1:bar,#tag2:baz', { foo: [[T12, 5]] }],
  ['librato tag extension', 'foo#tag1=bar,tag2=baz:100|c', { foo: [[T12, 100]] }],
  ['librato tag keys unsupported by prometheus', 'foo#09digits=0,tag.with.dots=1:100|c', { foo: [[{ _09digits: '0', tag_with_dots: '1' }, 100]] }],
  ['influxdb tag extension', 'foo,tag1=bar,tag2=baz:100|c', { foo: [[T12, 100]] }],
  ['SignalFx tag extension', 'foo.[tag1=bar,tag2=baz]test:100|c', { foo_test: [[T12, 100]] }],
  ['SignalFx tags at end of name', 'foo.test[tag1=bar,tag2=baz]:100|c', { foo_test: [[T12, 100]] }],
  ['SignalFx tags at beginning of name', '[tag1=bar,tag2=baz]foo.test:100|c', { foo_test: [[T12, 100]] }],
  ['SignalFx no tags', 'foo.[]test:100|c', { foo_test: [[{}, 100]] }],
  ['SignalFx non-kv tags', 'foo.[tag1,tag2]test:100|c', { foo_test: [[{}, 100]] }],
  ['SignalFx missing closing bracket', '[tag1=bar,tag2=bazfoo.test:100|c', { _tag1_bar_tag2_bazfoo_test: [[{}, 100]] }],
  ['SignalFx missing opening bracket', 'tag1=bar,tag2=baz]foo.test:100|c', { tag1_bar_tag2_baz_foo_test: [[{}, 100]] }],
  ['datadog tag extension', 'foo:100|c|#tag1:bar,tag2:baz', { foo: [[T12, 100]] }],
  ['datadog # in all keys', 'foo:100|c|#tag1:bar,#tag2:baz', { foo: [[T12, 100]] }],
  ['datadog tag keys unsupported by prometheus', 'foo:100|c|#09digits:0,tag.with.dots:1', { foo: [[{ _09digits: '0', tag_with_dots: '1' }, 100]] }],
  ['datadog valueless tags ignored', 'foo:100|c|#tag_without_a_value', { foo: [[{}, 100]] }],
  ['datadog valueless tags (edge case)', 'foo:100|c|#tag_without_a_value,tag:value', { foo: [[{ tag: 'value' }, 100]] }],
  ['datadog empty tags (edge case)', 'foo:100|c|#tag:value,,', { foo: [[{ tag: 'value' }, 100]] }],
  ['datadog tag extension with sampling', 'foo:100|c|@0.1|#tag1:bar,#tag2:baz', { foo: [[T12, 1000]] }],
  ['librato/dogstatsd mixed', 'foo#tag1=foo,tag3=bing:100|c|#tag1:bar,#tag2:baz', {}],
  ['signalfx/dogstatsd mixed', 'foo[tag1=foo,tag3=bing]:100|c|#tag1:bar,#tag2:baz', {}],
  ['influxdb/dogstatsd mixed', 'foo,tag1=foo,tag3=bing:100|c|#tag1:bar,#tag2:baz', {}],
  ['mixed tag styles with sampling', 'foo#tag1=foo,tag3=bing:100|c|@0.1|#tag1:bar,#tag2:baz', {}],
  ['histogram with sampling', 'foo:0.01|h|@0.2|#tag1:bar,#tag2:baz', { foo: [[T12, 5]] }],
  ['datadog tag with multiple colons', 'foo:100|c|@0.1|#tag1:foo:bar', { foo: [[{ tag1: 'foo:bar' }, 1000]] }],
  ['datadog timings extended aggregation', 'foo_timing:0.5:120:3000:10:20000:0.01|ms|#tag1:bar,tag2:baz', { foo_timing: [[T12, 6]] }],
  ['extended aggregation without tags', 'foo_timing:0.5:120:3000:10:20000:0.01|ms', { foo_timing: [[{}, 6]] }],
  ['extended aggregation with sampling', 'foo_timing:0.5:120:3000:10:20000:0.01|ms|@0.5', { foo_timing: [[{}, 12]] }],
  ['extended aggregation, sampling and tags', 'foo_timing:0.5:120:3000:10:20000:0.01|ms|@0.5|#tag1:bar,tag2:baz', { foo_timing: [[T12, 12]] }],
  ['histogram extended aggregation', 'foo_histogram:0.5:120:3000:10:20000:0.01|h|#tag1:bar,tag2:baz', { foo_histogram: [[T12, 6]] }],
  ['distribution extended aggregation', 'foo_distribution:0.5:120:3000:10:20000:0.01|d|#tag1:bar,tag2:baz', { foo_distribution: [[T12, 6]] }],
  ['counter with invalid extended aggregation', 'foo_counter:0.5:120:3000:10:20000:0.01|c|#tag1:bar,tag2:baz', {}],
  ['gauge with invalid extended aggregation', 'foo_gauge:0.5:120:3000:10:20000:0.01|g|#tag1:bar,tag2:baz', {}],
  ['extended aggregation and signalfx tags', 'foo.[tag1=bar,tag2=baz]test:0.5:120:3000:10:20000:0.01|ms', { foo_test: [[T12, 6]] }],
  ['SignalFX counter with extended aggregation', 'foo.[tag1=bar,tag2=baz]test:0.5:120:3000:10:20000:0.01|c', {}],
  ['timings with sampling factor', 'foo.timing:0.5|ms|@0.1', { foo_timing: [[{}, 10]] }],
  ['bad line', 'foo', {}],
  ['bad component', 'foo:1', {}],
  ['bad value', 'foo:1o|c', {}],
  ['illegal sampling factor', 'foo:1|c|@bar', { foo: [[{}, 1]] }],
  ['zero sampling factor', 'foo:2|c|@0', { foo: [[{}, 2]] }],
  ['illegal stat type', 'foo:2|t', {}],
  ['empty metric name', ':100|ms', {}],
  ['empty component', 'foo:1|c|', {}],
  ['invalid utf8', 'invalid\xc3\x28utf8:1|c', {}],
  ['invalid utf8 tag values', 'foo:100|c|@0.1|#tag:\xc3\x28invalid', {}],
  ['invalid event split over lines part 1', 'karafka.consumer.consume.cpu_idle_second:  0.111090  -0.055903  -0.195390 (  2.419002)', {}],
  ['invalid event split over lines part 2', '|h|#consumer:Kafka::SharedConfigurationConsumer,topic:shared_configuration_update,partition:1', {}],
  ['dogstatsd container ID', 'foo:100|c|#tag1:value|c:container123', { foo: [[{ tag1: 'value', container_id: 'container123' }, 100]] }],
  ['container ID with gauge', 'foo:50|g|#tag1:value|c:gauge_container', { foo: [[{ tag1: 'value', container_id: 'gauge_container' }, 50]] }],
  ['container ID malformed - no colon', 'foo:100|c|#tag1:value|c', {}],
  ['container ID malformed - no value', 'foo:100|c|#tag1:value|c:', {}],
  ['container ID with complex value', 'foo:100|c|#tag1:value|c:sha256:abcd1234efgh5678', { foo: [[{ tag1: 'value', container_id: 'sha256:abcd1234efgh5678' }, 100]] }],
];

/** TestDisableParsing*LineToEvents: one tag style off; the sample stays, the style's text stays in the name or is ignored. */
const DISABLED_CASES: Array<[keyof TagStyles, string, string, Want]> = [
  ['dogstatsd', 'datadog tag extension', 'foo:100|c|#tag1:bar,tag2:baz', { foo: [[{}, 100]] }],
  ['dogstatsd', 'datadog # in all keys', 'foo:100|c|#tag1:bar,#tag2:baz', { foo: [[{}, 100]] }],
  ['dogstatsd', 'datadog tag keys unsupported', 'foo:100|c|#09digits:0,tag.with.dots:1', { foo: [[{}, 100]] }],
  ['dogstatsd', 'datadog valueless tags', 'foo:100|c|#tag_without_a_value', { foo: [[{}, 100]] }],
  ['dogstatsd', 'datadog empty tags', 'foo:100|c|#tag:value,,', { foo: [[{}, 100]] }],
  ['dogstatsd', 'datadog with sampling', 'foo:100|c|@0.1|#tag1:bar,#tag2:baz', { foo: [[{}, 1000]] }],
  ['dogstatsd', 'datadog multiple colons', 'foo:100|c|@0.1|#tag1:foo:bar', { foo: [[{}, 1000]] }],
  ['dogstatsd', 'extended aggregation with tags', 'foo_timing:0.5:120:3000:10:20000:0.01|ms|#tag1:bar,tag2:baz', { foo_timing: [[{}, 6]] }],
  ['dogstatsd', 'extended aggregation, sampling and tags', 'foo_timing:0.5:120:3000:10:20000:0.01|ms|@0.5|#tag1:bar,tag2:baz', { foo_timing: [[{}, 12]] }],
  ['dogstatsd', 'librato/dogstatsd mixed', 'foo#tag1=foo,tag3=bing:100|c|#tag1:bar,#tag2:baz', {}],
  ['dogstatsd', 'librato still parsed', 'foo#tag1=bar,tag2=baz:100|c', { foo: [[T12, 100]] }],
  ['influxdb', 'influxdb tag extension', 'foo,tag1=bar,tag2=baz:100|c', { foo_tag1_bar_tag2_baz: [[{}, 100]] }],
  ['influxdb', 'influxdb unsupported keys', 'foo,09digits=0,tag.with.dots=1:100|c', { foo_09digits_0_tag_with_dots_1: [[{}, 100]] }],
  ['influxdb', 'datadog still parsed', 'foo:100|c|#tag1:bar,tag2:baz', { foo: [[T12, 100]] }],
  ['librato', 'librato tag extension', 'foo#tag1=bar,tag2=baz:100|c', { foo_tag1_bar: [[{ tag2: 'baz' }, 100]] }],
  ['signalfx', 'SignalFx tag extension', 'foo.[tag1=bar,tag2=baz]test:100|c', { foo__tag1_bar: [[{ tag2: 'baz]test' }, 100]] }],
  ['signalfx', 'SignalFx no tags', 'foo.[]test:100|c', { foo___test: [[{}, 100]] }],
];

/** pkg/mapper/escape_test.go TestEscapeMetricName. */
const ESCAPES: Array<[string, string]> = [
  ['clean', 'clean'],
  ['0starts_with_digit', '_0starts_with_digit'],
  ['with_underscore', 'with_underscore'],
  ['with--doubledash', 'with_doubledash'],
  ['with---multiple-dashes', 'with_multiple_dashes'],
  ['with.dot', 'with_dot'],
  ['with😱emoji', 'with_emoji'],
  ['with.*.multiple', 'with___multiple'],
  ['test.web-server.foo.bar', 'test_web_server_foo_bar'],
  ['', ''],
];

/** pkg/mapper/mapper_test.go TestMetricMapperYAML: config → [statsd name, mapped name (undefined: no mapping), labels]. */
const MAPPER_CASES: Array<[string, string, Array<[string, string | undefined, Record<string, string>?]>]> = [
  [
    'several mapping definitions',
    `mappings:
- match: test.dispatcher.*.*.*
  name: "dispatch_events"
  labels: {processor: "$1", action: "$2", result: "$3", job: "test_dispatcher"}
- match: test.my-dispatch-host01.name.dispatcher.*.*.*
  name: "host_dispatch_events"
  labels: {processor: "$1", action: "$2", result: "$3", job: "test_dispatcher"}
- match: request_time.*.*.*.*.*.*.*.*.*.*.*.*
  name: "tyk_http_request"
  labels: {method_and_path: "\${1}", response_code: "\${2}", apikey: "\${3}", apiversion: "\${4}", apiname: "\${5}", apiid: "\${6}", ipv4_t1: "\${7}", ipv4_t2: "\${8}", ipv4_t3: "\${9}", ipv4_t4: "\${10}", orgid: "\${11}", oauthid: "\${12}"}
- match: "*.*"
  name: "catchall"
  labels: {first: "$1", second: "$2", third: "$3", job: "$1-$2-$3"}
- match: (.*)\\.(.*)-(.*)\\.(.*)
  match_type: regex
  name: "proxy_requests_total"
  labels: {job: "$1", protocol: "$2", endpoint: "$3", result: "$4"}
`,
    [
      ['test.dispatcher.FooProcessor.send.succeeded', 'dispatch_events', { processor: 'FooProcessor', action: 'send', result: 'succeeded', job: 'test_dispatcher' }],
      ['test.my-dispatch-host01.name.dispatcher.FooProcessor.send.succeeded', 'host_dispatch_events', { processor: 'FooProcessor', action: 'send', result: 'succeeded', job: 'test_dispatcher' }],
      [
        'request_time.get/threads/1/posts.200.00000000.nonversioned.discussions.a11bbcdf0ac64ec243658dc64b7100fb.172.20.0.1.12ba97b7eaa1a50001000001.',
        'tyk_http_request',
        { method_and_path: 'get/threads/1/posts', response_code: '200', apikey: '00000000', apiversion: 'nonversioned', apiname: 'discussions', apiid: 'a11bbcdf0ac64ec243658dc64b7100fb', ipv4_t1: '172', ipv4_t2: '20', ipv4_t3: '0', ipv4_t4: '1', orgid: '12ba97b7eaa1a50001000001', oauthid: '' },
      ],
      ['foo.bar', 'catchall', { first: 'foo', second: 'bar', third: '', job: 'foo-bar-' }],
      ['foo.bar.baz', undefined],
      ['proxy-1.http-goober.success', 'proxy_requests_total', { job: 'proxy-1', protocol: 'http', endpoint: 'goober', result: 'success' }],
    ],
  ],
  [
    'backtracking',
    'defaults: {glob_disable_ordering: true}\nmappings:\n- {match: backtrack.*.bbb, name: testb, labels: {label: "${1}_foo"}}\n- {match: backtrack.justatest.aaa, name: testa, labels: {label: "${1}_foo"}}\n',
    [['backtrack.good.bbb', 'testb', { label: 'good_foo' }], ['backtrack.justatest.bbb', 'testb', { label: 'justatest_foo' }], ['backtrack.justatest.aaa', 'testa', { label: '_foo' }]],
  ],
  [
    'backtracking, the non-matched rule has stars',
    "mappings:\n- {match: '*.dummy.*', name: metric_one, labels: {system: $1, attribute: $2}}\n- {match: 'full.name.*', name: metric_two, labels: {system: static, attribute: $1}}\n",
    [['whatever.dummy.test', 'metric_one', { system: 'whatever', attribute: 'test' }], ['full.name.anothertest', 'metric_two', { system: 'static', attribute: 'anothertest' }]],
  ],
  [
    'super sets, disables ordering',
    'defaults: {glob_disable_ordering: true}\nmappings:\n- {match: noorder.*.*, name: testa, labels: {label: "${1}_foo"}}\n- {match: noorder.*.bbb, name: testb, labels: {label: "${1}_foo"}}\n- {match: noorder.ccc.bbb, name: testc, labels: {label: ccc_foo}}\n',
    [['noorder.good.bbb', 'testb', { label: 'good_foo' }], ['noorder.ccc.bbb', 'testc', { label: 'ccc_foo' }]],
  ],
  ['super sets, keeps ordering', 'mappings:\n- {match: order.*.*, name: testa, labels: {label: "${1}_foo"}}\n- {match: order.*.bbb, name: testb, labels: {label: "${1}_foo"}}\n', [['order.good.bbb', 'testa', { label: 'good_foo' }]]],
  ['bad regex reference', 'mappings:\n- {match: test.*, name: name, labels: {label: "$1_foo"}}\n', [['test.a', 'name', { label: '' }]]],
  ['good regex reference', 'mappings:\n- {match: test.*, name: name, labels: {label: "${1}_foo"}}\n', [['test.a', 'name', { label: 'a_foo' }]]],
  [
    'dynamic metric name',
    'mappings:\n- {match: test1.*.*, name: "$1"}\n- {match: test2.*.*, name: "${1}_$2"}\n- {match: test3\\.(\\w+)\\.(\\w+), match_type: regex, name: "${2}_$1"}\n',
    [['test1.total_requests.count', 'total_requests'], ['test2.total_requests.count', 'total_requests_count'], ['test3.total_requests.count', 'count_total_requests']],
  ],
  ['without a trailing newline', 'mappings:\n- match: test.*\n  name: "name"\n  labels:\n    label: "${1}_foo"', [['test.a', 'name', { label: 'a_foo' }]]],
  ['a properly escaped *', 'mappings:\n- match: "*.test.*"\n  name: "name"\n  labels:\n    label: "${2}_foo"', [['foo.test.a', 'name', { label: 'a_foo' }]]],
];

/** Mapping files statsd_exporter refuses (configBad). */
const BAD_MAPPINGS: Array<[string, string]> = [
  ['bad metric name', 'mappings:\n- {match: test.*.*, name: "0foo"}\n'],
  ['no metric name', 'mappings:\n- {match: test.*.*, labels: {this: "$1"}}\n'],
  ['an improperly escaped *', 'mappings:\n- match: *.test.*\n  name: "name"\n'],
  ['bad observer type', 'mappings:\n- {match: test.*.*, observer_type: wrong, name: foo}\n'],
  ['bad deprecated timer type', 'mappings:\n- {match: test.*.*, timer_type: wrong, name: foo}\n'],
];

describe("statsd_exporter's test tables", () => {
  test(`line_test TestLineToEvents: ${LINE_CASES.length} cases`, () => {
    for (const [name, line, want] of LINE_CASES) assert.deepEqual(run(line).got, want, name);
  });

  test(`line_test TestDisableParsing*: ${DISABLED_CASES.length} cases, --no-statsd.parse-<style>-tags keeps the sample`, () => {
    for (const [style, name, line, want] of DISABLED_CASES) assert.deepEqual(run(line, { [style]: false }).got, want, `${style} off: ${name}`);
  });

  test(`mapper_test TestMetricMapperYAML: ${MAPPER_CASES.reduce((n, c) => n + c[2].length, 0)} lookups in ${MAPPER_CASES.length} configs`, () => {
    for (const [name, yaml, lookups] of MAPPER_CASES) {
      const mapper = new Mapper(parseMappingConfig(parseYaml(yaml, name)));
      for (const [metric, want, labels] of lookups) {
        const r = mapper.map(metric, 'g');
        assert.equal(r.mapping ? r.name : undefined, want, `${name}: ${metric}`);
        if (want !== undefined) assert.deepEqual(Object.fromEntries(r.labels), labels ?? {}, `${name}: ${metric}`);
      }
    }
  });

  test(`mapper_test bad configs: ${BAD_MAPPINGS.length} refused`, () => {
    for (const [name, yaml] of BAD_MAPPINGS) assert.throws(() => parseMappingConfig(parseYaml(yaml, name)), /./, name);
  });

  test(`escape_test TestEscapeMetricName: ${ESCAPES.length} cases (code points, not UTF-16 units; dash runs)`, () => {
    for (const [input, want] of ESCAPES) assert.equal(escapeMetricName(input), want, input);
    assert.deepEqual(run(Buffer.from('with😱emoji:1|g\nwith--doubledash:2|g')).got, { with_emoji: [[{}, 1]], with_doubledash: [[{}, 2]] });
  });

  test('counters are named as statsd_exporter exposes them: bare in 0.0.4 text, _total samples in OpenMetrics', () => {
    const { text, om } = run('hits:3|c\nreq_total:1|c');
    assert.match(text, /^# TYPE hits counter\nhits 3$/m);
    assert.match(text, /^req_total 1$/m);
    assert.match(om, /^# TYPE hits counter\nhits_total 3$/m);
    assert.match(om, /^# TYPE req counter\nreq_total 1$/m);
  });

  test('exporter_test: defaults.ttl applies to unmapped metrics too', () => {
    const { store } = run('foobar:200|g', {}, { defaults: { ttl: '1s' } });
    const s = [...store.families.get('foobar')!.series.values()][0];
    assert.equal(s.ttl, 1000);
  });

  test('mapper_test: $1_foo is the group named "1_foo" (empty), ${1}_foo is group 1 then _foo', () => {
    const mapping = { mappings: [{ match: 'a.*', name: 'x_${1}_foo', labels: { l: '$1_foo', m: '${1}_foo' } }] };
    assert.deepEqual(run('a.b:1|g', {}, mapping).got, { x_b_foo: [[{ l: '', m: 'b_foo' }, 1]] });
    const regex = { mappings: [{ match: 'a\\.(.*)', match_type: 'regex', name: 'y', labels: { l: '$1_foo', m: '${1}_foo' } }] };
    assert.deepEqual(run('a.b:1|g', {}, regex).got, { y: [[{ l: '', m: 'b_foo' }, 1]] });
  });

  test('exporter_test: a mapping whose name expands to nothing drops the event (empty_metric_name), no "__total"', () => {
    const { got, drops } = run('a.b:1|c', {}, { mappings: [{ match: 'a.*', name: '$2' }] });
    assert.deepEqual(got, {});
    assert.equal(drops.get('empty_metric_name'), 1);
  });

  test('exporter_test: a negative counter is dropped before any series exists', () => {
    const { got, drops, text } = run('neg:-1|c');
    assert.deepEqual(got, {});
    assert.equal(drops.get('negative_counter'), 1);
    assert.doesNotMatch(text, /neg/);
  });

  test('mapper scale multiplies counters, gauges and observations', () => {
    const mapping = { defaults: { observer_type: 'histogram' }, mappings: [{ match: 'kb.*', name: 'bytes_$1', scale: 1024 }] };
    const { got, store } = run('kb.sent:2|c\nkb.free:3|g\nkb.obj:1|h', {}, mapping);
    assert.deepEqual(got.bytes_sent, [[{}, 2048]]);
    assert.deepEqual(got.bytes_free, [[{}, 3072]]);
    assert.equal(store.collect().find((f) => f.name === 'bytes_obj')!.metrics[0].sum, 1024);
  });

  test('a malformed |T timestamp drops its sample, counted (pkg/line: `continue samples`); the next line still counts', () => {
    assert.deepEqual(run('foo:1|c|Tabc\nfoo:2|c|T1656581400').got, { foo: [[{}, 2]] });
  });
});
