/** @module Run an examples/ pod file with `podkit up` (foreground, own state dir) and check that it left nothing behind. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPodkit } from './cli.js';
import { pollUntil, withTimeout } from './poll.js';
import { freePort } from './ports.js';
import { tempDir, type Proc } from './proc.js';

export const EXAMPLES = fileURLToPath(new URL('../../examples/', import.meta.url));

/**
 * Copy an example with its fixed host ports and host paths replaced (so tests run beside each other and beside a
 * user's demo): every whole-number occurrence of a port in `ports` and every occurrence of a path in `paths`.
 */
export function renderExample(rel: string, ports: Record<number, number>, paths: Record<string, string> = {}): string {
  let text = readFileSync(join(EXAMPLES, rel), 'utf8');
  for (const [from, to] of Object.entries(ports)) text = text.replace(new RegExp(`(?<![\\d.])${from}(?!\\d)`, 'g'), String(to));
  for (const [from, to] of Object.entries(paths)) text = text.split(from).join(to);
  const out = join(tempDir('podkit-example-'), rel.replace(/\//g, '_'));
  writeFileSync(out, text);
  return out;
}

export interface RunningExample {
  readonly proc: Proc;
  readonly stateDir: string;
  readonly statusURL: string;
  /** The named netns of each pod (from its state.json). */
  netns(): string[];
  /** The pod's IP (reachable from the host through the podkit0 bridge). */
  podIP(pod: string): string;
  /** Run a command inside a pod's network namespace. */
  exec(pod: string, cmd: string, ...args: string[]): string;
  /** Ctrl-C the runner, wait for it, and check no netns, state or container process is left. */
  stop(): Promise<void>;
}

interface PodStateFile {
  netns?: string;
  ip?: string;
  pids: { pid: number }[];
}

function podStates(stateDir: string): Map<string, PodStateFile> {
  const out = new Map<string, PodStateFile>();
  const dir = join(stateDir, 'pods');
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const f = join(dir, name, 'state.json');
    if (existsSync(f)) out.set(name, JSON.parse(readFileSync(f, 'utf8')) as PodStateFile);
  }
  return out;
}

/** `podkit up FILE…` in the foreground; resolves once every pod is Ready (the status page's /readyz). */
export async function upExample(files: string[], timeoutMs = 60_000): Promise<RunningExample> {
  const stateDir = tempDir('podkit-example-state-');
  const statusPort = await freePort();
  const statusURL = `http://127.0.0.1:${statusPort}`;
  const proc = startPodkit(['up', `--status-bind=127.0.0.1:${statusPort}`, '--color=never', ...files], {
    env: { ...process.env, PODKIT_STATE_DIR: stateDir },
  });
  await pollUntil(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`podkit up exited ${proc.child.exitCode}: ${(proc.stdout() + proc.stderr()).slice(-2000)}`);
      return (await fetch(`${statusURL}/readyz`).catch(() => null))?.ok;
    },
    { timeoutMs, what: `pods of ${files.join(' ')} to be ready` },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${(proc.stdout() + proc.stderr()).slice(-3000)}`);
  });
  let seen: Map<string, PodStateFile> = podStates(stateDir);
  return {
    proc,
    stateDir,
    statusURL,
    netns: () => [...(seen = podStates(stateDir)).values()].flatMap((s) => (s.netns ? [s.netns] : [])),
    podIP(pod) {
      const ip = podStates(stateDir).get(pod)?.ip;
      if (!ip) throw new Error(`pod ${pod} has no IP`);
      return ip;
    },
    exec(pod, cmd, ...args) {
      const ns = podStates(stateDir).get(pod)?.netns;
      if (!ns) throw new Error(`pod ${pod} has no netns`);
      return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });
    },
    async stop() {
      seen = podStates(stateDir).size ? podStates(stateDir) : seen;
      proc.signal('SIGINT');
      await withTimeout(proc.exited, 60_000, 'podkit up to stop');
      const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
      for (const s of seen.values()) {
        if (s.netns && left.includes(s.netns)) throw new Error(`netns ${s.netns} left behind`);
        for (const { pid } of s.pids) if (existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')) throw new Error(`process ${pid} left behind`);
      }
      if (podStates(stateDir).size) throw new Error(`pod state left in ${stateDir}`);
    },
  };
}
