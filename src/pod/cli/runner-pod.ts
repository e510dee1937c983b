/**
 * @module One pod of `podkit up`: its state record, its sandbox (host, namespaced, or on the OCI runtime) with every
 * container process recorded for cleanup after a SIGKILL, and its PodRunner wired to the runner's output and views.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PodPlan } from '../spec/index.js';
import { PodRunner } from '../runtime/pod.js';
import type { Sandbox } from '../runtime/sandbox.js';
import { HostSandbox } from '../runtime/sandbox-host.js';
import { NamespacedSandbox } from '../runtime/sandbox-ns.js';
import { ContainerSandbox } from '../runtime/sandbox-oci.js';
import { podRunsImages } from '../runtime/oci/launch.js';
import { claimPodDir, procRef, writeJSON, type PodState } from '../runtime/state.js';
import type { KillCountdown } from './countdown.js';
import type { PodExtras } from './pod-status.js';
import type { RunnerOptions } from './runner.js';

/** A pod as the runner keeps it. */
export interface RunnerPod {
  runner: PodRunner;
  extras: PodExtras;
  state: PodState;
  dir: string;
}

/** What every pod of one run shares. */
export interface RunWiring {
  kind: 'namespaced' | 'host';
  statusURL?: string;
  countdown: KillCountdown;
  /** Any status change (the status file is rewritten, debounced). */
  changed(): void;
}

/** Runner events shown on stderr (the rest go only to events.log, the status page and the countdown). */
const SHOWN = ['start', 'exit', 'ready', 'unready', 'backoff', 'kill', 'error', 'warning', 'pod-finished', 'sigkill', 'setup-failed', 'restart', 'deadline'];
const COLORS = [36, 33, 32, 35, 34, 91, 92, 93, 94, 95, 96];

/** Claim the pod's folder, record its state, make its sandbox and its runner (nothing starts yet). */
export function openPod(o: RunnerOptions, plan: PodPlan, w: RunWiring): RunnerPod {
  const id = randomBytes(4).toString('hex');
  const dir = claimPodDir(o.root, plan.name);
  const state: PodState = { name: plan.name, namespace: plan.namespace, id, sandbox: w.kind, runner: procRef(process.pid), pids: [], statusURL: w.statusURL, createdAt: Date.now() };
  const saveState = () => writeJSON(join(dir, 'state.json'), state);
  const sb = podSandbox(o, plan, w.kind, dir, state, saveState);
  recordSpawns(sb, state, saveState);
  saveState();
  const x: PodExtras = {
    createdAt: state.createdAt,
    events: [],
    logs: new Map(),
    ports: [...(plan.spec.initContainers ?? []), ...plan.spec.containers].flatMap((c) =>
      (c.ports ?? []).filter((p) => p.hostPort && (p.protocol ?? 'TCP') === 'TCP').map((p) => ({ container: c.name, name: p.name, hostIP: p.hostIP ?? '127.0.0.1', hostPort: p.hostPort!, containerPort: p.containerPort })),
    ),
  };
  const runner = new PodRunner({
    plan,
    configMaps: o.loaded.configMaps,
    secrets: o.loaded.secrets,
    sandbox: sb,
    dir,
    images: sb instanceof ContainerSandbox ? o.images : undefined,
    backoff: { maxMs: o.maxBackoffMs },
    logLimits: o.logLimits,
    podkitEnv: o.podkitLogFormat ? { PODKIT_LOG_FORMAT: o.podkitLogFormat } : undefined,
    output: (c, _s, line) => {
      keepLast(x.logs, c, line, 8);
      const key = `${plan.name}/${c}`;
      o.out(`${o.color ? paint(key) : key} | ${line}`);
    },
    event: (e) => {
      x.events.push({ t: e.t, container: e.container, event: e.event, detail: e.detail });
      if (x.events.length > 30) x.events.shift();
      w.countdown.event(`${plan.name}/${e.container}`, e.event, e.detail);
      if (SHOWN.includes(e.event)) o.err(`podkit: ${plan.name}${e.container ? `/${e.container}` : ''} ${e.event}${e.detail ? ` (${e.detail})` : ''}`);
      if (e.event === 'sandbox-ready') {
        state.ip = sb.podIP;
        saveState();
      }
    },
    changed: w.changed,
  });
  return { runner, extras: x, state, dir };
}

/** The pod's sandbox: on the OCI runtime when one of its containers runs from an image, else namespaced or host. */
function podSandbox(o: RunnerOptions, plan: PodPlan, kind: RunWiring['kind'], dir: string, state: PodState, saveState: () => void): Sandbox {
  if (kind === 'host') return new HostSandbox();
  const nsOpts = { id: state.id, hostNetwork: plan.spec.hostNetwork, shareProcessNamespace: plan.spec.shareProcessNamespace, onPid: (pid: number) => (state.pids.push(procRef(pid)), saveState()) };
  let sb: Sandbox;
  let ns: NamespacedSandbox;
  if (o.images && podRunsImages(plan.spec, plan.annotations)) {
    // The runtime's state lives beside the pods', so a `podkit down` of this state dir finds its containers.
    state.oci = { bin: o.ociRuntime ?? 'crun', root: join(o.root, 'oci') };
    const cs = new ContainerSandbox({ ...nsOpts, dir, runtime: state.oci, hostname: (plan.spec.hostname ?? plan.name).slice(0, 63), notice: (m) => o.err(`podkit: ${m}`) });
    ns = cs.ns;
    sb = cs;
  } else sb = ns = new NamespacedSandbox(nsOpts);
  if (!plan.spec.hostNetwork) Object.assign(state, { netns: ns.netns, veth: ns.veth });
  return sb;
}

/** Record every container process group before anything else can happen, for cleanup after a SIGKILL. */
function recordSpawns(sb: Sandbox, state: PodState, saveState: () => void): void {
  const spawn = sb.spawn.bind(sb);
  sb.spawn = (spec) => {
    const p = spawn(spec);
    if (p.pid > 0) {
      state.pids = state.pids.filter((x) => procRef(x.pid).start === x.start);
      state.pids.push(procRef(p.pid));
      saveState();
    }
    return p;
  };
}

/** A colour per pod/container, the same on every line and every run. */
function paint(key: string): string {
  let h = 0;
  for (const ch of key) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `\x1b[${COLORS[h % COLORS.length]}m${key}\x1b[0m`;
}

/** The last `n` lines of each container, for the status page. */
function keepLast(m: Map<string, string[]>, key: string, line: string, n: number): void {
  const l = m.get(key) ?? [];
  l.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
  if (l.length > n) l.shift();
  m.set(key, l);
}
