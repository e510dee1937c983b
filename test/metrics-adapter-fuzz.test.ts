/**
 * @module metrics-adapter under seeded hostile input, end to end: mutated StatsD datagrams (UDP) and mutated upstream
 * expositions and JSON (HTTP) through the running adapter; every /metrics it serves must stay readable by Prometheus
 * (`promtool check metrics`) and well-formed OpenMetrics, and the good lines of a datagram must survive a bad one.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createSocket, type Socket } from 'node:dgram';
import { spawnSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { pollUntil, requireBinary } from './helpers/index.js';
import { Rng, fuzzSeed, mutate, mutateNumber } from './helpers/fuzz.js';
import { start, type Handle } from '../src/metrics-adapter/index.js';
import { parseExposition } from '../src/metrics-adapter/sources/prom-parse.js';

const CASES = 200;
/** promtool is a process per call: the text exposition is checked every few cases (and after the last). */
const PROMTOOL_EVERY = 10;
const MAX_SERIES = 2000;

const STATSD = [
  'foo:1|c', 'foo.bar:2|g', 'g:+3|g', 'g:-3|g', 'tm:320|ms|@0.1', 'h:1.5|h|#a:b,c:d', 'd:2|d|@0.5|#env:prod', 's:user1|s',
  'foo,tag=v:1|c', 'foo#tag=v:1|c', 'foo.[tag=v]bar:1|c', 'a:1|c:2|c', 't:1:2:3|ms|#x:y', 'c:1|c|c:abc123', 'c:1|c|T1656581400',
  'myapp.api.requests:1|c', 'hist.x:3|h|#le:5', 'sum.x:3|ms|#quantile:1', 'émoji😱.name:1|c', 'x:1e308|c', 'xg:-0|g',
  'xc:1|c|@1e308', 'a.b_count:1|g', 'a.b:1|ms', 'name_total:1|c', 'tags:1|c|#__name__:x,le:1,a-b:1,a_b:2,0x:1,:e,k:,#k2:v"q',
  'k:1|c|#a:"\\\r', 'le.x:1|h|#le:0.5,exported_le:2', 'foo_created:1|g', 'set.x:a|s|#t:1', 'z:1|c|@0.5|#a:b|c:cid|T123',
];
const TEXT = '# HELP req_total Total "requests" with \\\\ and \\n.\n# TYPE req_total counter\nreq_total{code="200"} 1027 1395066363000\nreq_total{code="400",path="a\\"b\\\\c\\nd"} 3\n# TYPE temp gauge\ntemp{room="a"} -12.5\ntemp{room="b"} NaN\n# TYPE lat histogram\nlat_bucket{le="0.1"} 3\nlat_bucket{le="+Inf"} 4\nlat_sum 5\nlat_count 4\n# TYPE rpc summary\nrpc{quantile="0.5"} 4773\nrpc_sum 17\nrpc_count 2\nplain{a="1"} 12.47 1700000000000\n';
const OM = '# TYPE acme_seconds summary\n# UNIT acme_seconds seconds\nacme_seconds_sum{path="/a"} 9.5\nacme_seconds_count{path="/a"} 8\nacme_seconds_created{path="/a"} 1605281325.0\n# TYPE cpu_seconds counter\ncpu_seconds_total 4.2e+06\n# TYPE foo histogram\nfoo_bucket{le="1e-05"} 0\nfoo_bucket{le="+Inf"} 17 # {trace_id="KOO5"} 0.67\nfoo_count 17\nfoo_sum 3.5\n# TYPE build info\nbuild_info{version="1.2.3"} 1\n# TYPE x unknown\nx 1 1520879607.789\n# EOF\n';
const JSON_DOC = JSON.stringify({ a: 1, b: { c: [1, 2, { d: '3' }] }, s: { 'k"ey\\': 5, ok: 2, 'é😱': 3 }, big: 1e300 });

/** Values and timestamps at the edges of what Prometheus reads (appended to a sample line, or put in its place). */
const EDGE_FIELDS = ['-1', '1.5', '1e3', '1e300', '-1e300', '99999999999999999999', '9223372036854775808', 'NaN', '+Inf', '0x10', '-0'];

/** A mutated body: bytes flipped, inserted, cut (mutate), a number replaced by an edge value, a line repeated, an edge field added. */
function mutateText(rng: Rng, s: string): string {
  const r = rng.int(6);
  if (r === 0) return mutateNumber(s, rng);
  if (r === 1 || r === 2) {
    const ls = s.split('\n');
    const i = rng.int(ls.length);
    if (r === 1) ls.splice(i, 0, rng.pick(ls));
    else if (!ls[i].startsWith('#')) ls[i] = `${ls[i].replace(/ # \{.*$/, '')} ${rng.pick(EDGE_FIELDS)}`;
    return ls.join('\n');
  }
  return mutate(Buffer.from(s), rng, 1 + rng.int(3)).toString(rng.int(3) === 0 ? 'latin1' : 'utf8');
}

/** What Prometheus' own parsers would refuse and promtool does not check: duplicate series, 0.0.4 timestamps, OpenMetrics framing. */
function structureErrors(text: string, om: boolean): string[] {
  const errs: string[] = [];
  const seen = new Set<string>();
  const types = new Set<string>();
  const lines = text.split('\n');
  if (lines.pop() !== '') errs.push('no final newline');
  if (om && (lines.at(-1) !== '# EOF' || lines.indexOf('# EOF') !== lines.length - 1)) errs.push('# EOF is not the last line, once');
  for (const l of lines) {
    const t = /^# TYPE (\S+)/.exec(l);
    if (t) {
      if (types.has(t[1])) errs.push(`second TYPE for ${t[1]}`);
      types.add(t[1]);
    }
    if (l.startsWith('#')) continue;
    const m = /^([^{ ]+(?:\{[^]*\})?) (\S+)(?: (\S+))?$/.exec(l);
    if (!m) errs.push(`unreadable line ${JSON.stringify(l)}`);
    else {
      if (seen.has(m[1])) errs.push(`duplicate series ${m[1]}`);
      seen.add(m[1]);
      if (!om && m[3] !== undefined && !/^\d{1,19}$/.test(m[3])) errs.push(`0.0.4 timestamp Prometheus cannot read: ${l}`);
    }
  }
  if (om) {
    try {
      parseExposition(text, 'openmetrics');
    } catch (err) {
      errs.push(`OpenMetrics does not parse back: ${(err as Error).message}`);
    }
  }
  return errs;
}

function promtoolErrors(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 1 << 26 });
  return `${r.stdout}${r.stderr}`.split('\n').filter((l) => /error/i.test(l));
}

let h: Handle;
let upstream: Server;
let udp: Socket;
const bodies = { prom: TEXT, promType: 'text/plain; version=0.0.4', json: JSON_DOC };

before(async () => {
  requireBinary('promtool');
  upstream = createServer((req, res) => {
    if (req.url === '/prom') res.setHeader('content-type', bodies.promType);
    res.end(req.url === '/prom' ? bodies.prom : bodies.json);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  h = await start({
    doc: {
      statsd: {
        listen_udp: '127.0.0.1:0', listen_tcp: '',
        defaults: { observer_type: 'histogram', buckets: [0.01, 0.1, 1] },
        mappings: [
          { match: 'myapp.*.requests', name: 'myapp_requests_total', labels: { svc: '$1' } },
          { match: 'sum.*', name: 'sum_$1', observer_type: 'summary' },
          { match: 'le.*', name: 'le_h', labels: { le: '$1' }, honor_labels: true },
        ],
      },
      limits: { max_series: MAX_SERIES, max_series_per_family: 200, max_set_members: 50 },
      sources: [
        { name: 'prom', kind: 'prometheus', url: `http://127.0.0.1:${port}/prom` },
        { name: 'json', kind: 'json', url: `http://127.0.0.1:${port}/json`, metrics: [
          { name: 'j_a', path: '$.a' }, { name: 'j_c', path: '$.b.c[*]', valuetype: 'gauge' },
          { name: 'j_s', type: 'object', path: '$.s', labels: { k: '$key' }, values: { v: '@' } }, { name: 'j_big', path: '$.big' },
        ] },
      ],
    },
    httpBind: { host: '127.0.0.1', port: 0 },
  });
  udp = createSocket('udp4');
});

after(async () => {
  udp?.close();
  await h?.close();
  await new Promise((r) => upstream?.close(r));
});

async function scrape(accept: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${h.httpAddress.port}/metrics`, { headers: { accept } });
  assert.equal(res.status, 200);
  return res.text();
}

test(`${CASES} seeded cases: hostile datagrams and upstream bodies never make /metrics unreadable to Prometheus`, async () => {
  const seed = fuzzSeed(0x5eed);
  const rng = new Rng(seed);
  let sent = 0;
  for (let c = 0; c < CASES; c++) {
    // Each datagram: 1–4 mutated lines, then a good line that must be counted whatever came before it.
    const datagrams = Array.from({ length: 1 + rng.int(3) }, () => {
      const lines = Array.from({ length: 1 + rng.int(4) }, () => (rng.int(3) === 0 ? Buffer.from(mutateNumber(rng.pick(STATSD), rng)) : mutate(Buffer.from(rng.pick(STATSD)), rng, 1 + rng.int(3))));
      return Buffer.concat([...lines.flatMap((l) => [l, Buffer.from('\n')]), Buffer.from('fuzz_sentinel:1|c')]);
    });
    if (rng.int(2)) {
      const om = rng.int(2) === 0;
      bodies.prom = mutateText(rng, om ? OM : TEXT);
      bodies.promType = om ? 'application/openmetrics-text; version=1.0.0' : 'text/plain; version=0.0.4';
    }
    if (rng.int(3) === 0) bodies.json = mutateText(rng, JSON_DOC);
    const input = `seed ${seed} case ${c}: datagrams ${JSON.stringify(datagrams.map((d) => d.toString('latin1')))}, upstream ${bodies.promType} ${JSON.stringify(bodies.prom)}, json ${JSON.stringify(bodies.json)}`;

    for (const d of datagrams) await new Promise<void>((r) => udp.send(d, h.statsd.udp!.port, '127.0.0.1', () => r()));
    sent += datagrams.length;
    const text = await pollUntil(async () => {
      const t = await scrape('text/plain');
      return new RegExp(`^fuzz_sentinel ${sent}$`, 'm').test(t) ? t : undefined;
    }, { timeoutMs: 10_000, what: `fuzz_sentinel ${sent} (the good line after the hostile ones), ${input}` });
    assert.deepEqual(structureErrors(text, false), [], input);
    if (c % PROMTOOL_EVERY === PROMTOOL_EVERY - 1 || c === CASES - 1) assert.deepEqual(promtoolErrors(text), [], input);
    assert.deepEqual(structureErrors(await scrape('application/openmetrics-text; version=1.0.0'), true), [], input);
    assert.ok(h.store.size <= MAX_SERIES, `${h.store.size} series > max_series, ${input}`);
  }
});
