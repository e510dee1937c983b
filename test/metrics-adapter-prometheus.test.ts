/** @module A real Prometheus server scrapes the adapter (negotiating OpenMetrics); the test queries its API for the normalized series. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StatsD } from 'hot-shots';
import { pollUntil, stopAll } from './helpers/index.js';
import { startPrometheus, type Prometheus } from './helpers/prometheus.js';
import { start, type Handle } from '../src/metrics-adapter/index.js';

after(stopAll);

describe('metrics-adapter scraped by a real Prometheus', () => {
  let h: Handle;
  let prom: Prometheus;
  let client: StatsD;
  before(async () => {
    h = await start({
      httpBind: { host: '127.0.0.1', port: 0 },
      overrides: { listenUdp: '127.0.0.1:0', listenTcp: '' },
      doc: {
        statsd: {
          mappings: [
            { match: 'shop.*.orders', name: 'shop_orders_total', labels: { region: '$1' } },
            { match: 'shop.*.checkout', name: 'shop_checkout_seconds', observer_type: 'histogram', histogram_options: { buckets: [0.05, 0.5, 5] }, labels: { region: '$1' } },
            { match: 'shop.*.render', name: 'shop_render_seconds', observer_type: 'summary', labels: { region: '$1' } },
          ],
        },
      },
    });
    client = new StatsD({ host: '127.0.0.1', port: h.statsd.udp!.port, errorHandler: (e: Error) => assert.fail(e.message) });
    prom = await startPrometheus({ targets: [`127.0.0.1:${h.httpAddress.port}`], scrapeIntervalMs: 1000 });
  });
  after(async () => {
    await new Promise<void>((r) => client?.close(() => r()));
    await prom?.stop();
    await h?.close();
  });

  test('counters, histograms, summaries, gauges and tags arrive as normalized series', async () => {
    client.increment('shop.eu.orders', 4);
    // hot-shots samples on the client side with Math.random(); pin it so this sampled increment is always sent.
    const random = Math.random;
    Math.random = () => 0;
    client.increment('shop.us.orders', 1, 0.5);
    Math.random = random;
    client.timing('shop.eu.checkout', 200);
    client.timing('shop.eu.checkout', 20);
    client.timing('shop.eu.render', 30);
    client.gauge('shop.stock', 17, { sku: 'A-1' });

    const up = await prom.waitFor('up{job="adapter"}', (r) => r[0].value[1] === '1');
    assert.equal(up.length, 1);
    const orders = await prom.waitFor('shop_orders_total', (r) => r.length === 2);
    const byRegion = Object.fromEntries(orders.map((s) => [s.metric.region, Number(s.value[1])]));
    assert.deepEqual(byRegion, { eu: 4, us: 2 });
    const b = await prom.waitFor('shop_checkout_seconds_bucket{region="eu"}', (r) => r.length === 4);
    const buckets = Object.fromEntries(b.map((s) => [s.metric.le, Number(s.value[1])]));
    assert.deepEqual(buckets, { '0.05': 1, '0.5': 2, '5': 2, '+Inf': 2 });
    const q = await prom.waitFor('histogram_quantile(0.5, shop_checkout_seconds_bucket)');
    assert.ok(Number(q[0].value[1]) > 0);
    const sum = await prom.waitFor('shop_render_seconds_count{region="eu"}');
    assert.equal(Number(sum[0].value[1]), 1);
    const quant = await prom.waitFor('shop_render_seconds{quantile="0.5"}');
    assert.equal(Number(quant[0].value[1]), 0.03);
    const stock = await prom.waitFor('shop_stock{sku="A-1"}');
    assert.equal(Number(stock[0].value[1]), 17);
    const self = await prom.waitFor('podkit_metrics_adapter_statsd_lines_total');
    assert.ok(Number(self[0].value[1]) >= 6);
    // Prometheus negotiated OpenMetrics and ingested the _created series without a scrape error.
    // (Polled: on a loaded machine one scrape may time out; a format error would never clear.)
    await pollUntil(
      async () => {
        const health = (await fetch(`${prom.url}/api/v1/targets`).then((r) => r.json())) as { data: { activeTargets: Array<{ health: string; lastError: string }> } };
        const t = health.data.activeTargets[0];
        if (/parse|unexpected|invalid/i.test(t.lastError)) assert.fail(`scrape error: ${t.lastError}`);
        return t.health === 'up' && t.lastError === '';
      },
      { timeoutMs: 20_000, what: 'a clean scrape' },
    );
  });
});
