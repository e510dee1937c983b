/**
 * @module The local Pod runtime as a component: `start(options)` runs the pods of validated manifests (loadManifests)
 * and resolves with a handle whose close() stops them the Kubernetes way; `httpAddress` is the status page's server.
 */
export { start, type RunnerOptions as Options, type PodsHandle as Handle, type StopReason } from './cli/runner.js';
export { loadManifests, parseManifests, type LoadedManifests } from './spec/index.js';
export { ConfigError, PermissionError, UsageError, SandboxError, BindError } from '../core/errors.js';
