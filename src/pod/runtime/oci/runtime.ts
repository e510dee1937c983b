/**
 * @module Running one container on an OCI runtime (crun, or runc): a fresh overlay root over the image's layers,
 * `<runtime> --root <state> run` in the foreground (its exit status is the container's), exec/kill/delete by id,
 * and the cgroups the container's limits live in.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, watch, writeFileSync, writeSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../../core/errors.js';
import { execBounded, spawnContainer, tool } from '../proc.js';
import { shq, type ContainerProcess, type ExecResult } from '../sandbox.js';
import { waitFor } from '../../../core/wait.js';

export interface OciRuntime {
  /** `crun` (default) or `runc`. */
  bin: string;
  /** The runtime's state folder (`--root`), one per podkit state dir. */
  root: string;
}

const CG = '/sys/fs/cgroup';

/** v2 when the unified hierarchy is mounted at /sys/fs/cgroup, otherwise v1 (legacy or hybrid). */
export function cgroupMode(): 'v1' | 'v2' {
  return existsSync(`${CG}/cgroup.controllers`) ? 'v2' : 'v1';
}

/**
 * crun refuses a hybrid layout whose cgroup2 hierarchy holds controllers ("cgroups in hybrid mode not supported");
 * such a controller is unused (nothing enabled it in subtree_control) and is moved to a v1 hierarchy of its own,
 * as systemd's hybrid layout has it. Returns what was moved.
 */
export function settleHybridCgroups(): Promise<string[]> {
  settling ??= settle().finally(() => (settling = undefined));
  return settling;
}

let settling: Promise<string[]> | undefined;

function unifiedControllers(): string[] {
  try {
    return readFileSync(`${CG}/unified/cgroup.controllers`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

async function settle(): Promise<string[]> {
  if (cgroupMode() === 'v2') return [];
  const moved: string[] = [];
  for (const c of unifiedControllers()) {
    mkdirSync(`${CG}/${c}`, { recursive: true });
    try {
      await tool(['mount', '-t', 'cgroup', '-o', c, 'cgroup', `${CG}/${c}`]);
      moved.push(c);
    } catch (e) {
      // Another runner may have moved it at the same time.
      if (unifiedControllers().includes(c)) throw new SandboxError(`crun needs the cgroup2 hierarchy free of controllers in hybrid mode; moving ${c} to v1 failed: ${(e as Error).message} (or use --oci-runtime runc)`);
    }
  }
  return moved;
}

/** The v1 memory cgroup podkit keeps per container (its limit, and its failcnt tells an OOM kill). */
export function memoryCgroup(podId: string, container: string): string | undefined {
  return cgroupMode() === 'v1' ? `${CG}/memory/podkit/${podId}/${container}` : undefined;
}

/** True when the container's memory cgroup hit its limit (the SIGKILL that ended it was the OOM killer's). */
export function hitMemoryLimit(dir: string | undefined): boolean {
  if (!dir) return false;
  try {
    const count = (f: string) => Number(readFileSync(`${dir}/${f}`, 'utf8').trim() || 0);
    // The failure may be counted in the runtime's own (already removed) child cgroup: a peak at the limit tells it too.
    return count('memory.failcnt') > 0 || count('memory.max_usage_in_bytes') >= count('memory.limit_in_bytes') - 65536 || /oom_kill [1-9]/.test(readFileSync(`${dir}/memory.oom_control`, 'utf8'));
  } catch {
    return false;
  }
}

export interface LaunchOptions {
  runtime: OciRuntime;
  id: string;
  /** Holds config.json, upper/, work/, rootfs/. */
  bundle: string;
  /** Image layers, lowest first. */
  layers: string[];
  config: Record<string, unknown>;
  /** v1: the memory cgroup made (with this limit) before the runtime's, so the OOM count outlives the container. */
  memory?: { dir: string; limit: number };
  /** A previous start of this container may have left runtime state or a mounted root behind. */
  restart: boolean;
  env: Record<string, string>;
  /** Create the container but hold its process at a gate until `release()` (see `gateHook`). */
  hold?: boolean;
}

export interface OciProcess extends ContainerProcess {
  ociId: string;
  /** Resolves once the runtime created the container (root, mounts, namespaces in place) or the launch failed. */
  created: Promise<boolean>;
  /** Set once exited: the container was killed by the OOM killer. */
  oomKilled?: boolean;
}

/**
 * The gate of a held container: a createRuntime hook, which the runtime runs once the container's namespaces,
 * cgroup and mounts are made and before its process may run, blocks reading a FIFO of the bundle; `go` lets the
 * runtime go on, anything else fails the create (the runtime then removes what it made and exits).
 */
function gateHook(gate: string): Record<string, unknown> {
  return { path: '/bin/sh', args: ['sh', '-c', 'read -r g < "$1"; [ "$g" = go ]', 'podkit-gate', gate] };
}

/** One `sh` that mounts a fresh overlay and execs the runtime: one spawn from Node per container start. */
export function launchOci(o: LaunchOptions): OciProcess {
  const b = o.bundle;
  const rootfs = join(b, 'rootfs');
  const rt = `${shq(o.runtime.bin)} --root ${shq(o.runtime.root)}`;
  const p = spawnContainer(['sh', '-c', writeBundle(o, rt)], { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
  let gone = false;
  const exited = p.exited.then(async (r) => {
    gone = true;
    const oom = r.code === 137 && hitMemoryLimit(o.memory?.dir);
    if (oom) proc.oomKilled = true;
    await tool(['sh', '-c', `${rt} delete -f ${shq(o.id)} >/dev/null 2>&1 || true; if mountpoint -q ${shq(rootfs)}; then umount -l ${shq(rootfs)}; fi`]).catch(() => undefined);
    return r;
  });
  const created = whenFileAppears(b, 'pid', () => gone);
  const proc: OciProcess = {
    pid: p.pid,
    child: p.child,
    exited,
    ociId: o.id,
    created,
    signal(sig) {
      if (gone) return;
      // Before the runtime made the container there is only the launch shell (its process group) to stop.
      if (!existsSync(join(b, 'pid'))) return p.signal(sig);
      const all = sig === 'SIGKILL' ? ['--all'] : [];
      void tool([o.runtime.bin, '--root', o.runtime.root, 'kill', ...all, o.id, sig.replace(/^SIG/, '')]).catch(() => {
        if (sig === 'SIGKILL') p.signal(sig);
      });
    },
  };
  if (o.hold) proc.release = gateRelease(b, created, () => gone, p);
  return proc;
}

/**
 * The bundle (config.json, with the gate's hook when held; upper, work and rootfs folders; the v1 memory cgroup),
 * and the launch shell's script: clear what a previous start left, mount the overlay root, exec the runtime.
 */
function writeBundle(o: LaunchOptions, rt: string): string {
  const b = o.bundle;
  mkdirSync(b, { recursive: true });
  const config = o.hold ? { ...o.config, hooks: { createRuntime: [gateHook(join(b, 'gate'))] } } : o.config;
  writeFileSync(join(b, 'config.json'), JSON.stringify(config));
  rmSync(join(b, 'pid'), { force: true });
  // A gate left by an earlier start must be gone before release() looks for this start's.
  rmSync(join(b, 'gate'), { force: true });
  const lower = [...o.layers].reverse().join(':');
  const lines = ['set -e', `cd ${shq(b)}`];
  // What a previous start left is removed first (its writes go with its upper layer); a first start has nothing.
  // Whatever needs no process is done here: each fork in the launch shell costs more than the file system calls.
  if (o.restart) lines.push(`${rt} delete -f ${shq(o.id)} >/dev/null 2>&1 || true`, 'if mountpoint -q rootfs; then umount -l rootfs; fi', 'rm -rf upper work', 'mkdir upper work');
  else for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(b, d), { recursive: true });
  if (o.hold) lines.push('mkfifo -m 600 gate');
  lines.push(`mount -t overlay overlay -o ${shq(`lowerdir=${lower},upperdir=${b}/upper,workdir=${b}/work`)} rootfs`);
  if (o.memory) prepareMemoryCgroup(o.memory.dir, o.memory.limit);
  lines.push(`exec ${rt} run --bundle ${shq(b)} --pid-file ${shq(`${b}/pid`)} ${shq(o.id)}`);
  return lines.join('\n');
}

/** v1: the container's memory cgroup with its limit and fresh counters, made before the runtime's child of it. */
function prepareMemoryCgroup(d: string, limit: number): void {
  mkdirSync(d, { recursive: true });
  writeFileSync(`${d}/memory.limit_in_bytes`, String(limit));
  try {
    writeFileSync(`${d}/memory.memsw.limit_in_bytes`, String(limit));
  } catch {
    // no swap accounting
  }
  writeFileSync(`${d}/memory.failcnt`, '0');
  writeFileSync(`${d}/memory.max_usage_in_bytes`, '0');
}

/** A held launch's release: once the launch shell made the gate, `go` (run) or `no` (abandon) into it, once. */
function gateRelease(bundle: string, created: Promise<boolean>, gone: () => boolean, launch: ContainerProcess): (run: boolean) => void {
  let released = false;
  return (run) => {
    if (released) return;
    released = true;
    void whenFileAppears(bundle, 'gate', gone).then((there) => {
      if (!there) return;
      // O_RDWR never blocks on a FIFO; what is written stays only while it is open: until the hook has read it
      // (the container is created) or the launch ended.
      let fd: number | undefined;
      try {
        fd = openSync(join(bundle, 'gate'), 'r+');
        writeSync(fd, run ? 'go\n' : 'no\n');
      } catch {
        if (fd !== undefined) closeSync(fd);
        return launch.signal('SIGKILL'); // the gate went with its bundle: nothing is left to run
      }
      void created.then(() => closeSync(fd));
    });
  };
}

/** Resolves true once `dir/name` exists (inotify, with a slow poll as a safety net), false once `stop()` says so. */
function whenFileAppears(dir: string, name: string, stop: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let w: FSWatcher | undefined;
    const check = () => {
      const seen = existsSync(join(dir, name));
      if (!seen && !stop()) return;
      w?.close();
      clearInterval(t);
      resolve(seen);
    };
    try {
      w = watch(dir, (_e, f) => f === name && check());
      w.on('error', () => undefined);
    } catch {
      // no inotify: the poll alone
    }
    const t = setInterval(check, 25);
    check();
  });
}

/** Run a command in a running container (`exec --process`, so env never reaches argv), bounded by `timeoutMs`. */
export async function execOci(runtime: OciRuntime, bundle: string, id: string, process: Record<string, unknown>, timeoutMs: number): Promise<ExecResult> {
  const base = join(bundle, `exec-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`);
  writeFileSync(`${base}.json`, JSON.stringify(process), { mode: 0o600 });
  try {
    const r = await execBounded([runtime.bin, '--root', runtime.root, 'exec', '--process', `${base}.json`, '--pid-file', `${base}.pid`, id], { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }, timeoutMs);
    // Killing the runtime's exec does not end the process it started inside the container: end that one too.
    if (r.timedOut) killPidFile(`${base}.pid`);
    return r;
  } finally {
    rmSync(`${base}.json`, { force: true });
    rmSync(`${base}.pid`, { force: true });
  }
}

function killPidFile(f: string): void {
  try {
    globalThis.process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL');
  } catch {
    // not started, or gone already
  }
}

/** Every container the runtime knows under `root` whose id starts with `prefix`. */
export async function ociList(runtime: OciRuntime, prefix: string): Promise<string[]> {
  if (!existsSync(runtime.root)) return [];
  const out = await tool([runtime.bin, '--root', runtime.root, 'list', '-q']).catch(() => '');
  return out.split('\n').map((l) => l.trim()).filter((l) => l.startsWith(prefix));
}

/** Kill and delete the pod's containers, unmount their roots, remove its cgroups: nothing of the pod stays. */
export async function ociCleanup(runtime: OciRuntime, podId: string, containersDir: string): Promise<void> {
  for (const id of await ociList(runtime, `${podId}-`)) {
    await tool([runtime.bin, '--root', runtime.root, 'kill', '--all', id, 'KILL']).catch(() => undefined);
    await tool([runtime.bin, '--root', runtime.root, 'delete', '-f', id]).catch(() => undefined);
  }
  let names: string[] = [];
  try {
    names = readdirSync(containersDir);
  } catch {
    // nothing was started
  }
  // A killed process takes a moment to exit: wait (bounded) until the pod's cgroups are empty, so nothing of the pod
  // is seen running after a cleanup and its cgroups can go.
  await waitFor(() => !podHasProcesses(podId), { timeoutMs: 3000, intervalMs: 10 });
  for (const n of names) await tool(['sh', '-c', `if mountpoint -q ${shq(join(containersDir, n, 'rootfs'))}; then umount -l ${shq(join(containersDir, n, 'rootfs'))}; fi`]).catch(() => undefined);
  removeCgroups(podId);
}

/** The pod's cgroup folders in every hierarchy, parents before children. */
function podCgroupDirs(podId: string): string[] {
  const roots = cgroupMode() === 'v2' ? [CG] : readdirSync(CG).map((h) => join(CG, h));
  const dirs: string[] = [];
  const walk = (d: string) => {
    dirs.push(d);
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
  };
  for (const r of roots) {
    const top = join(r, 'podkit', podId);
    try {
      if (existsSync(top)) walk(top);
    } catch {
      // removed meanwhile
    }
  }
  return dirs;
}

/** True while a process of the pod is still in one of its cgroups (it leaves them as it exits, before it is a zombie). */
function podHasProcesses(podId: string): boolean {
  return podCgroupDirs(podId).some((d) => {
    try {
      return readFileSync(join(d, 'cgroup.procs'), 'utf8').trim() !== '';
    } catch {
      return false;
    }
  });
}

/** rmdir the pod's cgroups in every hierarchy, deepest first (a cgroup with live processes stays). */
export function removeCgroups(podId: string): void {
  for (const d of podCgroupDirs(podId).reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // busy or gone
    }
  }
}
