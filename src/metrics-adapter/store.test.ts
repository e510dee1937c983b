/** @module Series store + StatsD ingest: exact sample rates, TTL expiry without scrapes, cardinality caps, collisions, memory. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { render } from '../core/metrics/exposition.js';
import { SeriesStore, type DropReason } from './store.js';
import { StatsdIngest } from './statsd/ingest.js';
import { parseMappingConfig } from './statsd/mapping.js';

function setup(opts: ConstructorParameters<typeof SeriesStore>[0] = {}, mapping: unknown = {}, ttl = 0) {
  const drops = new Map<DropReason, number>();
  const store = new SeriesStore({ ...opts, onDrop: (r) => drops.set(r, (drops.get(r) ?? 0) + 1) });
  const ingest = new StatsdIngest(store, parseMappingConfig(mapping), undefined, ttl);
  const feed = (text: string) => ingest.packet(Buffer.from(text));
  return { store, ingest, feed, drops };
}

describe('series store', () => {
  test('100,000 ms samples at @0.3 count 333,333 ± 1 (histogram and summary), sum scaled the same way', () => {
    for (const observer of ['histogram', 'summary']) {
      const { store, ingest } = setup({}, { defaults: { observer_type: observer } });
      const line = Buffer.from('req.latency:10|ms|@0.3\n'.repeat(1000));
      for (let i = 0; i < 100; i++) ingest.packet(line);
      const [f] = store.collect();
      const m = f.metrics[0];
      assert.ok(Math.abs(m.count! - 333_333) <= 1, `${observer} count ${m.count}`);
      assert.ok(Math.abs(m.sum! - 3333.33) < 0.01, `${observer} sum ${m.sum}`);
      if (observer === 'histogram') assert.equal(m.buckets![m.buckets!.length - 1].count, m.count);
    }
  });

  test('counters divide by the sample rate; gauges set and move relatively; sets count distinct members', () => {
    const { store, feed } = setup();
    feed('hits:1|c|@0.1\nhits:1|c\ng:10|g\ng:+5|g\ng:-2|g\nusers:a|s\nusers:b|s\nusers:a|s');
    const byName = Object.fromEntries(store.collect().map((f) => [f.name, f]));
    assert.equal(byName.hits.metrics[0].value, 11);
    assert.equal(byName.g.metrics[0].value, 13);
    assert.equal(byName.users.metrics[0].value, 2);
  });

  test('a type collision is dropped and counted; the first type stays', () => {
    const { store, feed, drops } = setup();
    feed('x:1|c\nx:5|g\nx:1|ms');
    const fams = store.collect();
    assert.equal(fams.length, 1);
    assert.equal(fams[0].type, 'counter');
    assert.equal(drops.get('type_conflict'), 2);
  });

  test('line-name collisions between families are dropped (histogram foo vs gauge foo_count, counter a vs a_total)', () => {
    const { store, feed, drops } = setup({}, { defaults: { observer_type: 'histogram' } });
    feed('foo:1|ms\nfoo_count:1|g\nfoo.sum:2|g\na:1|c\na_total:1|c\nb:1|g\nb_total:1|c');
    assert.deepEqual(store.collect().map((f) => f.name).sort(), ['a', 'b', 'foo']);
    assert.equal(store.collect().find((f) => f.name === 'a')!.metrics[0].value, 1);
    assert.equal(drops.get('name_conflict'), 4);
    assert.doesNotThrow(() => render(store.collect(), 'openmetrics'));
  });

  test('tags named le/quantile on histograms/summaries are renamed exported_le/exported_quantile', () => {
    const { store, feed } = setup({}, { defaults: { observer_type: 'histogram' } });
    feed('h:1|ms|#le:x');
    assert.deepEqual(store.collect()[0].metrics[0].labels, { exported_le: 'x' });
  });

  test('mapping labels win over tags unless honor_labels', () => {
    const { store, feed } = setup({}, { mappings: [{ match: 'a.*', name: 'a_total', labels: { env: 'map' } }, { match: 'b.*', name: 'b_total', honor_labels: true, labels: { env: 'map' } }] });
    feed('a.x:1|c|#env:tag\nb.x:1|c|#env:tag');
    const byName = Object.fromEntries(store.collect().map((f) => [f.name, f.metrics[0].labels]));
    assert.deepEqual(byName.a_total, { env: 'map' });
    assert.deepEqual(byName.b_total, { env: 'tag' });
  });

  test('TTL: a series expires exactly at its TTL (fake clock), touching it extends it', () => {
    let now = 1_000_000;
    const { store, feed } = setup({ now: () => now }, { mappings: [{ match: 'short.*', name: 'short', ttl: '10s' }] }, 0);
    feed('short.a:1|g\nlong.b:1|g');
    now += 5000;
    feed('short.a:2|g');
    now += 9999;
    assert.equal(store.sweep(), 0);
    assert.equal(store.collect().length, 2);
    now += 1;
    assert.equal(store.sweep(), 1);
    assert.deepEqual(store.collect().map((f) => f.name), ['long_b']);
    assert.equal(store.size, 1);
  });

  test('TTL: expiry happens on its own timer, with nobody scraping', async () => {
    const { store, feed } = setup({}, {}, 150);
    const t0 = Date.now();
    feed('gone.soon:1|c');
    assert.equal(store.size, 1);
    while (store.size > 0) {
      assert.ok(Date.now() - t0 < 5000, 'series should have expired');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(Date.now() - t0 >= 150, 'not before its TTL');
    assert.equal(store.families.size, 0);
    store.close();
  });

  test('per-family and global cardinality caps drop new series and count them', () => {
    const { store, feed, drops } = setup({ maxSeries: 15, maxSeriesPerFamily: 10 });
    let text = '';
    for (let i = 0; i < 20; i++) text += `fam:1|c|#id:${i}\n`;
    for (let i = 0; i < 20; i++) text += `other${i}:1|c\n`;
    feed(text);
    assert.equal(store.size, 15);
    assert.equal(drops.get('family_limit'), 10);
    assert.equal(drops.get('global_limit'), 15);
    feed('fam:1|c|#id:0\n');
    assert.equal(store.collect().find((f) => f.name === 'fam')!.metrics.find((m) => m.labels.id === '0')!.value, 2, 'existing series still update at the cap');
  });

  test('a burst of 200,000 unique names stays within the series cap and bounded memory', () => {
    const { store, ingest } = setup({ maxSeries: 10_000 });
    // A real collection, so the figure is retained memory and not garbage waiting for the collector.
    v8.setFlagsFromString('--expose_gc');
    const gc = vm.runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let b = 0; b < 200; b++) {
      let text = '';
      for (let i = 0; i < 1000; i++) text += `burst.n${b}_${i}:1|c\n`;
      ingest.packet(Buffer.from(text));
    }
    assert.equal(store.size, 10_000);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    assert.ok(grown < 32 * 1024 * 1024, `heap retained ${grown} bytes for 10,000 series`);
  });

  test('summaries keep the newest buf_cap observations for quantiles, growing their window on demand', () => {
    const { store, feed } = setup({}, { defaults: { observer_type: 'summary', summary_options: { quantiles: [{ quantile: 0.5, error: 0.01 }, { quantile: 1, error: 0 }], buf_cap: 20 } } });
    let text = '';
    for (let i = 1; i <= 100; i++) text += `q:${i}|h\n`;
    feed(text);
    const m = store.collect()[0].metrics[0];
    assert.equal(m.count, 100);
    assert.equal(m.sum, 5050);
    assert.deepEqual(m.quantiles, [
      { quantile: 0.5, value: 90 },
      { quantile: 1, value: 100 },
    ]);
  });

  test('pieces() splits large families without repeating headers', () => {
    const { store, feed } = setup();
    let text = '';
    for (let i = 0; i < 2500; i++) text += `big:1|g|#i:${i}\n`;
    feed(text);
    const ps = [...store.pieces(1000)];
    assert.deepEqual(ps.map((p) => [p.first, p.family.metrics.length]), [[true, 1000], [false, 1000], [false, 500]]);
  });
});
