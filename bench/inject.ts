/**
 * @module `npm run bench -- inject`: how fast `podkit inject` transforms manifests (in process, validation on) and
 * how long an AdmissionReview takes through `podkit webhook` over TLS (keep-alive client, sequential requests).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { parseAllDocuments } from 'yaml';
import { injectText } from '../src/inject/index.js';
import { startWebhook } from '../src/inject/server.js';
import { issueCert, makeCA } from '../test/helpers/tls.js';
import type { BenchOptions } from './run.js';
import { percentile, table } from './_table.js';

const FIXTURE = new URL('../test/fixtures/inject/deployment-all-three.yaml', import.meta.url);

export default async function bench({ smoke, out }: BenchOptions): Promise<void> {
  const text = readFileSync(FIXTURE, 'utf8');
  const opts = { image: 'ghcr.io/podkit/podkit:bench', version: 'bench' };
  const n = smoke ? 50 : 2000;

  // Warm up, then time inject of one Deployment with all three components.
  for (let i = 0; i < 20; i++) injectText(text, opts);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    injectText(text, opts);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }

  const ca = await makeCA('bench-ca');
  const cert = await issueCert(ca);
  const hook = await startWebhook({ certFile: cert.certFile, keyFile: cert.keyFile, review: { ...opts, sidecarMode: 'native' }, reloadIntervalMs: 0 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.cert });
  const object = parseAllDocuments(text)[0].toJS() as Record<string, unknown>;
  const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'b', operation: 'CREATE', object } });
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: hook.address.port, path: '/mutate', method: 'POST', agent, servername: 'localhost', headers: { 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.on('error', reject);
      req.end(body);
    });
  const rtt: number[] = [];
  try {
    for (let i = 0; i < 20; i++) await once();
    for (let i = 0; i < n; i++) {
      const t0 = process.hrtime.bigint();
      await once();
      rtt.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  } finally {
    agent.destroy();
    await hook.close();
  }
  const row = (what: string, v: number[]) => [what, v.length, percentile(v, 50), percentile(v, 99), 1000 / (v.reduce((a, b) => a + b, 0) / v.length)];
  out(table(['operation', 'n', 'p50 ms', 'p99 ms', 'per s'], [row('inject (Deployment, 3 components, validated)', times), row('webhook AdmissionReview over TLS', rtt)]));
}
