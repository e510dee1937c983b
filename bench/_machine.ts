/**
 * @module What the machine allows a proxy benchmark to show. When the benchmark client, the servers and the proxy share
 * a few cores that they keep busy, throughput is set by the CPU every process spends per request, not by the proxy
 * alone. Reading the whole machine's CPU time next to the proxy's gives the ratio a proxy that used no CPU at all
 * would reach, and the most CPU per request a proxy may spend to reach a target ratio. The CPU counters here serve
 * every benchmark that reads /proc.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ). */
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU seconds a process has used so far: its own user and system time (utime, stime), and `children`, the user and
 * system time of every child it has waited for (cutime + cstime: git, upload-pack…).
 */
export function procCpu(pid: number | 'self'): { user: number; sys: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // the command name may itself hold ') '
  return { user: Number(f[11]) / TICK, sys: Number(f[12]) / TICK, children: (Number(f[13]) + Number(f[14])) / TICK };
}

/**
 * CPU seconds a process's threads have run so far, to the nanosecond: the sum of each live thread's
 * `/proc/PID/task/TID/schedstat` run time. utime + stime in /proc/PID/stat count whole clock ticks (10 ms), which over a
 * -c 1 run of a few hundred milliseconds of proxy CPU is a few per cent either way; this is not. Time of threads that
 * exited between two readings is not counted: read it of long-lived processes (servers, proxies), not of ones that
 * spawn threads per task.
 */
export function procRuntime(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread exited between the listing and the read
    }
  }
  return ns / 1e9;
}

/** A process's resident memory now (VmRSS) and its peak so far (VmHWM), MiB. */
export function procMem(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** CPU seconds the whole machine has been busy (every core; work of other guests on the host not included). */
export function machineBusy(): number {
  const [, user, nice, system, , , irq, softirq] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  return (user + nice + system + irq + softirq) / TICK;
}

export const cores = cpus().length;

/**
 * Where a proxy benchmark puts its processes: the client and the proxy on the first half of the cores (the pod: an
 * app and its sidecar share the pod's CPUs), the servers on the rest (in a cluster they run elsewhere). Fixed, the
 * same for every proxy, it takes the scheduler's placement of the moment out of the comparison: left to it, the same
 * two proxies' ratio swings by ±15–20 % from run to run on two cores. Null with one core, or when
 * `PODKIT_BENCH_PIN=off` asks for the scheduler's own placement.
 */
export function podPlacement(n = cores, env = process.env.PODKIT_BENCH_PIN): { pod: string; servers: string } | null {
  if (n < 2 || env === 'off') return null;
  const half = Math.floor(n / 2);
  const list = (from: number, to: number) => (to - from === 1 ? String(from) : `${from}-${to - 1}`);
  return { pod: list(0, half), servers: list(half, n) };
}

/** Pin every thread of a running process to a CPU list (`taskset -a`); threads it starts later inherit it. */
export function pinTo(pid: number, cpuList: string): void {
  execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
}

/** The CPUs a process may run on, as /proc says it (`Cpus_allowed_list`: "0", "0-1", "1,3"). */
export function cpusOf(pid: number): string {
  return /^Cpus_allowed_list:\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
}

export interface Headroom {
  /** CPU per request, µs, spent outside the proxy on the proxy's path: the benchmark client, the servers, the kernel. */
  rig: number;
  /** Ratio to the peer that a proxy using no CPU at all would reach: the machine's capacity over the rig's cost. */
  ceiling: number;
  /** The most CPU per request, µs, the proxy may spend for its throughput to reach `target` × the peer's. */
  budget: number;
}

/**
 * `peerRps`: the peer's throughput; `busy`: the whole machine's CPU per request through our proxy, µs; `own`: our
 * proxy's share of it. Every core spends 1e6 µs per second, so the peer's run cost `cores × 1e6 / peerRps` of
 * machine time per request; a proxy reaches `target` × that rate only if rig + own ≤ that cost ÷ target.
 */
export function headroom(peerRps: number, busy: number, own: number, target: number): Headroom {
  const capacity = (cores * 1e6) / peerRps;
  const rig = busy - own;
  return { rig, ceiling: capacity / rig, budget: capacity / target - rig };
}
