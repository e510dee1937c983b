/** @module A real Prometheus server (Debian's `prometheus`) scraping given targets, with its HTTP API for queries. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { pollUntil, waitForPort } from './poll.js';
import { startProcess, tempDir, type Proc } from './proc.js';
import { requireBinary } from './redis.js';

export interface PrometheusOptions {
  /** host:port targets scraped as job "adapter". */
  targets: string[];
  /** Scrape interval, ms. Default 1000. */
  scrapeIntervalMs?: number;
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface Prometheus {
  readonly port: number;
  readonly url: string;
  readonly proc: Proc;
  /** Instant query; resolves with the vector result. */
  query(expr: string): Promise<PromSample[]>;
  /** Poll until the query returns at least one sample (and `accept` holds), or time out. */
  waitFor(expr: string, accept?: (r: PromSample[]) => boolean, timeoutMs?: number): Promise<PromSample[]>;
  stop(): Promise<void>;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  requireBinary('prometheus');
  const dir = tempDir('podkit-prom-');
  const port = await freePort();
  const interval = `${opts.scrapeIntervalMs ?? 1000}ms`;
  const config = [
    'global:',
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    'scrape_configs:',
    '  - job_name: adapter',
    `    static_configs: [{ targets: [${opts.targets.map((t) => `"${t}"`).join(', ')}] }]`,
    '',
  ].join('\n');
  const cfgPath = join(dir, 'prometheus.yml');
  writeFileSync(cfgPath, config);
  const proc = startProcess('prometheus', [
    `--config.file=${cfgPath}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--log.level=warn',
  ], { name: 'prometheus' });
  await waitForPort(port, '127.0.0.1', 20_000);
  const url = `http://127.0.0.1:${port}`;
  await pollUntil(async () => (await fetch(`${url}/-/ready`)).ok, { timeoutMs: 20_000, what: 'prometheus to be ready' });
  const query = async (expr: string): Promise<PromSample[]> => {
    const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] } };
    if (body.status !== 'success') throw new Error(`prometheus query ${expr} failed: ${body.error}`);
    return body.data?.result ?? [];
  };
  return {
    port,
    url,
    proc,
    query,
    waitFor: (expr, accept = () => true, timeoutMs = 40_000) =>
      pollUntil(
        async () => {
          const r = await query(expr);
          return r.length > 0 && accept(r) ? r : undefined;
        },
        { timeoutMs, intervalMs: 200, what: `prometheus query ${expr}` },
      ),
    stop: () => proc.stop(),
  };
}
