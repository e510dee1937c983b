/** @module Spawning container and exec processes: own process group, env via the environment, reaped exit, bounded exec. */
import { SandboxError } from '../../core/errors.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { ContainerProcess, ExecResult } from './sandbox.js';

/** Base environment every container gets (Kubernetes gives PATH and HOSTNAME; HOME for tools that need it). */
export function baseEnv(hostname: string): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOSTNAME: hostname, HOME: process.env.HOME ?? '/root' };
}

/**
 * Spawn in a new process group. With `wrapped`, argv is a namespace wrapper (nsenter/unshare) whose first child is
 * the container's pid 1: signals other than SIGKILL go to that process only (as Kubernetes signals pid 1), because
 * a forking nsenter would die of SIGTERM itself and report a signal instead of the container's exit code.
 */
export function spawnContainer(argv: string[], env: Record<string, string>, cwd?: string, wrapped = false): ContainerProcess {
  const child: ChildProcess = spawn(argv[0], argv.slice(1), { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: 127, signal: null }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    pid: child.pid ?? -1,
    child,
    exited,
    signal(sig) {
      if (child.pid === undefined) return;
      try {
        const inner = wrapped && sig !== 'SIGKILL' ? firstChild(child.pid, (p) => readFileSync(p, 'utf8')) : undefined;
        if (inner) return void process.kill(inner, sig);
        process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    },
  };
}

/** Run to completion with a timeout; output capped at 64 KiB. */
export function execBounded(argv: string[], env: Record<string, string>, timeoutMs: number, cwd?: string): Promise<ExecResult> {
  return new Promise((resolve) => {
    const p = spawnContainer(argv, env, cwd);
    let output = '';
    const take = (d: Buffer) => {
      if (output.length < 65536) output += d.toString('utf8');
    };
    p.child.stdout?.on('data', take);
    p.child.stderr?.on('data', take);
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      p.signal('SIGKILL');
    }, timeoutMs);
    void p.exited.then(({ code }) => {
      clearTimeout(t);
      resolve({ code, output, timedOut });
    });
  });
}

/** Run a helper tool (ip, mount…) and throw its stderr on failure. */
export async function tool(argv: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new SandboxError(`${argv.join(' ')}: ${err.trim() || `exit ${code}`}`))));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The first child of `pid` (the container init under unshare/nsenter), or undefined. */
export function firstChild(pid: number, readFile: (p: string) => string): number | undefined {
  try {
    const kids = readFile(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean);
    return kids.length ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}
