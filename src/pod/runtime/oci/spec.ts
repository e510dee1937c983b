/**
 * @module The OCI runtime spec (config.json) of one container: the pod's namespaces joined by path, the container's
 * own mount namespace on its overlay root, /proc, /dev, /sys read-only, the pod's files and volumes, the process
 * with its user and capabilities, and cgroup limits. Pure: what crun/runc read, built from plain values.
 */
import type { Limits, ProcessUser } from './process.js';

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface OciConfigInput {
  /** The mounted overlay (absolute). */
  rootfs: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  user: ProcessUser;
  /** Namespaces besides the container's own mount namespace: `path` joins the pod's; a type left out is the host's. */
  namespaces: { type: 'network' | 'ipc' | 'uts' | 'pid'; path?: string }[];
  /** Volumes and the pod's files (/etc/hosts, /etc/hostname, /etc/resolv.conf, /dev/shm), in order. */
  mounts: BindMount[];
  capabilities: string[];
  privileged: boolean;
  readOnlyRoot: boolean;
  noNewPrivileges: boolean;
  limits: Limits;
  /** Where the runtime puts the container's cgroup (under the pod's). */
  cgroupsPath: string;
  /** Limits the runtime applies; memory may be kept by the caller on the parent cgroup (to read its OOM count). */
  runtimeMemory: boolean;
}

/** What Kubernetes masks and makes read-only under /proc and /sys by default (procMount: Default). */
const MASKED = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap'];
const READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function ociConfig(i: OciConfigInput): Record<string, unknown> {
  const ro = (p: boolean) => (p ? ['ro'] : []);
  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', ...ro(!i.privileged)] },
    ...i.mounts.map((m) => ({ destination: m.target, type: 'bind', source: m.source, options: ['rbind', 'rprivate', ...ro(m.readOnly)] })),
  ];
  const caps = i.capabilities;
  // A non-root process keeps its bounding set but starts with no effective capabilities, as containerd does.
  const live = i.user.uid === 0 ? caps : [];
  const resources: Record<string, unknown> = { devices: [{ allow: i.privileged, access: 'rwm' }] };
  if (i.limits.cpuMillis) resources.cpu = { quota: i.limits.cpuMillis * 100, period: 100_000 };
  if (i.limits.pids) resources.pids = { limit: i.limits.pids };
  if (i.limits.memory && i.runtimeMemory) resources.memory = { limit: i.limits.memory, swap: i.limits.memory };
  const namespaces = [{ type: 'mount' }, ...i.namespaces.map((n) => (n.path ? { type: n.type, path: n.path } : { type: n.type }))];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: i.user.uid, gid: i.user.gid, additionalGids: i.user.additionalGids },
      args: i.args,
      env: Object.entries(i.env).map(([k, v]) => `${k}=${v}`),
      cwd: i.cwd,
      capabilities: { bounding: caps, effective: live, permitted: live, inheritable: [], ambient: [] },
      noNewPrivileges: i.noNewPrivileges,
    },
    root: { path: i.rootfs, readonly: i.readOnlyRoot },
    mounts,
    linux: {
      namespaces,
      cgroupsPath: i.cgroupsPath,
      resources,
      rootfsPropagation: 'rprivate',
      ...(i.privileged ? {} : { maskedPaths: MASKED, readonlyPaths: READONLY }),
    },
  };
}

/** The process of `crun exec --process`: the container's user, capabilities and env, a new command. */
export function execProcess(config: Record<string, unknown>, args: string[], env: Record<string, string>, cwd?: string): Record<string, unknown> {
  const p = config.process as Record<string, unknown>;
  return { ...p, args, env: Object.entries(env).map(([k, v]) => `${k}=${v}`), cwd: cwd ?? p.cwd };
}
