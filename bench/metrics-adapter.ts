/** @module `npm run bench -- metrics-adapter`: StatsD ingest loss at rate, scrape latency/blocking at 100k series vs prom-client, memory. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Registry as PromRegistry, Gauge as PromGauge } from 'prom-client';
import type { BenchOptions } from './run.js';
import { table, percentile, median } from './_table.js';
import { start, type Handle } from '../src/metrics-adapter/index.js';
import { SeriesStore } from '../src/metrics-adapter/store.js';
import { StatsdIngest } from '../src/metrics-adapter/statsd/ingest.js';
import { parseMappingConfig } from '../src/metrics-adapter/statsd/mapping.js';
import { loadAddon, RECEIVER_ENV, type UdpReceiverMode } from '../src/metrics-adapter/udp-receiver.js';

const root = fileURLToPath(new URL('..', import.meta.url));

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

function child(script: string, args: (string | number)[], onWarm?: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args.map(String)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d));
    let told = false;
    p.stderr.on('data', (d: Buffer) => {
      err += d;
      if (onWarm && !told && err.includes('warm\n')) {
        told = true;
        onWarm();
      }
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${script} exited ${code}: ${err}`));
    });
  });
}

async function settle(h: Handle, expected: number): Promise<number> {
  // Wait until everything sent is counted or the count stops moving (the kernel dropped the rest).
  let last = -1;
  let stable = 0;
  for (let i = 0; i < 300 && stable < 5; i++) {
    const now = h.ingest.stats.lines;
    if (now >= expected) return now;
    stable = now === last ? stable + 1 : 0;
    last = now;
    await new Promise((r) => setTimeout(r, 20));
  }
  return h.ingest.stats.lines;
}

/** One paced send into a running adapter: what arrived, and what it cost the receiving process. */
/** Block the event loop for `ms`, as a long GC pause or a synchronous render would. */
function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** `pauseMs` > 0: the receiving event loop is blocked that long once a second during the send. */
async function ingestRun(h: Handle, mode: string, rate: number, duration: number, pauseMs = 0) {
  const st = h.ingest.stats;
  const before = st.lines;
  const dgBefore = st.packets.udp;
  const dropsBefore = { ...st.udpDrops };
  const load = os.loadavg()[0];
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  // Loss comes from the receiver not reading for longer than the socket buffer lasts: show its own stalls.
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let pauses: NodeJS.Timeout | undefined;
  const sent = JSON.parse(
    await child('bench/_statsd-sender.ts', [h.statsd.udp!.port, mode, rate, duration], () => {
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      loop.enable();
      if (pauseMs > 0) pauses = setInterval(() => blockFor(pauseMs), 1000);
    }),
  ) as { linesSent: number; datagrams: number; elapsedMs: number };
  clearInterval(pauses);
  const got = (await settle(h, before + sent.linesSent)) - before;
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  const cpuUs = cpu.user + cpu.system;
  const dgGot = st.packets.udp - dgBefore;
  return {
    sent,
    got,
    dgGot,
    drops: `${st.udpDrops.socket_buffer - dropsBefore.socket_buffer}/${st.udpDrops.receive_ring - dropsBefore.receive_ring}`,
    loss: Math.max(0, 1 - got / sent.linesSent),
    cpuShare: cpuUs / 1e3 / (performance.now() - wall0),
    usPerDatagram: cpuUs / Math.max(1, dgGot),
    stallMs: loop.max / 1e6,
    load: `${load.toFixed(1)}→${os.loadavg()[0].toFixed(1)}`,
  };
}

async function ingestBench(smoke: boolean, out: BenchOptions['out']): Promise<void> {
  // Both receivers in one run, interleaved, so a change in the machine's load hits both alike.
  const native = loadAddon();
  const kinds: Array<[string, UdpReceiverMode]> = [
    [native instanceof Error ? 'recvmmsg (addon missing: dgram)' : 'recvmmsg', 'auto'],
    ['dgram', 'dgram'],
  ];
  const handles = new Map<string, Handle>();
  const saved = process.env[RECEIVER_ENV];
  for (const [label, m] of kinds) {
    process.env[RECEIVER_ENV] = m;
    handles.set(label, await start({ httpBind: { host: '127.0.0.1', port: 0 }, overrides: { listenUdp: '127.0.0.1:0', listenTcp: '', readBuffer: 4 * 1024 * 1024 } }));
  }
  if (saved === undefined) delete process.env[RECEIVER_ENV];
  else process.env[RECEIVER_ENV] = saved;

  const rows: (string | number)[][] = [];
  // [datagrams, lines/s, event-loop pause ms once a second]
  const plans: Array<[string, number, number]> = smoke
    ? [
        ['batched', 100_000, 0],
        ['single', 20_000, 0],
        ['single', 20_000, 50],
      ]
    : [
        ['single', 100_000, 0],
        ['single', 150_000, 0],
        ['single', 200_000, 0],
        ['single', 100_000, 200],
        ['batched', 400_000, 0],
        ['batched', 800_000, 0],
      ];
  const duration = smoke ? 500 : 3000;
  const repeats = smoke ? 1 : 2;
  for (let rep = 0; rep < repeats; rep++) {
    for (const [mode, rate, pauseMs] of plans) {
      // Alternate which receiver goes first.
      const order = rep % 2 === 0 ? kinds : [...kinds].reverse();
      for (const [label] of order) {
        const r = await ingestRun(handles.get(label)!, mode, rate, duration, pauseMs);
        rows.push([
          label,
          pauseMs ? `${mode}, ${pauseMs} ms pause/s` : mode,
          rate,
          Math.round((r.sent.datagrams / r.sent.elapsedMs) * 1000),
          `${r.dgGot}/${r.sent.datagrams}`,
          `${(r.loss * 100).toFixed(3)}%`,
          r.loss <= 0.0001 ? 'yes' : 'no',
          label === 'recvmmsg' ? r.drops : '-',
          r.usPerDatagram,
          `${Math.round(r.cpuShare * 100)}%`,
          r.stallMs,
          r.load,
        ]);
      }
    }
  }
  for (const h of handles.values()) await h.close();
  out(`StatsD ingest over UDP, ${repeats} interleaved round(s) (sender in a separate process; SO_RCVBUF asked 4 MiB, rmem_max here ${rmemMax()})`);
  out(
    table(
      ['receiver', 'datagrams', 'target lines/s', 'sent dgrams/s', 'received/sent dgrams', 'loss', '<= 0.01%', 'counted drops socket/ring', 'receiver CPU µs/datagram', 'receiver CPU/wall', 'receiver loop stall max ms', 'load 1m before→after'],
      rows,
    ),
  );
  out('');
}

function rmemMax(): string {
  try {
    return `${Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8')) / 2 ** 20} MiB`;
  } catch {
    return 'unknown';
  }
}

interface ScrapeResult {
  p50: number;
  p99: number;
  max: number;
  blockP99: number;
  blockMax: number;
  bytes: number;
}

async function scrapeServer(url: string, n: number): Promise<ScrapeResult> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  // Warm-ups happen while the monitor is off: only measured scrapes count towards blocking too.
  const warm = n >= 10 ? 3 : 1;
  const r = JSON.parse(await child('bench/_scraper.ts', [url, n, warm], () => loop.enable())) as { latencies: number[]; bytes: number };
  loop.disable();
  return { p50: median(r.latencies), p99: percentile(r.latencies, 99), max: Math.max(...r.latencies), blockP99: loop.percentile(99) / 1e6, blockMax: loop.max / 1e6, bytes: r.bytes };
}

async function scrapeBench(smoke: boolean, out: BenchOptions['out']): Promise<void> {
  const families = smoke ? 100 : 1000;
  const perFamily = 100;
  const series = families * perFamily;
  const scrapes = smoke ? 3 : 30;

  // podkit adapter: series arrive through the StatsD parser, as in production.
  const h0 = heap();
  const h = await start({ httpBind: { host: '127.0.0.1', port: 0 }, overrides: { listenUdp: '', listenTcp: '' }, doc: { limits: { max_series: series + 10_000 } } });
  for (let f = 0; f < families; f++) {
    let text = '';
    for (let i = 0; i < perFamily; i++) text += f % 2 ? `svc.family${f}:${i}|g|#instance:host-${i}\n` : `svc.family${f}:1|c|#instance:host-${i}\n`;
    h.ingest.packet(Buffer.from(text));
  }
  const adapterBytesPerSeries = (heap() - h0) / series;
  const podkit = await scrapeServer(`http://127.0.0.1:${h.httpAddress.port}/metrics`, scrapes);
  await h.close();

  // prom-client, same shape, same process, same scraper.
  const p0 = heap();
  const reg = new PromRegistry();
  for (let f = 0; f < families; f++) {
    const g = new PromGauge({ name: `svc_family${f}`, help: 'bench', labelNames: ['instance'], registers: [reg] });
    for (let i = 0; i < perFamily; i++) g.set({ instance: `host-${i}` }, i);
  }
  const promBytesPerSeries = (heap() - p0) / series;
  const srv: Server = createServer((_req, res) => {
    void reg.metrics().then((body) => {
      res.writeHead(200, { 'content-type': reg.contentType });
      res.end(body);
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  const prom = await scrapeServer(`http://127.0.0.1:${port}/metrics`, scrapes);
  await new Promise<void>((r) => srv.close(() => r()));

  out(`Scrape at ${series.toLocaleString('en-US')} series (${families} families x ${perFamily}), ${scrapes} sequential scrapes (after unmeasured warm-ups) from a separate process, which asks for gzip as Prometheus does`);
  out(
    table(
      ['server', 'p50 ms', 'p99 ms', 'max ms', 'event-loop block p99 ms', 'block max ms', 'body bytes', 'heap bytes/series'],
      [
        ['podkit metrics-adapter', podkit.p50, podkit.p99, podkit.max, podkit.blockP99, podkit.blockMax, podkit.bytes, Math.round(adapterBytesPerSeries)],
        ['prom-client 15 Registry', prom.p50, prom.p99, prom.max, prom.blockP99, prom.blockMax, prom.bytes, Math.round(promBytesPerSeries)],
        ['ratio podkit/prom-client', podkit.p50 / prom.p50, podkit.p99 / prom.p99, podkit.max / prom.max, podkit.blockP99 / prom.blockP99, podkit.blockMax / prom.blockMax, '', adapterBytesPerSeries / promBytesPerSeries],
      ],
    ),
  );
  out('');
}

async function burstBench(smoke: boolean, out: BenchOptions['out']): Promise<void> {
  const names = smoke ? 20_000 : 1_000_000;
  const cap = smoke ? 10_000 : 100_000;
  let dropped = 0;
  const store = new SeriesStore({ maxSeries: cap, onDrop: () => dropped++ });
  const ingest = new StatsdIngest(store, parseMappingConfig({}));
  const h0 = heap();
  const rss0 = process.memoryUsage().rss;
  let peak = 0;
  const t0 = performance.now();
  for (let b = 0; b < names / 40; b++) {
    let text = '';
    for (let i = 0; i < 40; i++) text += `burst.name${b * 40 + i}:1|c\n`;
    ingest.packet(Buffer.from(text));
    if (b % 2500 === 0) peak = Math.max(peak, process.memoryUsage().heapUsed - h0);
  }
  const secs = (performance.now() - t0) / 1000;
  peak = Math.max(peak, process.memoryUsage().heapUsed - h0);
  const retained = heap() - h0;
  out(`Burst of ${names.toLocaleString('en-US')} unique names through the parser (global cap ${cap.toLocaleString('en-US')} series)`);
  out(
    table(
      ['series kept', 'dropped (global_limit)', 'lines/s (parser+store, in-process)', 'heap peak growth MiB', 'heap retained MiB', 'rss growth MiB'],
      [[store.size, dropped, Math.round(names / secs), peak / 2 ** 20, retained / 2 ** 20, (process.memoryUsage().rss - rss0) / 2 ** 20]],
    ),
  );
  store.close();
  out('');
}

export default async function bench({ smoke, out }: BenchOptions): Promise<void> {
  out(`metrics-adapter benchmark${smoke ? ' (smoke)' : ''} — Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs (shared)`);
  out('');
  await ingestBench(smoke, out);
  await scrapeBench(smoke, out);
  await burstBench(smoke, out);
}
