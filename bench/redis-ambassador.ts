/**
 * @module `npm run bench -- redis-ambassador`: redis-benchmark GET/SET directly, through nutcracker (twemproxy,
 * server_connections: 1, in front of the master) and through the ambassador (master + 2 replicas), interleaved.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, requireBinary, run, startProcess, startPodkit, startRedis, stopAll, tempDir, waitForOutput, waitForPort, closeRedisClients, pollUntil } from '../test/helpers/index.js';
import type { BenchOptions } from './run.js';
import { median, table, fmt } from './_table.js';
import { targetRows } from './_targets.js';
import { CONN_POLL_ENV } from '../src/redis-ambassador/io/conn.js';
import { cores, headroom, machineBusy, pinTo, podPlacement, procCpu, procMem, procRuntime } from './_machine.js';

const NUTCRACKER = '/usr/sbin/nutcracker';
const MASTER_READS = 'amb, master reads';
const GUARD_OFF = 'amb, --reply-guard off';
const BATCH = 'amb, --sched-policy batch';
const POLL_OFF = `amb, ${CONN_POLL_ENV}=off`;

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  /**
   * Proxy CPU time per request, µs (its threads' run time, to the ns); NaN for direct. Less sensitive to a busy machine
   * than rps.
   */
  cpu: number;
  /** The proxy's system time per request, µs: its reads and writes, with the loopback TCP work they carry. */
  sys: number;
  /** The whole machine's busy CPU time per request, µs (client, servers, proxy, kernel). */
  busy: number;
  /** Where the rest of the machine's time went, per request: see RIG. */
  rig: number[];
}

/** The rig's parts, per request: CPU µs of redis-benchmark, the master, the replicas; context switches. */
const RIG = ['bench CPU', 'master CPU', 'replicas CPU', 'master cs', 'replicas cs', 'proxy cs', 'machine cs'];

/** A server's counters: CPU seconds (all threads, to the ns) and its main thread's context switches (/proc/PID/status). */
function procCounters(pid: number): { cpu: number; cs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const n = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpu: procRuntime(pid), cs: n('voluntary_ctxt_switches') + n('nonvoluntary_ctxt_switches') };
}

/** Context switches of the whole machine so far (/proc/stat ctxt). */
function machineSwitches(): number {
  return Number(/^ctxt (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? NaN);
}

/** Comma-separated picks from an env var (all when unset): `PODKIT_BENCH_CONFIGS=c50p1,c1p1`, `PODKIT_BENCH_TARGETS=nutcracker,ambassador`. */
function picked(env: string, name: string): boolean {
  const v = process.env[env];
  return !v || v.split(',').includes(name);
}

/** The cores of the client and the proxy, and of the servers (podPlacement); null: the scheduler places them. */
const PLACEMENT = podPlacement();

/** Run redis-benchmark once (on the pod's cores); parse its CSV (test, rps, avg, min, p50, p95, p99, max). */
async function bench(port: number, test: 'get' | 'set', clients: number, pipeline: number, n: number): Promise<Sample> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-c', String(clients), '-P', String(pipeline), '-n', String(n), '-t', test, '-r', '10000', '-d', '16', '--csv'];
  // taskset execs redis-benchmark: the same child, so its CPU is still this process's waited-for children's.
  const [cmd, argv] = PLACEMENT ? ['taskset', ['-c', PLACEMENT.pod, 'redis-benchmark', ...args]] : ['redis-benchmark', args];
  const r = await run(cmd, argv, { timeoutMs: 120_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`"${test.toUpperCase()}"`));
  if (!line) throw new Error(`redis-benchmark printed no ${test} line:\n${r.stdout}\n${r.stderr}`);
  const f = line.split(',').map((x) => Number(x.replace(/"/g, '')));
  return { rps: f[1], p50: f[4], p99: f[6], cpu: NaN, sys: NaN, busy: NaN, rig: [] };
}

/** Another of the bench's ambassadors, with `extra` flags, listening. */
async function ambassadorWith(extra: string[], name: string, masterPort: number, replicaPorts: number[], env?: NodeJS.ProcessEnv): Promise<{ port: number; pid: number }> {
  const port = await freePort();
  const p = startPodkit(
    ['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--master', `127.0.0.1:${masterPort}`, ...replicaPorts.flatMap((r) => ['--replica', `127.0.0.1:${r}`]), '--read-policy', 'prefer-replica', '--http-bind', `127.0.0.1:${await freePort()}`, ...extra],
    { name, env },
  );
  await waitForPort(port);
  return { port, pid: p.pid };
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
  // The same ambassador with reads kept on the master, for GETs only: what the proxy costs apart from the read split
  // (two more busy servers on the same cores).
  const onMasterPort = await freePort();
  const onMaster = startPodkit(
    ['redis-ambassador', '--listen', `127.0.0.1:${onMasterPort}`, '--master', `127.0.0.1:${master.port}`, '--read-policy', 'master', '--http-bind', `127.0.0.1:${await freePort()}`],
    { name: 'ambassador-master-reads' },
  );
  await waitForPort(onMasterPort);
  // Opt-in (PODKIT_BENCH_TARGETS=…,guard-off / …,batch / …,poll-off): the ambassador without its reply guard, for the
  // guard's cost in the same run; with its loop thread as SCHED_BATCH, for what the policy changes beside its own
  // client; with the wait for events left to libuv alone (native/conn-io/conn_poll.c), for what keeping it in C saves.
  const optIns: [string, string, string[], NodeJS.ProcessEnv?][] = [
    [GUARD_OFF, 'guard-off', ['--reply-guard', 'off']],
    [BATCH, 'batch', ['--sched-policy', 'batch']],
    [POLL_OFF, 'poll-off', [], { [CONN_POLL_ENV]: 'off' }],
  ];
  const optedIn: [string, number, number][] = [];
  for (const [label, name, extra, env] of optIns) {
    if (!process.env.PODKIT_BENCH_TARGETS?.split(',').includes(name)) continue;
    const a = await ambassadorWith(extra, `ambassador-${name}`, master.port, replicas.map((r) => r.port), env);
    optedIn.push([label, a.port, a.pid]);
  }

  // name, port, CPU reader, tests it runs (all when absent)
  const allTargets: [string, number, number | null, string[]?][] = [
    ['direct', master.port, null],
    ['nutcracker', ncPort, nc.pid],
    ['ambassador', ambPort, amb.pid],
    [MASTER_READS, onMasterPort, onMaster.pid, ['get']],
    ...optedIn,
  ];
  if (PLACEMENT) {
    for (const pid of [master.proc.pid, ...replicas.map((r) => r.proc.pid)]) pinTo(pid, PLACEMENT.servers);
    for (const [, , pid] of allTargets) if (pid !== null) pinTo(pid, PLACEMENT.pod);
  }
  const targets = allTargets.filter(([name]) => optedIn.some(([label]) => label === name) || picked('PODKIT_BENCH_TARGETS', name === MASTER_READS ? 'master-reads' : name));
  /** The RIG counters now: redis-benchmark's CPU is this process's waited-for children's. */
  const rigCounters = (proxy: number | null): number[] => {
    const m = procCounters(master.proc.pid);
    const rs = replicas.map((r) => procCounters(r.proc.pid));
    const sum = (f: 'cpu' | 'cs') => rs.reduce((a, r) => a + r[f], 0);
    return [procCpu('self').children, m.cpu, sum('cpu'), m.cs, sum('cs'), proxy === null ? 0 : procCounters(proxy).cs, machineSwitches()];
  };
  const runsTest = (only: string[] | undefined, test: string) => !only || only.includes(test);
  // target: the issue's throughput target, ambassador ÷ nutcracker (none at -c 1).
  const configs = [
    { name: '-c 50 -P 1', c: 50, P: 1, n: smoke ? 5_000 : 100_000, target: 1.0 },
    { name: '-c 50 -P 16', c: 50, P: 16, n: smoke ? 20_000 : 500_000, target: 1.6 },
    // Three times as long as the others' rounds: the proxies' CPU per request differs by a few per cent here, and a
    // round of ~1 s swings by about as much with the machine (docs/benchmarks.md step 22).
    { name: '-c 1 -P 1', c: 1, P: 1, n: smoke ? 2_000 : 60_000, target: 0 },
  ].filter((c) => picked('PODKIT_BENCH_CONFIGS', c.name.replace(/[ -]/g, '').toLowerCase()));
  // Odd, and enough that one round disturbed by the machine does not move the median.
  const rounds = smoke ? 1 : Number(process.env.PODKIT_BENCH_ROUNDS) || 5;
  const samples = new Map<string, Sample[]>();
  // Footprint: a sidecar runs in every pod. Idle is after start (connections to the master and replicas up).
  const procs: [string, number][] = [['nutcracker', nc.pid], ['ambassador', amb.pid], [MASTER_READS, onMaster.pid]];
  const idle = new Map(procs.map(([name, pid]) => [name, procMem(pid).rss]));
  const mem: (string | number)[][] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      // Each round starts the targets one further along, so that none always runs first or right after another.
      const turn = round % targets.length;
      const order = [...targets.slice(turn), ...targets.slice(0, turn)];
      for (const cfg of configs)
        for (const test of ['set', 'get'] as const)
          for (const [name, port, pid, only] of order) {
            if (!runsTest(only, test)) continue;
            const key = `${cfg.name}|${test}|${name}`;
            const c0 = pid === null ? null : procCpu(pid);
            const t0 = pid === null ? 0 : procRuntime(pid);
            const b0 = machineBusy();
            const r0 = rigCounters(pid);
            const s = await bench(port, test, cfg.c, cfg.P, cfg.n);
            s.busy = ((machineBusy() - b0) / cfg.n) * 1e6;
            const r1 = rigCounters(pid);
            s.rig = r1.map((v, i) => ((v - r0[i]) / cfg.n) * (i < 3 ? 1e6 : 1));
            if (pid !== null && c0) {
              const c1 = procCpu(pid);
              s.cpu = ((procRuntime(pid) - t0) / cfg.n) * 1e6;
              s.sys = ((c1.sys - c0.sys) / cfg.n) * 1e6;
            }
            samples.set(key, [...(samples.get(key) ?? []), s]);
          }
    }
    for (const [name, pid] of procs) {
      const m = procMem(pid);
      mem.push([name, idle.get(name) ?? NaN, m.peak, m.rss]);
    }
  } finally {
    closeRedisClients();
    await stopAll();
  }

  const med = (key: string, f: Exclude<keyof Sample, 'rig'>) => median((samples.get(key) ?? []).map((s) => s[f]));
  out(`load average at the end: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} (cores shared with other work: rps swings with it; CPU per request less so)`);
  const cpuOf = (cfg: string, test: string, name: string) => med(`${cfg}|${test}|${name}`, 'cpu');
  const rows: (string | number)[][] = [];
  const allows: (string | number)[][] = [];
  const allowRow = (cfg: string, test: string, target: number, ratio: number): (string | number)[] => {
    const k = `${cfg}|${test}|ambassador`;
    const own = med(k, 'cpu');
    const sys = med(k, 'sys');
    const h = headroom(med(`${cfg}|${test}|nutcracker`, 'rps'), med(k, 'busy'), own, target);
    const ncSys = med(`${cfg}|${test}|nutcracker`, 'sys');
    const verdict =
      ratio >= target ? 'met'
      : sys > h.budget ? 'over budget in system time alone'
      : own > h.budget ? `needs ${Math.ceil((1 - h.budget / own) * 100)}% less CPU/req`
      : 'CPU within budget; short by scheduling';
    return [cfg, test.toUpperCase(), `${target.toFixed(1)}×`, `${fmt(ratio)}×`, h.rig, `${fmt(h.ceiling)}×`, h.budget, own, sys, ncSys, verdict];
  };
  const ratios: (string | number)[][] = [];
  /** An ambassador target's rps ÷ nutcracker's in the same config. */
  const vsNutcracker = (cfg: string, test: string, name: string) => med(`${cfg}|${test}|${name}`, 'rps') / med(`${cfg}|${test}|nutcracker`, 'rps');
  for (const cfg of configs)
    for (const test of ['set', 'get'] as const) {
      for (const [name, , , only] of targets) {
        if (!runsTest(only, test)) continue;
        const k = `${cfg.name}|${test}|${name}`;
        rows.push([cfg.name, test.toUpperCase(), name, med(k, 'rps'), med(k, 'p50'), med(k, 'p99'), name === 'direct' ? '-' : cpuOf(cfg.name, test, name), med(k, 'busy')]);
        if (name === 'direct' || name === 'nutcracker') continue;
        const label = name === 'ambassador' ? test.toUpperCase() : `${test.toUpperCase()} (${name})`;
        const cpuRatio = cpuOf(cfg.name, test, name) / cpuOf(cfg.name, test, 'nutcracker');
        const vsDirect = med(k, 'rps') / med(`${cfg.name}|${test}|direct`, 'rps');
        // Each round runs every target one after another, so a round's pair shares the machine's state of the moment.
        const paired = (f: 'rps' | 'cpu') => {
          const ours = samples.get(k) ?? [];
          const theirs = samples.get(`${cfg.name}|${test}|nutcracker`) ?? [];
          return ours.map((s, i) => s[f] / (theirs[i]?.[f] ?? NaN)).filter(Number.isFinite);
        };
        const span = (xs: number[]) => (xs.length ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}×` : '-');
        const rps = paired('rps');
        const cpu = paired('cpu');
        ratios.push([
          cfg.name,
          label,
          `${fmt(vsNutcracker(cfg.name, test, name))}×`,
          span(rps),
          `${rps.filter((r) => r >= 1).length}/${rps.length}`,
          // Without the direct target in this run (PODKIT_BENCH_TARGETS) there is nothing to divide by.
          Number.isFinite(vsDirect) ? `${fmt(vsDirect)}×` : '-',
          `${fmt(cpuRatio)}×`,
          span(cpu),
          `${cpu.filter((r) => r <= 1).length}/${cpu.length}`,
        ]);
      }
      if (cfg.target) allows.push(allowRow(cfg.name, test, cfg.target, vsNutcracker(cfg.name, test, 'ambassador')));
    }
  out(`redis-ambassador benchmark (${smoke ? 'smoke' : `median of ${rounds} interleaved rounds`}; redis-benchmark -r 10000 -d 16; GETs through the ambassador go to 2 replicas, through '${MASTER_READS}' to the master; its connections on ${clientIo === 'native' ? 'the conn_io addon' : 'net.Socket'})`);
  out(
    PLACEMENT
      ? `placement: redis-benchmark and the proxy on CPU ${PLACEMENT.pod} (the pod), the master and replicas on CPU ${PLACEMENT.servers} (PODKIT_BENCH_PIN=off: the scheduler's)`
      : `placement: the scheduler's (${cores < 2 ? 'one core' : 'PODKIT_BENCH_PIN=off'})`,
  );
  out('');
  out(table(['config', 'test', 'target', 'rps', 'p50 ms', 'p99 ms', 'proxy CPU µs/req', 'machine CPU µs/req'], rows));
  out('');
  const rigRows = rows.map((r) => [r[0], r[1], r[2], ...RIG.map((_, i) => median((samples.get(`${r[0]}|${String(r[1]).toLowerCase()}|${r[2]}`) ?? []).map((s) => s.rig[i])))]);
  out('the rig per request (CPU µs; context switches of each process\'s main thread, and of the machine):');
  out(table(['config', 'test', 'target', ...RIG], rigRows));
  out('');
  out('ratios of the medians, and of each round\'s pair (the range, and in how many rounds the ambassador was at least as fast / used no more CPU):');
  out(table(['config', 'test', 'ambassador ÷ nutcracker', 'per round', 'rounds ≥ 1', 'ambassador ÷ direct', 'CPU/req amb ÷ nutcracker', 'per round', 'rounds ≤ 1'], ratios));
  out('');
  out(table(['process', 'idle RSS MiB', 'peak RSS MiB (-c 50 load)', 'RSS MiB after the runs'], mem));
  out('');
  out('the targets, in this run:');
  out(table(['config', 'test', 'target', 'measured', 'verdict'], targetRows((cfg, test, name, f) => med(`${cfg}|${test}|${name}`, f))));
  // The budget below divides every core's time among the processes; pinned, the pod's cores bound the rate instead.
  if (PLACEMENT) return;
  out('');
  out(`what this machine allows (${cores} cores shared by redis-benchmark, the servers and the proxy; µs per request):`);
  out('  rig: machine CPU outside the ambassador on its path; ceiling: ambassador ÷ nutcracker for a proxy that used no CPU;');
  out('  budget: the most CPU the ambassador may spend to reach the target (nutcracker\'s run, cores ÷ rps, over target, less rig)');
  out(table(['config', 'test', 'target', 'measured', 'rig', 'ceiling', 'budget', 'amb CPU', 'amb system', 'nc system', 'verdict'], allows));
}
