/** @module Unit tests for the number-preserving JSON parser, the JSONPath subset and the json source's rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, ProtocolError } from '../../core/errors.js';
import { compilePath, JsonNumber, parseJson, select, type Json } from './json-path.js';
import { extractJson, jsonSource } from './json.js';

/** Back to plain JS values (numbers as numbers) for comparing with JSON.parse. */
function plain(v: Json): unknown {
  if (v instanceof JsonNumber) return Number(v.text);
  if (Array.isArray(v)) return v.map(plain);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

test('parseJson agrees with JSON.parse on arbitrary JSON (fast-check)', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => {
    const text = JSON.stringify(v);
    assert.deepEqual(plain(parseJson(text)), JSON.parse(text));
  }), { numRuns: 300 });
});

test('a "__proto__" key is an own key, as with JSON.parse: the prototype is untouched', () => {
  const doc = parseJson('{"__proto__": {"polluted": 1}, "a": 2}') as Record<string, Json>;
  assert.equal(Object.getPrototypeOf(doc), Object.prototype);
  assert.ok(Object.hasOwn(doc, '__proto__'));
  assert.equal((doc as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(plain(doc), JSON.parse('{"__proto__": {"polluted": 1}, "a": 2}'));
});

test('numbers keep their source digits, even past 2^53', () => {
  const doc = parseJson('{"id": 18446744073709551615, "neg": -9007199254740993, "f": 1.50e3}') as Record<string, JsonNumber>;
  assert.equal(doc.id.text, '18446744073709551615');
  assert.equal(doc.neg.text, '-9007199254740993');
  assert.equal(Number(doc.f), 1500);
});

test('bad JSON is a ProtocolError with the offset', () => {
  for (const bad of ['{', '{"a":}', '[1,]', '"x', 'tru', '{"a":1} x', '01']) assert.throws(() => parseJson(bad), ProtocolError, bad);
});

test('path subset: keys, indexes, wildcards, filters, json_exporter braces', () => {
  const doc = parseJson('{"a":{"b":[{"t":"x","v":1},{"t":"y","v":2},{"t":"x","v":3,"on":true}]},"m":{"k1":{"v":5},"k2":{"v":6}},"odd key":7}');
  const vals = (p: string) => select(doc, compilePath(p, 'p')).map((n) => plain(n.value));
  assert.deepEqual(vals('$.a.b[*].v'), [1, 2, 3]);
  assert.deepEqual(vals('$.a.b[1].v'), [2]);
  assert.deepEqual(vals('$.a.b[-1].v'), [3]);
  assert.deepEqual(vals('$.a.b[?(@.t == "x")].v'), [1, 3]);
  assert.deepEqual(vals("$.a.b[?(@.t != 'x')].v"), [2]);
  assert.deepEqual(vals('$.a.b[?(@.v == 2)].t'), ['y']);
  assert.deepEqual(vals('$.a.b[?(@.on)].v'), [3]);
  assert.deepEqual(vals('{ .a.b[0].v }'), [1]);
  assert.deepEqual(vals("$['odd key']"), [7]);
  assert.deepEqual(vals('$.m.*.v'), [5, 6]);
  assert.deepEqual(select(doc, compilePath('$.m.*', 'p')).map((n) => n.key), ['k1', 'k2']);
  assert.deepEqual(vals('$.missing.x'), []);
  for (const bad of ['$..a', '$.a[', '$.a[1:2]', '$.a[?(@.x ~ 1)]']) assert.throws(() => compilePath(bad, 'sources[0].metrics[0].path'), (e: unknown) => e instanceof ConfigError && e.path === 'sources[0].metrics[0].path', bad);
});

const opts = (metrics: unknown[]) => jsonSource.parseOptions({ url: 'http://127.0.0.1/', metrics }, 'sources[0]');

test('rules: labels from paths, keys and constants; value maps; exact integer labels; object type values', () => {
  const doc = parseJson('{"status":"UP","nodes":{"n1":{"state":"active","load":0.5,"id":18446744073709551615},"n2":{"state":"standby","load":1.25,"id":2}},"items":[{"type":"x","n":1},{"type":"y","n":2}]}');
  const o = opts([
    { name: 'app_up', path: '$.status', valuetype: 'gauge', value_map: { up: 1, down: 0 } },
    { name: 'node_load', path: '$.nodes.*', value: '$.load', valuetype: 'gauge', labels: { node: '$key', id: '$.id', dc: 'eu-1' } },
    { name: 'node', type: 'object', path: '$.nodes.*', labels: { node: '$key' }, values: { active: '$.state', one: 1 }, valueconverter: { '$.state': { active: 1, standby: 0 } } },
    { name: 'item_n_total', path: '$.items[?(@.type=="x")]', value: '$.n', valuetype: 'counter', labels: { kind: 'type-{.type}/{.n}' } },
  ]);
  const fams = extractJson(doc, o.metrics);
  const got = Object.fromEntries(fams.map((f) => [f.name, [f.type, f.metrics.map((m) => [m.labels, m.value])]]));
  assert.deepEqual(got, {
    app_up: ['gauge', [[{}, 1]]],
    node_load: ['gauge', [[{ node: 'n1', id: '18446744073709551615', dc: 'eu-1' }, 0.5], [{ node: 'n2', id: '2', dc: 'eu-1' }, 1.25]]],
    node_active: ['untyped', [[{ node: 'n1' }, 1], [{ node: 'n2' }, 0]]],
    node_one: ['untyped', [[{ node: 'n1' }, 1], [{ node: 'n2' }, 1]]],
    item_n_total: ['counter', [[{ kind: 'type-x/1' }, 1]]],
  });
});

test('unmapped strings are skipped and duplicate label sets keep the first series', () => {
  const doc = parseJson('{"a":[{"k":"same","v":1},{"k":"same","v":2},{"k":"other","v":"n/a"},{"k":"t","v":true}]}');
  const fams = extractJson(doc, opts([{ name: 'v', path: '$.a[*]', value: '$.v', labels: { k: '$.k' } }]).metrics);
  assert.deepEqual(fams[0].metrics.map((m) => [m.labels.k, m.value]), [['same', 1], ['t', 1]]);
});

test('bad rules name their YAML path', () => {
  const cases: Array<[unknown, string]> = [
    [{ url: 'http://x/', metrics: [] }, 'sources[0].metrics'],
    [{ url: 'http://x/', metrics: [{ name: 'a' }] }, 'sources[0].metrics[0].path'],
    [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', type: 'table' }] }, 'sources[0].metrics[0].type'],
    [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', valuetype: 'histogram' }] }, 'sources[0].metrics[0].valuetype'],
    [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', type: 'object' }] }, 'sources[0].metrics[0].values'],
    [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', labels: { '__x': 'y' } }] }, 'sources[0].metrics[0].labels.__x'],
    [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', value_map: { up: 'one' } }] }, 'sources[0].metrics[0].value_map.up'],
    [{ url: 'http://x/', metrics: [{ name: 'a', path: '$.a', value: 'plain' }] }, 'sources[0].metrics[0].value'],
  ];
  for (const [raw, path] of cases) assert.throws(() => jsonSource.parseOptions(raw, 'sources[0]'), (e: unknown) => e instanceof ConfigError && e.path === path, path);
});
