/**
 * @module The state directory (`$PODKIT_STATE_DIR`, default /run/podkit): one folder per pod with state.json (what
 * was created: netns, veth, IP, pids), status.json, logs/ and events.log — so `ps`, `logs` and `down` work on detached
 * pods, and everything can be cleaned up after the runner itself was SIGKILLed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deletePodNetwork, releaseIP } from './net.js';
import { releaseMountpoints } from './mountpoints.js';
import { tool } from './proc.js';
import { ociCleanup, type OciRuntime } from './oci/runtime.js';

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.PODKIT_STATE_DIR || '/run/podkit';
}

export interface ProcRef {
  pid: number;
  /** /proc/<pid>/stat start time, so a reused pid is never killed. */
  start: string;
}

export interface PodState {
  name: string;
  namespace: string;
  id: string;
  sandbox: 'namespaced' | 'host';
  netns?: string;
  veth?: string;
  ip?: string;
  runner: ProcRef;
  /** Process-group leaders of containers and pause processes, ever started. */
  pids: ProcRef[];
  statusURL?: string;
  createdAt: number;
  /** The OCI runtime and its state folder, when containers run from images (their ids start with `<id>-`). */
  oci?: OciRuntime;
}

export function podDir(root: string, name: string): string {
  return join(root, 'pods', name);
}

export function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export function procRef(pid: number): ProcRef {
  return { pid, start: procStart(pid) ?? '' };
}

/** True when the process still exists and is the same one (start time matches). */
export function alive(ref: ProcRef): boolean {
  const s = procStart(ref.pid);
  return s !== undefined && s === ref.start;
}

export function writeJSON(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 1));
  renameSync(tmp, path);
}

export function readJSON<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

export interface PodEntry {
  name: string;
  dir: string;
  state?: PodState;
  /** The runner that owns it is gone. */
  orphaned: boolean;
}

export function listPods(root: string): PodEntry[] {
  let names: string[] = [];
  try {
    names = readdirSync(join(root, 'pods')).sort();
  } catch {
    return [];
  }
  return names.map((name) => {
    const dir = podDir(root, name);
    const state = readJSON<PodState>(join(dir, 'state.json'));
    // A folder without state.json is a runner still starting, unless it is old.
    const young = !state && Date.now() - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000;
    return { name, dir, state, orphaned: state ? !alive(state.runner) : !young };
  });
}

export function claimPodDir(root: string, name: string): string {
  mkdirSync(join(root, 'pods'), { recursive: true });
  const dir = podDir(root, name);
  mkdirSync(dir);
  return dir;
}

/**
 * Remove everything an orphaned pod left: its processes (SIGKILL by process group), tmpfs mounts, netns and veth,
 * IP lease, mount points, and finally its folder.
 */
export async function cleanupPod(entry: PodEntry): Promise<void> {
  const st = entry.state;
  // Containers on the OCI runtime outlive a killed runner (the runtime reparents them): kill and delete them first.
  if (st?.oci) await ociCleanup(st.oci, st.id, join(entry.dir, 'containers'));
  if (st) {
    for (const p of st.pids) {
      if (!alive(p)) continue;
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const p of st.pids) {
      const deadline = Date.now() + 3000;
      while (alive(p) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    }
    if (st.netns) {
      await deletePodNetwork(st.netns, st.veth ?? '');
      if (st.ip) releaseIP(st.ip, st.netns);
      releaseMountpoints(st.netns);
    }
  }
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && m.startsWith(entry.dir + '/'));
  for (const m of mounts.sort((a, b) => b.length - a.length)) await tool(['umount', '-l', m]).catch(() => undefined);
  if (existsSync(entry.dir)) rmSync(entry.dir, { recursive: true, force: true });
}
