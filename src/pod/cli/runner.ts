/**
 * @module The `podkit up` runner: owns every pod's sandbox, streams logs prefixed pod/container, keeps the state
 * folder current, serves the status page, and stops pods the Kubernetes way when its handle is closed (kill: force).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, fileErrorReason, PermissionError, UsageError } from '../../core/errors.js';
import type { HostPort } from '../../core/parse.js';
import type { ComponentHandle } from '../../core/lifecycle.js';
import type { LoadedManifests } from '../spec/index.js';
import type { ImageProvider } from '../images/types.js';
import { cleanupPod, listPods } from '../runtime/state.js';
import { lockPod, type PodLock } from '../runtime/podlock.js';
import type { LogLimits } from '../runtime/logfile.js';
import { PodsRun } from './run.js';

export interface RunnerOptions {
  /** The validated manifests (loadManifests): their pods run, their Services, ConfigMaps, Secrets and claims serve them. */
  loaded: LoadedManifests;
  /** The state folder (podkit up's --state-dir, default /run/podkit): pods' state, logs, events and locks. */
  root: string;
  /** namespaced (root: network, mount and pid namespaces per pod), host (plain host processes), auto (namespaced). */
  sandbox: 'auto' | 'namespaced' | 'host';
  /** Where the status page, /status.json, /healthz, /readyz and /metrics are served; none when unset. */
  statusBind?: HostPort;
  /** The cap of a container's restart back-off (Kubernetes: 300 s). */
  maxBackoffMs: number;
  /** Colour the pod/container prefixes of `out`. */
  color: boolean;
  /** PODKIT_LOG_FORMAT for podkit's own containers ('text' when the output is a terminal); unset: their default. */
  podkitLogFormat?: string;
  /** Where images come from: with one, containers run from their images on the OCI runtime (namespaced sandbox). */
  images?: ImageProvider;
  /** The OCI runtime binary (`crun`, or `runc`). */
  ociRuntime?: string;
  /** Each container log's rotation (size × files). */
  logLimits?: LogLimits;
  /** A Job's pod replacement back-off (Kubernetes: 10 s doubling to 6 min). */
  jobBackoff?: { firstMs: number; maxMs: number };
  /** Keep a pod that ended on its own (Succeeded/Failed) in the state folder with its status and logs, until `podkit down`. */
  keepFinished?: boolean;
  /** Where container lines and runner events go. */
  out: (line: string) => void;
  err: (line: string) => void;
}

export function chooseSandbox(choice: RunnerOptions['sandbox']): 'namespaced' | 'host' {
  const root = process.getuid?.() === 0;
  if (choice === 'host') return 'host';
  if (!root) throw new PermissionError('root is needed for pod namespaces (network, mount, pid); run as root, or pass --sandbox=host for plain host processes without isolation');
  return 'namespaced';
}

/**
 * The state folder must be writable before anything starts (a non-root `--sandbox=host` run cannot write /run/podkit):
 * a ConfigError (exit 2) naming the flag and the variable, instead of a failure halfway through start-up.
 */
export function checkStateDir(root: string): void {
  try {
    mkdirSync(join(root, 'pods'), { recursive: true });
    accessSync(join(root, 'pods'), constants.W_OK);
  } catch (e) {
    throw new ConfigError('--state-dir', `cannot write the state folder ${root} (${fileErrorReason(e)}): give a writable one with --state-dir DIR or PODKIT_STATE_DIR=DIR`);
  }
}

/**
 * Take every pod's lock (one runner per pod name, however many `podkit up` race), then clean up what a runner that
 * is gone left under these names. Throws UsageError naming the pod another runner holds.
 */
async function lockPods(root: string, names: string[], err: (l: string) => void): Promise<PodLock[]> {
  const locks: PodLock[] = [];
  for (const name of names) {
    const l = await lockPod(root, name);
    if (!l) {
      for (const x of locks) await x.release();
      const pid = listPods(root).find((e) => e.name === name)?.state?.runner.pid;
      throw new UsageError(`pod "${name}" is already running${pid ? ` (runner pid ${pid})` : ''} (podkit down ${name})`);
    }
    locks.push(l);
  }
  for (const e of listPods(root)) {
    // Ours now: whatever is left under these names belongs to a runner that is gone, as unlocked pods do.
    if (!e.orphaned && !names.includes(e.name)) continue;
    await cleanupPod(e);
    err(e.state?.finished ? `podkit: removed finished pod ${e.name}` : `podkit: cleaned up pod ${e.name} left by a runner that is gone`);
  }
  return locks;
}

/** Why the pods are stopped, as the runner says it on `err`. */
export type StopReason = 'SIGINT' | 'SIGTERM' | 'output closed' | 'failed start' | 'closed';

/** What start() resolves with once the pods are set up to start (their containers start in the background). */
export interface PodsHandle extends ComponentHandle {
  /** The pods publish their own hostPorts; the runner has no data plane of its own. */
  readonly address: null;
  /** The status page's server (/, /status.json, /healthz, /readyz, /metrics); null without `statusBind`. */
  readonly httpAddress: HostPort | null;
  /**
   * Resolves with the exit code once every pod has ended and been cleaned up: 0 when each succeeded or was stopped,
   * 1 otherwise. Rejects, after the same clean-up, when the pods could not be started.
   */
  readonly done: Promise<number>;
  /** 'stopping' from the first close() (or a failed start) on, 'cleaning up' once every pod has ended. */
  readonly phase: 'running' | 'stopping' | 'cleaning up';
  /** Stop every pod the Kubernetes way (preStop, SIGTERM, grace period); resolves once all is cleaned up. */
  close(why?: StopReason): Promise<void>;
  /** Kill every container now, without waiting for grace periods (a second Ctrl-C). */
  kill(): void;
}

/** Lock, set up and start every pod of `o.loaded`; resolves once each has its runner, before their containers start. */
export async function start(o: RunnerOptions): Promise<PodsHandle> {
  const kind = chooseSandbox(o.sandbox);
  checkStateDir(o.root);
  const locks = await lockPods(o.root, o.loaded.pods.map((p) => p.name), o.err);
  const run = new PodsRun(o, kind, locks);
  await run.open();
  const done = run.runToEnd();
  // Whoever only closes the handle sees a failed start in done; it must not also end the process as unhandled.
  done.catch(() => undefined);
  return {
    address: null,
    httpAddress: run.http?.address ?? null,
    done,
    get phase() {
      return run.stop.phase();
    },
    async close(why = 'closed') {
      await run.stop.stopAll(why);
      await done.catch(() => undefined);
    },
    kill: run.stop.force,
  };
}
