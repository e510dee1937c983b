/** @module StatsD ingest counts reach the self-metrics over the ingest channel: sums per publish, each adapter only its own. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeriesStore } from './store.js';
import { StatsdIngest } from './statsd/ingest.js';
import { parseMappingConfig } from './statsd/mapping.js';
import { SelfMetrics } from './self-metrics.js';

function adapter() {
  const store = new SeriesStore();
  const ingest = new StatsdIngest(store, parseMappingConfig({}));
  const self = new SelfMetrics(store);
  const value = (name: string, labels: Record<string, string> = {}) => {
    ingest.publishStats(self);
    const f = self.registry.collect().find((x) => x.name === `podkit_metrics_adapter_${name}`);
    const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
    return m?.value ?? 0;
  };
  return { ingest, self, value, close: () => (self.close(), store.close()) };
}

test('self-metrics: each adapter counts only the StatsD traffic of its own ingest, summed across publishes', () => {
  const a = adapter();
  const b = adapter();
  try {
    a.ingest.packet(Buffer.from('x:1|c\ny:2|g\nbad line'));
    assert.equal(a.value('statsd_lines_total'), 3);
    assert.equal(a.value('statsd_samples_total', { type: 'c' }), 1);
    assert.equal(a.value('statsd_parse_errors_total', { reason: 'malformed_line' }), 1);
    assert.equal(b.value('statsd_lines_total'), 0);
    assert.equal(b.value('statsd_parse_errors_total', { reason: 'malformed_line' }), 0);
    // A second publish adds only what came since the first.
    a.ingest.packet(Buffer.from('x:1|c'));
    assert.equal(a.value('statsd_lines_total'), 4);
    assert.equal(a.value('statsd_lines_total'), 4);
    assert.equal(a.value('statsd_bytes_total'), Buffer.byteLength('x:1|c\ny:2|g\nbad line') + 5);
  } finally {
    a.close();
    b.close();
  }
});

test('self-metrics: counts gathered while nothing listened arrive with the next publish', () => {
  const store = new SeriesStore();
  const ingest = new StatsdIngest(store, parseMappingConfig({}));
  ingest.packet(Buffer.from('x:1|c\nx:1|c'));
  ingest.publishStats({}); // no subscriber yet: nothing is sent, nothing is lost
  const self = new SelfMetrics(store);
  try {
    ingest.publishStats(self);
    const lines = self.registry.collect().find((f) => f.name === 'podkit_metrics_adapter_statsd_lines_total');
    assert.equal(lines?.metrics[0].value, 2);
  } finally {
    self.close();
    store.close();
  }
});
