/** @module Reload that moves the StatsD listeners (an unbindable address keeps the old ones), and OTLP push self-metrics across reloads. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSocket, type Socket } from 'node:dgram';
import { freePort, pollUntil, stopAll, tempDir } from './helpers/index.js';
import { start } from '../src/metrics-adapter/index.js';
import { startOtlpReceiver } from './helpers/otlp-receiver.js';

after(stopAll);

const send = (sock: Socket, port: number, s: string) => new Promise<void>((r) => sock.send(s, port, '127.0.0.1', () => r()));

test('reload moves the UDP listener; an unbindable address fails the reload and keeps the old listener', async () => {
  const dir = tempDir();
  const cfg = join(dir, 'adapter.yaml');
  const [a, b] = [await freePort(), await freePort()];
  const write = (port: number) => writeFileSync(cfg, `statsd:\n  listen_udp: 127.0.0.1:${port}\n  listen_tcp: ""\n`);
  write(a);
  const h = await start({ config: cfg, httpBind: { host: '127.0.0.1', port: 0 } });
  const sock = createSocket('udp4');
  const blocker = createSocket('udp4');
  try {
    const value = () => h.store.collect().find((f) => f.name === 'moved')?.metrics[0].value ?? 0;
    await send(sock, a, 'moved:1|c');
    await pollUntil(() => value() === 1, { what: 'sample on the first port' });

    write(b);
    assert.deepEqual(await h.reload(), { ok: true, changed: ['config'] });
    assert.equal(h.statsd.udp?.port, b);
    await send(sock, b, 'moved:1|c');
    await pollUntil(() => value() === 2, { what: 'sample on the new port' });

    // Something else holds port a now: the reload fails, the adapter keeps listening on b.
    await new Promise<void>((r) => blocker.bind(a, '127.0.0.1', () => r()));
    write(a);
    const refused = await h.reload();
    assert.equal(refused.ok, false);
    assert.match(refused.error ?? '', /cannot listen on 127\.0\.0\.1:\d+: the port is in use by another process/);
    assert.equal(h.statsd.udp?.port, b);
    await send(sock, b, 'moved:1|c');
    await pollUntil(() => value() === 3, { what: 'old listener still working' });
    const text = (await h.collect()).find((f) => f.name === 'podkit_metrics_adapter_config_reloads_total');
    assert.deepEqual(Object.fromEntries(text!.metrics.map((m) => [m.labels.outcome, m.value])), { success: 1, failure: 1 });
  } finally {
    sock.close();
    blocker.close();
    await h.close();
  }
});

test('outputs.otlp: pushes are counted in self-metrics, and a failing collector is counted as failure', async () => {
  const ok = await startOtlpReceiver();
  const bad = await startOtlpReceiver(503);
  const dir = tempDir();
  const cfg = join(dir, 'adapter.yaml');
  const write = (url: string) => writeFileSync(cfg, `statsd:\n  listen_udp: ""\n  listen_tcp: ""\noutputs:\n  otlp:\n    endpoint: ${url}\n    interval: 100ms\n`);
  write(ok.url);
  const h = await start({ config: cfg, httpBind: { host: '127.0.0.1', port: 0 } });
  const pushes = async () => {
    const f = (await h.collect()).find((x) => x.name === 'podkit_metrics_adapter_otlp_pushes_total');
    return Object.fromEntries((f?.metrics ?? []).map((m) => [m.labels.outcome, m.value ?? 0]));
  };
  try {
    await pollUntil(async () => (await pushes()).success >= 2, { what: 'successful pushes counted' });
    write(bad.url);
    assert.equal((await h.reload()).ok, true);
    const before = (await pushes()).success;
    await pollUntil(async () => (await pushes()).failure >= 1, { what: 'a failed push counted' });
    assert.ok((await pushes()).success >= before, 'totals survive the output restart on reload');
  } finally {
    await h.close();
    await ok.close();
    await bad.close();
  }
});
