/** @module Run the built podkit CLI (dist/) as a user would: as a child process. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startProcess, runStatus, type Proc, type StartOptions } from './proc.js';

export const PODKIT_MAIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

function ensureBuilt(): void {
  if (!existsSync(PODKIT_MAIN)) throw new Error(`${PODKIT_MAIN} is missing: run "npm run build" first`);
}

/**
 * `podkit up` runs containers from their images by default; a test about something else (probes, volumes, the CLI)
 * keeps host processes through PODKIT_HOST_PROCESSES unless it asks for images (`--from-images`) or sets the variable.
 */
export function podkitEnv(args: readonly string[], env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const base = env ?? process.env;
  if (args[0] !== 'up' || args.includes('--from-images') || 'PODKIT_HOST_PROCESSES' in base) return base;
  return { ...base, PODKIT_HOST_PROCESSES: '1' };
}

/** Start `podkit ARGS…` as a tracked long-running process. */
export function startPodkit(args: readonly string[], opts: StartOptions = {}): Proc {
  ensureBuilt();
  return startProcess(process.execPath, [PODKIT_MAIN, ...args], { name: `podkit ${args[0] ?? ''}`, ...opts, env: podkitEnv(args, opts.env) });
}

/** Run `podkit ARGS…` to completion; resolves with stdout, stderr and exit code. */
export function runPodkit(args: readonly string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {}) {
  ensureBuilt();
  return runStatus(process.execPath, [PODKIT_MAIN, ...args], { ...opts, env: podkitEnv(args, opts.env) });
}
