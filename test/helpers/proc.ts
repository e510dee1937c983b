/** @module Start real servers as child processes, tracked by PID, and stop them even when a test fails. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from './poll.js';

export interface Proc {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly name: string;
  /** Everything written to stdout and stderr so far (capped at 1 MiB each). */
  stdout(): string;
  stderr(): string;
  /**
   * Resolves with the exit code (or signal name) when the process has ended and its output has been read (stdout()
   * and stderr() are complete), or DRAIN_MS after its end when a process it left behind still holds the pipes.
   */
  readonly exited: Promise<number | string>;
  /** Send a signal to the process (not its group). */
  signal(sig: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Map<number, Proc>();
const tempDirs = new Set<string>();
let hooked = false;

function killAllSync(): void {
  for (const pid of live.keys()) {
    try {
      // Each child leads its own process group (detached), so this also reaches its children.
      process.kill(-pid, 'SIGKILL');
    } catch {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  live.clear();
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAllSync();
      process.exit(130);
    });
  }
}

export interface StartOptions extends SpawnOptions {
  /** A name for messages. Default: the command's basename. */
  name?: string;
}

const CAP = 1 << 20;
/** How long `exited` waits after the process's end for its pipes to close. */
export const DRAIN_MS = 2000;

/** Spawn a tracked process in its own process group. It is killed when the test process exits, whatever happens. */
export function startProcess(cmd: string, args: readonly string[], opts: StartOptions = {}): Proc {
  hookExit();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const pid = child.pid;
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    if (out.length < CAP) out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    if (err.length < CAP) err += d.toString();
  });
  // 'exit' can come before the pipes' last data has been read, and 'close' (the pipes have ended) never comes
  // while a grandchild holds them open: after 'exit', wait for 'close' up to DRAIN_MS, then resolve anyway.
  let gone!: () => void;
  const ended = new Promise<void>((resolve) => (gone = resolve));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, sig) => {
      live.delete(pid);
      gone();
      const result = code ?? sig ?? -1;
      // 'close' always follows 'exit'. Unref'd: a pipe still open keeps the loop alive anyway.
      const timer = setTimeout(() => resolve(result), DRAIN_MS).unref();
      child.once('close', () => {
        clearTimeout(timer);
        resolve(result);
      });
    });
    child.once('error', () => {
      live.delete(pid);
      gone();
      resolve(-1);
    });
  });
  const proc: Proc = {
    pid,
    child,
    name: opts.name ?? cmd.split('/').pop() ?? cmd,
    stdout: () => out,
    stderr: () => err,
    exited,
    signal(sig) {
      try {
        process.kill(pid, sig);
      } catch {
        /* gone */
      }
    },
    async stop(graceMs = 3000) {
      if (!live.has(pid)) return;
      proc.signal('SIGTERM');
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          proc.signal('SIGKILL');
        }
      }, graceMs);
      await ended;
      clearTimeout(timer);
      try {
        process.kill(-pid, 'SIGKILL'); // anything it left behind in its group
      } catch {
        /* none */
      }
    },
  };
  live.set(pid, proc);
  return proc;
}

/** Run a command to completion; resolve with its output, reject (with stderr) on a non-zero exit. */
export function run(cmd: string, args: readonly string[], opts: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, sig) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr, code });
      else reject(Object.assign(new Error(`${cmd} ${args.join(' ')} exited ${code ?? sig}: ${stderr.trim() || stdout.trim()}`), { stdout, stderr, code }));
    });
    // A child that exits without reading its stdin makes this write fail with EPIPE: that is not the test's failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
  });
}

/** Like run(), but resolves with the exit code instead of rejecting on failure. */
export function runStatus(cmd: string, args: readonly string[], opts: SpawnOptions & { input?: string; timeoutMs?: number } = {}) {
  return run(cmd, args, opts).catch((e: { stdout?: string; stderr?: string; code?: number }) => {
    if (typeof e.code !== 'number') throw e;
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: e.code };
  });
}

/** A temporary directory removed when the test process exits (or by the returned cleanup). */
export function tempDir(prefix = 'podkit-test-'): string {
  hookExit();
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

/** Stop every tracked process (use in `after()`); temp dirs go too. */
export async function stopAll(): Promise<void> {
  await Promise.all([...live.values()].map((p) => p.stop(2000)));
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}

/** PIDs still running, for tests that check nothing leaked. */
export function livePids(): number[] {
  return [...live.keys()];
}

/** Wait until a pattern appears in a process's output. */
export function waitForOutput(p: Proc, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
  return pollUntil(() => pattern.exec(p.stdout() + p.stderr()), { timeoutMs, what: `${p.name} to print ${pattern}` }).catch((e: Error) => {
    throw new Error(`${e.message}\n--- ${p.name} output ---\n${(p.stdout() + p.stderr()).slice(-2000)}`);
  });
}
