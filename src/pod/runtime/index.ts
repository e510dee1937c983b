/** @module The pod runtime's surface: run a validated pod in a sandbox (namespaced or host), with an injectable clock. */
export { PodRunner, podkitArgv, type PodRunnerOptions, type PodStatus, type PodPhase } from './pod.js';
export { ContainerRunner, type ContainerStatus, type ContainerKind, type PodEvent } from './container.js';
export type { Sandbox, LaunchSpec, Mount, ContainerProcess, ExecResult } from './sandbox.js';
export { NamespacedSandbox, launchScript, type NamespacedOptions } from './sandbox-ns.js';
export { HostSandbox } from './sandbox-host.js';
export { realClock, FakeClock, type Clock, type Timer } from './clock.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export { ProbeWorker, runHandler, type ProbeResult, type ProbeState } from './probes.js';
export { stateRoot, listPods, cleanupPod, type PodState, type PodEntry } from './state.js';
