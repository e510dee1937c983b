/** @module metrics-adapter under hostile input: pull sources capped (series, body size), numbers kept finite, URL secrets never logged. */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createSocket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { freePort, pollUntil, requireBinary } from './helpers/index.js';
import { decodeRequest, startOtlpReceiver } from './helpers/otlp-receiver.js';
import { createLogger } from '../src/core/log.js';
import { start, type Handle } from '../src/metrics-adapter/index.js';
import { parseExposition } from '../src/metrics-adapter/sources/prom-parse.js';

async function scrape(port: number, accept = 'text/plain'): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { accept } });
  return res.text();
}

/** What `promtool check metrics` (Prometheus' own text parser) says is wrong with an exposition; lint advice left out. */
function promtoolErrors(text: string): string[] {
  requireBinary('promtool');
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 1 << 26 });
  return `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error/i.test(l));
}

describe('metrics-adapter hostile input', () => {
  let h: Handle;
  let target: Server;
  const logs: string[] = [];
  const SECRETS = ['s3cr3t-pw', 'TOK-1', 'TOK-2', 'KEY-3'];

  before(async () => {
    // A Prometheus endpoint with 3,000 series, and one whose body is larger than its source's max_body_size.
    const many = Array.from({ length: 3000 }, (_, i) => `wide{i="${i}"} ${i}`).join('\n') + '\n';
    const big = `# TYPE big gauge\n${'big 1\n'.repeat(50_000)}`;
    target = createServer((req, res) => {
      res.setHeader('content-type', 'text/plain; version=0.0.4');
      if (req.url === '/many') res.end(`# TYPE wide gauge\n${many}`);
      else if (req.url === '/big') res.end(big);
      else if (req.url === '/chunked') {
        // No content-length: the cap must hold while streaming.
        res.write('# TYPE big gauge\n');
        for (let i = 0; i < 10; i++) res.write('big 1\n'.repeat(10_000));
        res.end();
      } else res.end('');
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const tp = (target.address() as AddressInfo).port;
    const closed = await freePort();
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString());
        cb();
      },
    });
    h = await start({
      doc: {
        statsd: { listen_tcp: '' , listen_udp: '127.0.0.1:0' },
        sources: [
          { name: 'many', kind: 'prometheus', url: `http://127.0.0.1:${tp}/many`, max_series: 1000 },
          { name: 'big', kind: 'prometheus', url: `http://127.0.0.1:${tp}/big`, max_body_size: '64KiB' },
          { name: 'chunked', kind: 'prometheus', url: `http://127.0.0.1:${tp}/chunked`, max_body_size: 65_536 },
          { name: 'leaky', kind: 'json', url: `http://user:s3cr3t-pw@127.0.0.1:${closed}/s?token=TOK-1&access_token=TOK-2&apikey=KEY-3&page=1`, metrics: [{ name: 'x', path: '$.x' }] },
        ],
      },
      httpBind: { host: '127.0.0.1', port: 0 },
      log: createLogger({ name: 'metrics-adapter', level: 'debug', format: 'json', stream: sink }),
    });
  });

  after(async () => {
    await h?.close();
    await new Promise((r) => target?.close(r));
  });

  test('a pull source keeps at most max_series series; the rest are dropped and counted', async () => {
    const out = await scrape(h.httpAddress.port);
    assert.equal(out.split('\n').filter((l) => l.startsWith('wide{')).length, 1000);
    assert.match(out, /^podkit_metrics_adapter_source_dropped_total\{source="many",reason="series_limit"\} 2000$/m);
    assert.match(out, /^up\{source="many"\} 1$/m);
  });

  test('a body over max_body_size fails that source (declared or streamed), counted; the rest is served', async () => {
    const out = await scrape(h.httpAddress.port);
    assert.match(out, /^up\{source="big"\} 0$/m);
    assert.match(out, /^up\{source="chunked"\} 0$/m);
    assert.match(out, /^podkit_metrics_adapter_source_dropped_total\{source="big",reason="body_size"\} [1-9]/m);
    assert.match(out, /^podkit_metrics_adapter_source_dropped_total\{source="chunked",reason="body_size"\} [1-9]/m);
    assert.doesNotMatch(out, /^big /m);
  });

  test('URL secrets (user:pw@, ?token=, ?access_token=, ?apikey=) never reach a log line or the landing page', async () => {
    await scrape(h.httpAddress.port);
    const line = await pollUntil(() => logs.find((l) => l.includes('source collection failed') && l.includes('leaky')), { what: 'the failure log line' });
    assert.match(line, /\/s\?token=\[REDACTED\]/);
    const landing = await (await fetch(`http://127.0.0.1:${h.httpAddress.port}/`)).text();
    for (const s of SECRETS) {
      assert.ok(!logs.some((l) => l.includes(s)), `${s} logged`);
      assert.ok(!landing.includes(s), `${s} on the landing page`);
    }
  });

  test('numbers stay finite: an underflowing rate or an overflowing sum is dropped and counted, OpenMetrics stays valid', async () => {
    const c = createSocket('udp4');
    const lines = ['rt.lat:1|ms|@1e-320', 'big.c:1e308|c', 'big.c:1e308|c', 'g.up:1e308|g', 'g.up:+1e308|g', 'h.sum:1e308|h', 'h.sum:1e308|h', 'ok:1|c'];
    await new Promise<void>((r) => c.send(lines.join('\n'), h.statsd.udp!.port, '127.0.0.1', () => r()));
    c.close();
    const om = await pollUntil(async () => {
      const t = await scrape(h.httpAddress.port, 'application/openmetrics-text; version=1.0.0');
      return /^ok_total 1$/m.test(t) ? t : undefined;
    });
    assert.doesNotMatch(om.split('\n').filter((l) => !l.startsWith('#') && !/quantile=|le="\+Inf"/.test(l)).join('\n'), /\s(\+Inf|-Inf|NaN)$/m);
    assert.match(om, /^big_c_total 1e\+308$/m);
    assert.match(om, /^g_up 1e\+308$/m);
    assert.match(om, /^podkit_metrics_adapter_dropped_samples_total\{reason="non_finite"\} 4$/m);
    assert.doesNotThrow(() => parseExposition(om, 'openmetrics'));
  });
});

describe('metrics-adapter serving a hostile upstream exposition', () => {
  let h: Handle;
  let target: Server;
  let rx: Awaited<ReturnType<typeof startOtlpReceiver>>;
  // Exact bytes: OpenMetrics timestamps far in the future and before 1970, a NaN _created; a 0.0.4 body with blanks
  // around label tokens (Prometheus reads it) next to one with a negative timestamp (Prometheus refuses it).
  const OM = '# TYPE far gauge\nfar 1 1e300\n# TYPE past gauge\npast 2 -1.5\n# TYPE fine gauge\nfine 3 1700000000.5\n# TYPE c counter\nc_total 4\nc_created NaN\n# EOF\n';
  const SPACED = 'spaced{ a = "b" ,\tc="d"} 5\n';
  const NEGATIVE = 'neg 6 -1\n';
  // JSON keys that are lone UTF-16 surrogates: both are written as U+FFFD.
  const LONE = '{"s":{"\\ud800":1,"\\udc00":2}}';

  before(async () => {
    rx = await startOtlpReceiver();
    target = createServer((req, res) => {
      if (req.url === '/om') {
        res.setHeader('content-type', 'application/openmetrics-text; version=1.0.0');
        res.end(OM);
      } else if (req.url === '/lone') res.end(LONE);
      else res.end(req.url === '/spaced' ? SPACED : NEGATIVE);
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const tp = (target.address() as AddressInfo).port;
    h = await start({
      doc: {
        statsd: { listen_tcp: '', listen_udp: '' },
        sources: [
          ...['om', 'spaced', 'negative'].map((name) => ({ name, kind: 'prometheus', url: `http://127.0.0.1:${tp}/${name}` })),
          { name: 'lone', kind: 'json', url: `http://127.0.0.1:${tp}/lone`, metrics: [{ name: 'j_k', path: '$.s.*', labels: { k: '$key' } }] },
        ],
        outputs: { otlp: { endpoint: rx.url, interval: '100ms' } },
      },
      httpBind: { host: '127.0.0.1', port: 0 },
    });
  });

  after(async () => {
    await h?.close();
    await rx?.close();
    await new Promise((r) => target?.close(r));
  });

  test('timestamps no output can carry are dropped with their sample, a bad _created forgotten; promtool reads /metrics', async () => {
    const text = await scrape(h.httpAddress.port);
    assert.deepEqual(promtoolErrors(text), []);
    assert.doesNotMatch(text, /^(far|past)\b/m, 'a 0.0.4 timestamp of 1e+303 or -1500 would fail the whole scrape');
    assert.match(text, /^fine 3 1700000000500$/m);
    assert.match(text, /^podkit_metrics_adapter_conflicts_total\{reason="invalid_value"\} [1-9]/m);
    const om = await scrape(h.httpAddress.port, 'application/openmetrics-text; version=1.0.0');
    assert.match(om, /^c_total 4$/m);
    assert.doesNotMatch(om, /^c_created/m);
    assert.doesNotThrow(() => parseExposition(om, 'openmetrics'));
  });

  test('blanks around label tokens are read (Prometheus reads them); a negative 0.0.4 timestamp fails that source only', async () => {
    const text = await scrape(h.httpAddress.port);
    assert.match(text, /^spaced\{a="b",c="d"\} 5$/m);
    assert.match(text, /^up\{source="spaced"\} 1$/m);
    assert.match(text, /^up\{source="negative"\} 0$/m);
    assert.doesNotMatch(text, /^neg /m);
  });

  test('label values that print the same are one series: lone surrogates become U+FFFD before series are told apart', async () => {
    const text = await scrape(h.httpAddress.port);
    assert.deepEqual(text.split('\n').filter((l) => l.startsWith('j_k')), ['j_k{k="\ufffd"} 1']);
    assert.match(text, /^podkit_metrics_adapter_conflicts_total\{reason="duplicate_series"\} [1-9]/m);
  });

  test('OTLP pushes keep going: the same hostile times no longer make the encoder throw', async () => {
    const got = await pollUntil(() => rx.got.map((r) => decodeRequest(r.body)).find((d) => d.metrics.some((m) => m.name === 'fine')), { what: 'an OTLP push carrying the source families' });
    const fine = got.metrics.find((m) => m.name === 'fine')!;
    assert.equal(fine.points[0].time, 1_700_000_000_500_000_000n);
    assert.ok(!got.metrics.some((m) => m.name === 'far' || m.name === 'past'));
  });
});

test('StatsD TCP: past limits.max_tcp_connections one more connection is closed at once and counted; the open ones go on', { timeout: 30_000 }, async () => {
  const h = await start({ doc: { statsd: { listen_udp: '', listen_tcp: '127.0.0.1:0' }, limits: { max_tcp_connections: 2 } }, httpBind: { host: '127.0.0.1', port: 0 } });
  const socks: Socket[] = [];
  const open = () =>
    new Promise<Socket>((resolve, reject) => {
      const s = connect(h.statsd.tcp!.port, '127.0.0.1', () => resolve(s));
      s.on('error', reject);
      socks.push(s);
    });
  try {
    const [a, b] = [await open(), await open()];
    // Both hold a partial line: what a hostile peer would pile up, one connection at a time.
    a.write('held.a:1|c');
    b.write('held.b:1|c');
    await pollUntil(async () => /^podkit_metrics_adapter_statsd_tcp_connections_total 2$/m.test(await scrape(h.httpAddress.port)) || undefined, { what: 'two connections accepted' });
    const third = await open();
    await new Promise<void>((r) => (third.readableEnded || third.destroyed ? r() : third.once('close', () => r())));
    const out = await pollUntil(async () => {
      const t = await scrape(h.httpAddress.port);
      return /^podkit_metrics_adapter_statsd_tcp_connections_refused_total 1$/m.test(t) ? t : undefined;
    }, { what: 'the refused connection counted' });
    assert.match(out, /^podkit_metrics_adapter_statsd_tcp_connections_total 2$/m);
    a.end('\n');
    b.end('\n');
    await pollUntil(async () => {
      const t = await scrape(h.httpAddress.port);
      return /^held_a 1$/m.test(t) && /^held_b 1$/m.test(t) || undefined;
    }, { what: 'the open connections\' lines counted' });
  } finally {
    for (const s of socks) s.destroy();
    await h.close();
  }
});
