/**
 * @module `npm run bench -- redis-ambassador`: redis-benchmark GET/SET directly, through nutcracker (twemproxy,
 * server_connections: 1, in front of the master) and through the ambassador (master + 2 replicas), interleaved.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireBinary, run, startProcess, startPodkit, startRedis, stopAll, tempDir, waitForOutput, waitForPort, closeRedisClients, pollUntil } from '../test/helpers/index.js';
import type { BenchOptions } from './run.js';
import { median, table, fmt } from './_table.js';

const NUTCRACKER = '/usr/sbin/nutcracker';

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  /** Proxy CPU time per request, µs (user + system); NaN for direct. Less sensitive to a busy machine than rps. */
  cpu: number;
}

/** CPU seconds used so far by a process (utime + stime from /proc, at 100 ticks/s). */
function procCpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Run redis-benchmark once; parse its CSV (test, rps, avg, min, p50, p95, p99, max). */
async function bench(port: number, test: 'get' | 'set', clients: number, pipeline: number, n: number): Promise<Sample> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-c', String(clients), '-P', String(pipeline), '-n', String(n), '-t', test, '-r', '10000', '-d', '16', '--csv'];
  const r = await run('redis-benchmark', args, { timeoutMs: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}"`));
  if (!line) throw new Error(`redis-benchmark printed no ${test} line:\n${r.stdout}\n${r.stderr}`);
  const f = line.split(',').map((x) => Number(x.replace(/"/g, '')));
  return { rps: f[1], p50: f[4], p99: f[6], cpu: NaN };
}

export default async function main({ smoke, out }: BenchOptions): Promise<void> {
  requireBinary('redis-benchmark');
  requireBinary(NUTCRACKER);
  const master = await startRedis();
  const replicas = [await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } }), await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } })];
  for (const r of replicas) {
    const c = r.client();
    await pollUntil(async () => /master_link_status:up/.test(await c.info('replication')), { timeoutMs: 15_000, what: 'replica link' });
  }
  const dir = tempDir('podkit-bench-nutcracker-');
  const ncPort = await freePort();
  const conf = join(dir, 'nutcracker.yml');
  writeFileSync(
    conf,
    ['bench:', `  listen: 127.0.0.1:${ncPort}`, '  hash: fnv1a_64', '  distribution: ketama', '  redis: true', '  server_connections: 1', '  auto_eject_hosts: false', '  servers:', `   - 127.0.0.1:${master.port}:1`, ''].join('\n'),
  );
  const nc = startProcess(NUTCRACKER, ['-c', conf, '-s', String(await freePort()), '-a', '127.0.0.1', '-o', join(dir, 'nc.log'), '-p', join(dir, 'nc.pid'), '-v', '1'], { name: 'nutcracker' });
  await waitForPort(ncPort);
  // The ambassador runs as users run it: the built CLI in its own process, like nutcracker (not inside this one).
  const ambPort = await freePort();
  const amb = startPodkit(
    ['redis-ambassador', '--listen', `127.0.0.1:${ambPort}`, '--master', `127.0.0.1:${master.port}`, ...replicas.flatMap((r) => ['--replica', `127.0.0.1:${r.port}`]), '--read-policy', 'prefer-replica', '--http-bind', `127.0.0.1:${await freePort()}`],
    { name: 'ambassador' },
  );
  await waitForPort(ambPort);
  // The start log says whether clients run on the conn_io addon or on net.Socket (the addon did not build).
  const clientIo = (await waitForOutput(amb, /clientIo\W+(\w+)/))[1];

  const targets: [string, number, (() => number) | null][] = [
    ['direct', master.port, null],
    ['nutcracker', ncPort, () => procCpu(nc.pid)],
    ['ambassador', ambPort, () => procCpu(amb.pid)],
  ];
  const configs = [
    { name: '-c 50 -P 1', c: 50, P: 1, n: smoke ? 5_000 : 100_000 },
    { name: '-c 50 -P 16', c: 50, P: 16, n: smoke ? 20_000 : 500_000 },
    { name: '-c 1 -P 1', c: 1, P: 1, n: smoke ? 2_000 : 20_000 },
  ];
  // Odd, and enough that one round disturbed by the machine does not move the median.
  const rounds = smoke ? 1 : 5;
  const samples = new Map<string, Sample[]>();
  try {
    for (let round = 0; round < rounds; round++)
      for (const cfg of configs)
        for (const test of ['set', 'get'] as const)
          for (const [name, port, cpu] of targets) {
            const key = `${cfg.name}|${test}|${name}`;
            const c0 = cpu?.() ?? 0;
            const s = await bench(port, test, cfg.c, cfg.P, cfg.n);
            if (cpu) s.cpu = ((cpu() - c0) / cfg.n) * 1e6;
            samples.set(key, [...(samples.get(key) ?? []), s]);
          }
  } finally {
    closeRedisClients();
    await stopAll();
  }

  const med = (key: string, f: keyof Sample) => median((samples.get(key) ?? []).map((s) => s[f]));
  out(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (cores shared with other work: rps swings with it; CPU per request less so)`);
  const cpuOf = (cfg: string, test: string, name: string) => med(`${cfg}|${test}|${name}`, 'cpu');
  const rows: (string | number)[][] = [];
  const ratios: (string | number)[][] = [];
  for (const cfg of configs)
    for (const test of ['set', 'get'] as const) {
      for (const [name] of targets) {
        const k = `${cfg.name}|${test}|${name}`;
        rows.push([cfg.name, test.toUpperCase(), name, med(k, 'rps'), med(k, 'p50'), med(k, 'p99'), name === 'direct' ? '-' : cpuOf(cfg.name, test, name)]);
      }
      const a = med(`${cfg.name}|${test}|ambassador`, 'rps');
      const cpuRatio = cpuOf(cfg.name, test, 'ambassador') / cpuOf(cfg.name, test, 'nutcracker');
      ratios.push([cfg.name, test.toUpperCase(), `${fmt(a / med(`${cfg.name}|${test}|nutcracker`, 'rps'))}×`, `${fmt(a / med(`${cfg.name}|${test}|direct`, 'rps'))}×`, `${fmt(cpuRatio)}×`]);
    }
  out(`redis-ambassador benchmark (${smoke ? 'smoke' : `median of ${rounds} interleaved rounds`}; redis-benchmark -r 10000 -d 16; GETs through the ambassador go to 2 replicas; its clients on ${clientIo === 'native' ? 'the conn_io addon' : 'net.Socket'})`);
  out('');
  out(table(['config', 'test', 'target', 'rps', 'p50 ms', 'p99 ms', 'proxy CPU µs/req'], rows));
  out('');
  out(table(['config', 'test', 'ambassador ÷ nutcracker', 'ambassador ÷ direct', 'CPU/req amb ÷ nutcracker'], ratios));
  out('');
  out('targets: ≥ 1.0× nutcracker at -P 1, ≥ 1.6× at -P 16, p99 ≤ 1.0 ms at -c 50 -P 1');
}
