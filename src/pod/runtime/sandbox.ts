/** @module The pod sandbox interface: the runner-owned environment (network, mounts, pid namespace) that containers run in. */
import type { ChildProcess } from 'node:child_process';
import type { Limits, ProcessUser } from './oci/process.js';

/** A volume mount for one container: `source` on the host appears at `target` inside the container. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** What to start for one container. `env` goes through the process environment, never argv (secrets). */
export interface LaunchSpec {
  name: string;
  argv: string[];
  env: Record<string, string>;
  /** Working directory inside the container; `/` when unset. */
  cwd?: string;
  mounts: Mount[];
  /** Run from an image on the OCI runtime instead of as a host process. */
  oci?: OciLaunch;
  /**
   * Create the container now but hold its process until `release(true)` (only where the sandbox `canHold` the
   * spec): its creation overlaps what it waits for, and only the exec of its process stays on the path to start.
   */
  hold?: boolean;
}

/** What a container run from an image needs beyond argv/env/cwd/mounts (already resolved by Kubernetes' rules). */
export interface OciLaunch {
  /** Unpacked layer directories, lowest first. */
  layers: string[];
  user: ProcessUser;
  capabilities: string[];
  privileged: boolean;
  readOnlyRoot: boolean;
  noNewPrivileges: boolean;
  limits: Limits;
}

/** A started container process. */
export interface ContainerProcess {
  /** The pid the runner spawned; it leads its own process group. */
  pid: number;
  child: ChildProcess;
  /** Resolves once the process has exited and been reaped. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Signal the whole container (its process group). */
  signal(sig: NodeJS.Signals): void;
  /** Resolves once the container's root and mounts are in place (false: it ended first); absent = at spawn. */
  created?: Promise<boolean>;
  /** Set once exited: the OOM killer ended it. */
  oomKilled?: boolean;
  /** A held process (spawned with `hold`): true runs it; false abandons the container, which exits without having run. */
  release?(run: boolean): void;
}

export interface ExecResult {
  code: number | null;
  output: string;
  timedOut: boolean;
}

export interface Sandbox {
  /** `namespaced` or `host`. */
  readonly kind: string;
  /** The pod's IP: reachable from the host. */
  readonly podIP: string;
  /** The address containers reach the host at. */
  readonly hostIP: string;
  /** Create namespaces, network, pause process. Idempotent failure: a failed setup is torn down. */
  setup(): Promise<void>;
  /** Start a container process in the sandbox. */
  spawn(spec: LaunchSpec): ContainerProcess;
  /** Whether `spawn` can create this container with its process held (`LaunchSpec.hold`); absent: never. */
  canHold?(spec: LaunchSpec): boolean;
  /** Run a command inside a running container's namespaces (exec probes, preStop), killed after `timeoutMs`. */
  exec(target: ContainerProcess, argv: string[], env: Record<string, string>, cwd: string | undefined, timeoutMs: number): Promise<ExecResult>;
  /** Remove everything setup created. Containers must be stopped first; safe to call twice. */
  teardown(): Promise<void>;
}

/** Quote a word for sh. */
export function shq(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
