/**
 * @module Redis's own tcl test suite (tests/unit of the installed server's version) in external mode, run directly
 * against a master with two replicas and through `podkit redis-ambassador` in front of them; results per test.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startPodkit } from './cli.js';
import { freePort } from './ports.js';
import { pollUntil } from './poll.js';
import { tempDir, type Proc } from './proc.js';
import { requireBinary, startRedis, type RedisNode } from './redis.js';

/** How the suite reaches Redis: directly, or through the ambassador with a read policy / consistency. */
export type SuiteMode = 'direct' | 'master' | 'default' | 'session';
export const SUITE_MODES: readonly SuiteMode[] = ['direct', 'master', 'default', 'session'];
const MODE_FLAGS: Record<Exclude<SuiteMode, 'direct'>, string[]> = {
  master: ['--read-policy', 'master'],
  default: [],
  session: ['--consistency', 'session'],
};

export type TestStatus = 'ok' | 'err' | 'exception' | 'skip' | 'ignore' | 'timeout';
export interface TestResult {
  /** The test's name, with "#2", "#3"… when a unit runs a test of that name more than once. */
  name: string;
  status: TestStatus;
  /** What the suite printed after an [err]/[exception] line (the expected/actual, or the stack). */
  detail?: string;
}
export interface UnitRun {
  unit: string;
  mode: SuiteMode;
  tests: TestResult[];
  /** The runner's exit code, or 'timeout' when it was killed at the deadline. */
  exit: number | string;
  ms: number;
  output: string;
}

/** Where scripts/setup.sh extracts the server's source (Debian's source package), one folder per version. */
export const SUITE_CACHE = process.env.PODKIT_REDIS_SUITE_CACHE ?? '/var/cache/podkit/redis-suite';

/** The installed redis-server's version, e.g. "7.0.15". */
export function redisVersion(): string {
  requireBinary('redis-server');
  const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
  const m = /v=(\d+\.\d+\.\d+)/.exec(out);
  if (!m) throw new Error(`cannot read the version from: ${out}`);
  return m[1];
}

/** The suite's folder (holding tests/test_helper.tcl) for the installed server; PODKIT_REDIS_SUITE overrides. */
export function suiteDir(): string {
  const dir = process.env.PODKIT_REDIS_SUITE ?? join(SUITE_CACHE, `redis-${redisVersion()}`);
  if (!existsSync(join(dir, 'tests', 'test_helper.tcl'))) {
    throw new Error(`Redis's test suite is not at ${dir}: run "npm run setup" (bash scripts/setup.sh, as root) first`);
  }
  requireBinary('tclsh');
  return dir;
}

/** Every unit file: tests/unit/*.tcl and tests/unit/type/*.tcl (list-common is a helper the list units source). */
export function allUnits(dir = suiteDir()): string[] {
  const list = (sub: string) =>
    readdirSync(join(dir, 'tests', sub))
      .filter((f) => f.endsWith('.tcl') && f !== 'list-common.tcl')
      .map((f) => `${sub}/${f.slice(0, -4)}`);
  return [...list('unit'), ...list('unit/type')].sort();
}

const ANSI = /\x1b\[[0-9;]*m/g;
const LINE = /^\[(ok|err|exception|skip|ignore|timeout)\]: (.*)$/;

/** The per-test lines of a run's output: "[ok]: NAME (3 ms)", "[err]: NAME in tests/unit/x.tcl" + detail, … */
export function parseSuiteOutput(output: string): TestResult[] {
  const lines = output.replace(ANSI, '').split('\n');
  const seen = new Map<string, number>();
  const out: TestResult[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = LINE.exec(lines[i]);
    if (!m) continue;
    const status = m[1] as TestStatus;
    let name = m[2];
    if (status === 'ok') name = name.replace(/ \(\d+ ms\)$/, '');
    else if (status === 'err') name = name.replace(/ in tests\/\S+\.tcl$/, '');
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    const r: TestResult = { name: n > 1 ? `${name} #${n}` : name, status };
    if (status === 'err' || status === 'exception') {
      const rest: string[] = [];
      for (let j = i + 1; j < lines.length && j <= i + 6 && !LINE.exec(lines[j]) && !lines[j].startsWith('[ok]'); j++) rest.push(lines[j]);
      r.detail = rest.join('\n').trim().slice(0, 400);
    }
    out.push(r);
  }
  return out;
}

/** A master (DEBUG allowed, as the suite needs) and two replicas linked to it. */
export interface SuiteRig {
  master: RedisNode;
  replicas: RedisNode[];
  stop(): Promise<void>;
}

export async function startSuiteRig(): Promise<SuiteRig> {
  const args = ['--enable-debug-command', 'yes'];
  const master = await startRedis({ args });
  const replicas: RedisNode[] = [];
  try {
    for (let i = 0; i < 2; i++) replicas.push(await startRedis({ replicaOf: master, args }));
    for (const r of replicas) {
      const c = r.client();
      await pollUntil(async () => /master_link_status:up/.test(await c.info('replication')), { timeoutMs: 15_000, what: `replica ${r.addr} to link up` });
      c.disconnect();
    }
  } catch (e) {
    await Promise.all([master, ...replicas].map((n) => n.stop()));
    throw e;
  }
  return { master, replicas, stop: async () => void (await Promise.all([...replicas, master].map((n) => n.stop()))) };
}

/** The built ambassador in front of the rig, in a mode; resolves once /readyz says it serves. */
export async function startSuiteAmbassador(rig: SuiteRig, mode: Exclude<SuiteMode, 'direct'>): Promise<{ port: number; proc: Proc }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const http = await freePort();
    const proc = startPodkit(
      ['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--http-bind', `127.0.0.1:${http}`, '--master', rig.master.addr, ...rig.replicas.flatMap((r) => ['--replica', r.addr]), ...MODE_FLAGS[mode]],
      { name: `ambassador:${port}` },
    );
    const ready = await pollUntil(
      async () => {
        if (proc.child.exitCode !== null) return 'exited';
        return (await fetch(`http://127.0.0.1:${http}/readyz`)).status === 200 ? 'ready' : undefined;
      },
      { timeoutMs: 15_000, what: 'the ambassador to be ready' },
    );
    if (ready === 'ready') return { port, proc };
    if (attempt >= 3) throw new Error(`the ambassador did not start:\n${proc.stderr().slice(-1500)}`);
  }
}

export interface RunUnitOptions {
  /** Extra runtest arguments (e.g. --only NAME). */
  args?: string[];
  /** Kill the run (and its test client) after this long. Default 300 s. */
  timeoutMs?: number;
}

/** Run one unit file in external mode against 127.0.0.1:port, in a private copy of the suite (its tests/tmp). */
export async function runUnit(dir: string, unit: string, port: number, opts: RunUnitOptions = {}): Promise<{ tests: TestResult[]; exit: number | string; ms: number; output: string }> {
  const work = tempDir('podkit-redis-suite-');
  cpSync(join(dir, 'tests'), join(work, 'tests'), { recursive: true });
  const baseport = await freePort();
  const args = ['tests/test_helper.tcl', '--host', '127.0.0.1', '--port', String(port), '--single', unit, '--tags', '-needs:repl', '--clients', '1', '--baseport', String(baseport), '--timeout', '120', ...(opts.args ?? [])];
  const t0 = Date.now();
  const child = spawn('tclsh', args, { cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let timedOut = false;
  // The test server forks its test client into the same process group: one kill ends both.
  const killGroup = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutMs ?? 300_000);
  const code = await new Promise<number | string>((resolve) => child.once('close', (c, s) => resolve(c ?? s ?? -1)));
  clearTimeout(timer);
  killGroup();
  rmSync(work, { recursive: true, force: true });
  return { tests: parseSuiteOutput(output), exit: timedOut ? 'timeout' : code, ms: Date.now() - t0, output };
}

/** Tests that read the master's replication stream with SYNC (attach_to_replication_stream), untagged needs:repl. */
const SYNC_TESTS = [
  'All TTL in commands are propagated as absolute timestamp in replication stream',
  'GETEX propagate as to replica as PERSIST, DEL, or nothing',
  'SCAN: Lazy-expire should not be wrapped in MULTI/EXEC',
  'RANDOMKEY: Lazy-expire should not be wrapped in MULTI/EXEC',
  'propagation with eviction',
  'propagation with eviction in MULTI',
  'SWAPDB wants to wake blocked client, but the key already expired',
  'MULTI + LPUSH + EXPIRE + DEBUG SLEEP on blocked client, key already expired',
  'BLMPOP propagate as pop with count command to replica',
  'LMPOP propagate as pop with count command to replica',
  'GETDEL propagate as DEL command to replica',
  'GETEX without argument does not propagate to replica',
  'ZMPOP propagate as pop with count command to replica',
  'BZMPOP propagate as pop with count command to replica',
];

/**
 * A test of unit/tracking whose failure through the ambassador aborts the unit: a REDIRECT to a RESP3 client with no
 * connection of its own to the master (it never subscribed), which the ambassador answers "does not exist".
 */
const TRACKING_TESTS = ['RESP3 based basic redirect invalidation with client reply off'];

/**
 * Skipped through the ambassador (--skiptest), each showing as a difference ("skip"), so the rest of its unit still
 * runs: the SYNC readers (the ambassador refuses SYNC and the suite's client then aborts the whole unit), and the
 * tracking tests above.
 */
export const PROXY_SKIPS: readonly string[] = [...SYNC_TESTS, ...TRACKING_TESTS];

/** One unit in one mode on a fresh rig (a unit may change config, shut the server down, fill memory…). */
export async function runUnitInMode(dir: string, unit: string, mode: SuiteMode, opts: RunUnitOptions = {}): Promise<UnitRun> {
  const rig = await startSuiteRig();
  let amb: { port: number; proc: Proc } | undefined;
  try {
    if (mode !== 'direct') amb = await startSuiteAmbassador(rig, mode);
    const skip = mode === 'direct' ? [] : PROXY_SKIPS.flatMap((t) => ['--skiptest', t]);
    const r = await runUnit(dir, unit, amb?.port ?? rig.master.port, { ...opts, args: [...(opts.args ?? []), ...skip] });
    return { unit, mode, ...r };
  } finally {
    await amb?.proc.stop();
    await rig.stop();
  }
}

/** A test that passed directly, and how it ended in a mode through the ambassador ('missing': never ran). */
export interface Difference {
  unit: string;
  name: string;
  mode: SuiteMode;
  status: TestStatus | 'missing';
  detail?: string;
}

/** Tests that passed directly but not in `run` (same unit). */
export function differences(direct: UnitRun, run: UnitRun): Difference[] {
  const got = new Map(run.tests.map((t) => [t.name, t]));
  const out: Difference[] = [];
  for (const t of direct.tests) {
    if (t.status !== 'ok') continue;
    const g = got.get(t.name);
    if (g?.status === 'ok') continue;
    out.push({ unit: run.unit, name: t.name, mode: run.mode, status: g?.status ?? 'missing', detail: g?.detail });
  }
  return out;
}

export const countOk = (r: UnitRun): number => r.tests.filter((t) => t.status === 'ok').length;
