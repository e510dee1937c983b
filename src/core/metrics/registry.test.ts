import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './registry.js';
import { labelKey, sanitizeName } from './model.js';

test('counter children are bound per label set and cannot decrease', () => {
  const r = new Registry();
  const c = r.counter({ name: 'x_total', help: 'x', labelNames: ['a'] });
  const child = c.labels({ a: '1' });
  child.inc();
  child.inc(2);
  c.inc({ a: '2' });
  assert.throws(() => child.inc(-1), /cannot decrease/);
  assert.throws(() => c.inc({ b: '1' }), /unknown label b/);
  const fam = r.collect()[0];
  assert.deepEqual(fam.metrics.map((m) => [m.labels.a, m.value]), [['1', 3], ['2', 1]]);
});

test('histogram buckets are cumulative and end in +Inf', () => {
  const r = new Registry();
  const h = r.histogram({ name: 'h_seconds', help: 'h', buckets: [1, 2] });
  for (const v of [0.5, 1, 1.5, 2, 9]) h.observe({}, v);
  const m = r.collect()[0].metrics[0];
  assert.deepEqual(m.buckets, [{ le: 1, count: 2 }, { le: 2, count: 4 }, { le: Infinity, count: 5 }]);
  assert.equal(m.sum, 14);
  assert.equal(m.count, 5);
});

test('names are validated; duplicates refused; gauges and removal work', () => {
  const r = new Registry();
  assert.throws(() => r.gauge({ name: 'bad-name', help: '' }), /invalid metric name/);
  assert.throws(() => r.gauge({ name: 'ok', help: '', labelNames: ['__reserved'] }), /invalid label name/);
  const g = r.gauge({ name: 'g', help: 'g', labelNames: ['replica'] });
  assert.throws(() => r.gauge({ name: 'g', help: 'again' }), /registered twice/);
  g.set({ replica: 'a' }, 5);
  g.labels({ replica: 'b' }).dec(2);
  g.remove({ replica: 'a' });
  assert.deepEqual(r.collect()[0].metrics, [{ labels: { replica: 'b' }, value: -2 }]);
  const off = r.addCollector(() => [{ name: 'dyn', help: 'd', type: 'gauge', metrics: [{ labels: {}, value: 1 }] }]);
  assert.equal(r.collect().length, 2);
  off();
  assert.equal(r.collect().length, 1);
});

test('label keys ignore order; names sanitize', () => {
  assert.equal(labelKey({ a: '1', b: '2' }), labelKey({ b: '2', a: '1' }));
  assert.notEqual(labelKey({ a: '1,b=2' }), labelKey({ a: '1', b: '2' }));
  assert.equal(sanitizeName('http.requests-total'), 'http_requests_total');
  assert.equal(sanitizeName('9lives'), '_9lives');
  assert.equal(sanitizeName('a:b', true), 'a_b');
});
