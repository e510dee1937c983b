/**
 * @module How Kubernetes turns a container and its image into a process: the command/args table, image Env then the
 * container's env, working directory, user and groups, and securityContext → capabilities. Pure (files come as text).
 */
import { SandboxError } from '../../../core/errors.js';
import type { ImageRunConfig } from '../../images/types.js';
import { quantity } from '../../spec/resources.js';

/** The securityContext fields a local container honours (pod-level fields merged under the container's). */
export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  supplementalGroups?: number[];
  fsGroup?: number;
  privileged?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  procMount?: string;
}

/** The capabilities a Kubernetes container gets by default (containerd's and CRI-O's default set). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability this kernel generation knows (privileged containers get all of them). */
export const ALL_CAPS = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW',
  'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG',
  'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/**
 * Kubernetes' table ("Define a Command and Arguments for a Container"): no command and no args → ENTRYPOINT + CMD;
 * command only → command (CMD dropped); args only → ENTRYPOINT + args; both → command + args.
 */
export function processArgs(command: string[] | undefined, args: string[] | undefined, image: ImageRunConfig): string[] {
  if (command) return [...command, ...(args ?? [])];
  return [...(image.Entrypoint ?? []), ...(args ?? image.Cmd ?? [])];
}

/** The image's `NAME=value` list, then the container's variables (which win). */
export function mergeEnv(imageEnv: string[] | undefined, containerEnv: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of imageEnv ?? []) {
    const i = kv.indexOf('=');
    if (i > 0) out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return Object.assign(out, containerEnv);
}

export interface ProcessUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
  /** The image's user as written, when it is a name (runAsNonRoot cannot check it then). */
  name?: string;
}

/** One `name:x:id:...` file (/etc/passwd or /etc/group) → name → fields. */
function table(text: string | undefined): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of (text ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0]) m.set(f[0], f);
  }
  return m;
}

/**
 * The user a container runs as: securityContext.runAsUser/runAsGroup win over the image's `User` (`name`, `uid`,
 * `name:group`, `uid:gid`), names resolved in the image's /etc/passwd and /etc/group; supplementalGroups and fsGroup
 * join the groups. Throws a message (CreateContainerConfigError) when a name is unknown.
 */
export function resolveUser(imageUser: string | undefined, sc: SecurityContext, passwd?: string, group?: string): ProcessUser {
  const users = table(passwd);
  const groups = table(group);
  const [u = '', g] = (imageUser ?? '').split(':');
  let uid = 0;
  let gid = 0;
  let name: string | undefined;
  let home = '/';
  if (u !== '' && /^\d+$/.test(u)) {
    uid = Number(u);
    const byId = [...users.values()].find((f) => Number(f[2]) === uid);
    if (byId) [gid, home] = [Number(byId[3]), byId[5] || '/'];
  } else if (u !== '') {
    const f = users.get(u);
    if (!f) throw new SandboxError(`unable to find user ${u}: no matching entries in passwd file`);
    [uid, gid, home, name] = [Number(f[2]), Number(f[3]), f[5] || '/', u];
  } else {
    home = users.get('root')?.[5] ?? '/root';
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const f = groups.get(g);
      if (!f) throw new SandboxError(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(f[2]);
    }
  }
  if (sc.runAsUser !== undefined) {
    uid = sc.runAsUser;
    name = undefined;
    const byId = [...users.values()].find((f) => Number(f[2]) === uid);
    home = byId?.[5] || '/';
    if (g === undefined) gid = byId ? Number(byId[3]) : 0;
  }
  if (sc.runAsGroup !== undefined) gid = sc.runAsGroup;
  const extra = new Set<number>();
  const userName = [...users.values()].find((f) => Number(f[2]) === uid)?.[0];
  for (const f of groups.values()) if (userName && (f[3] ?? '').split(',').includes(userName)) extra.add(Number(f[2]));
  for (const x of sc.supplementalGroups ?? []) extra.add(x);
  if (sc.fsGroup !== undefined) extra.add(sc.fsGroup);
  extra.delete(gid);
  return { uid, gid, additionalGids: [...extra].sort((a, b) => a - b), home, name };
}

/** Kubernetes' runAsNonRoot check, with the kubelet's messages; undefined when the container may start. */
export function nonRootRefusal(sc: SecurityContext, user: ProcessUser): string | undefined {
  if (!sc.runAsNonRoot) return undefined;
  if (sc.runAsUser === undefined && user.name !== undefined) return `container has runAsNonRoot and image has non-numeric user (${user.name}), cannot verify user is non-root`;
  if (user.uid === 0) return 'container has runAsNonRoot and image will run as root';
  return undefined;
}

/** The capability set: privileged → all; else the default set, plus `add`, minus `drop` (`ALL` allowed in both). */
export function capabilitySet(sc: SecurityContext): string[] {
  if (sc.privileged) return [...ALL_CAPS];
  const norm = (c: string) => (c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`);
  const add = (sc.capabilities?.add ?? []).map(norm);
  const drop = (sc.capabilities?.drop ?? []).map(norm);
  let set = new Set(DEFAULT_CAPS);
  if (drop.includes('CAP_ALL')) set = new Set();
  for (const c of drop) set.delete(c);
  if (add.includes('CAP_ALL')) return [...ALL_CAPS];
  for (const c of add) set.add(c);
  return [...set];
}

export interface Limits {
  /** Bytes. */
  memory?: number;
  /** Millicores. */
  cpuMillis?: number;
  pids?: number;
}

/** resources.limits → the cgroup limits a container gets (`pids` is podkit's own key, as the kubelet's podPidsLimit). */
export function limitsOf(resources: { limits?: Record<string, string | number> } | undefined): Limits {
  const l = resources?.limits ?? {};
  const out: Limits = {};
  if (l.memory !== undefined) out.memory = Math.floor(quantity(l.memory));
  if (l.cpu !== undefined) out.cpuMillis = Math.ceil(quantity(l.cpu) * 1000);
  if (l.pids !== undefined) out.pids = Math.floor(quantity(l.pids));
  return out;
}
