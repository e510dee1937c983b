/**
 * @module The state directory (`$PODKIT_STATE_DIR`, default /run/podkit): one folder per pod with state.json (what
 * was created: netns, veth, IP, pids), status.json, logs/ and events.log — so `ps`, `logs` and `down` work on detached
 * pods, and everything can be cleaned up after the runner itself was SIGKILLed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deletePodNetwork, releaseIP } from './net.js';
import { releaseMountpoints } from './mountpoints.js';
import { tool } from './proc.js';
import { heldPodLocks, podLockName } from './podlock.js';
import { ociCleanup, type OciRuntime } from './oci/runtime.js';
import { waitFor } from '../../core/wait.js';

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
  /** The pod ended and its sandbox is gone: only its status and logs are kept, until `podkit down`. */
  finished?: boolean;
  /** The OCI runtime and its state folder, when containers run from images (their ids start with `<id>-`). */
  oci?: OciRuntime;
}

export function podDir(root: string, name: string): string {
  return join(root, 'pods', name);
}

/** /proc/<pid>/stat's state letter and start time; undefined when the process is gone (reaped). */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return undefined;
  }
}

/** The process's start time; undefined when it is gone or a zombie (dead, only not reaped yet). */
export function procStart(pid: number): string | undefined {
  const s = procStat(pid);
  return s && s.state !== 'Z' && s.state !== 'X' ? s.start : undefined;
}

export function procRef(pid: number): ProcRef {
  return { pid, start: procStart(pid) ?? '' };
}

/** True when the process still runs and is the same one (start time matches); a zombie is dead. */
export function alive(ref: ProcRef): boolean {
  const s = procStart(ref.pid);
  return s !== undefined && s === ref.start;
}

/** True until the process is reaped (zombies included). */
function unreaped(ref: ProcRef): boolean {
  return procStat(ref.pid)?.start === ref.start;
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

/** A pod name as Kubernetes allows it (a DNS subdomain); anything else in pods/ is not podkit's and is left alone. */
export const POD_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
export const POD_NAME_MAX = 253;

/**
 * The pods of a state folder. A runner takes its pod's lock before it makes the folder, and the folder is listed
 * before the locks are read, so a runner still starting is never taken for gone. Stray files, and folders whose
 * names no pod can have, are skipped.
 */
export function listPods(root: string): PodEntry[] {
  let names: string[] = [];
  try {
    names = readdirSync(join(root, 'pods'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && d.name.length <= POD_NAME_MAX && POD_NAME.test(d.name))
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
  const held = heldPodLocks();
  return names.map((name) => {
    const dir = podDir(root, name);
    const state = readJSON<PodState>(join(dir, 'state.json'));
    const locked = held.has(podLockName(root, name));
    // A finished pod needs no runner: its folder holds only its status and logs.
    return { name, dir, state, orphaned: !state?.finished && (!locked || (state !== undefined && !alive(state.runner))) };
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
    // Give their reaper a moment, so nothing is seen in the process table after a cleanup; a PID 1 that never
    // reaps costs these 3 s once, not per process.
    await waitFor(() => !st.pids.some(unreaped), { timeoutMs: 3000, intervalMs: 10 });
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
