/** @module The one error catalogue: every failure podkit reports has a stable PODKIT_ERR_* code here. */

export interface ErrorOptions {
  cause?: unknown;
}

/** Base class. `code` is stable and documented; `message` is one line meant for a human. */
export class PodkitError extends Error {
  readonly code: string;
  /** Process exit code when this error ends a command: 2 for bad usage or config, 1 otherwise. */
  readonly exitCode: number = 1;

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad command-line usage: unknown flag, missing value, bad value. Exit 2. */
export class UsageError extends PodkitError {
  override readonly exitCode = 2;
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_USAGE', message, options);
  }
}

/** A config file or manifest is wrong. `path` names the place, e.g. `sources[2].url` or `spec.containers[0].ports`. Exit 2. */
export class ConfigError extends PodkitError {
  override readonly exitCode = 2;
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_CONFIG', path ? `${path}: ${message}` : message, options);
    this.path = path;
  }
}

/** Bytes from a peer do not follow the protocol. Sent to that peer as a value where the protocol allows. */
export class ProtocolError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_PROTOCOL', message, options);
  }
}

/** An upstream server (Redis, git remote, scrape target) failed or could not be reached. */
export class UpstreamError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_UPSTREAM', message, options);
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_TIMEOUT', message, options);
  }
}

/** Credentials were refused, or a signature did not verify. */
export class AuthError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_AUTH', message, options);
  }
}

/** A git command failed. `stderr` is already redacted. */
export class GitError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_GIT', message, options);
  }
}

/** A pod sandbox (namespaces, mounts, veth) could not be set up or torn down. */
export class SandboxError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_SANDBOX', message, options);
  }
}

/** An operation needs a privilege this process does not have (e.g. root for namespaces). */
export class PermissionError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_PERMISSION', message, options);
  }
}

/** A server socket could not be opened: the address is in use, not local, or needs privileges. */
export class BindError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_BIND', message, options);
  }
}

/** The component was closed while the operation was under way. */
export class ClosedError extends PodkitError {
  constructor(message = 'closed', options?: ErrorOptions) {
    super('PODKIT_ERR_CLOSED', message, options);
  }
}

/** Exit code for an error that ends a command. */
export function exitCodeOf(err: unknown): number {
  return err instanceof PodkitError ? err.exitCode : 1;
}

/** One line for a human; never a stack for expected failures. */
export function describeError(err: unknown): string {
  if (err instanceof PodkitError) return err.message;
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Why a file could not be read or written, in words ("no such file or directory"), without Node's errno prefix and path. */
export function fileErrorReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const m = /^[A-Z]+: ([^,]+)/.exec(e?.message ?? '');
  return m ? m[1] : describeError(err);
}

/** A post-sync hook (git-sync exechook or webhook) failed. */
export class HookError extends PodkitError {
  constructor(message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_HOOK', message, options);
  }
}

/**
 * An image could not be had. `reason` is the container waiting reason Kubernetes shows for it:
 * `ErrImagePull` (the pull failed), `ErrImageNeverPull` (policy Never and not in the store), `InvalidImageName`.
 */
export class ImageError extends PodkitError {
  readonly reason: 'ErrImagePull' | 'ErrImageNeverPull' | 'InvalidImageName';
  constructor(reason: ImageError['reason'], message: string, options?: ErrorOptions) {
    super('PODKIT_ERR_IMAGE', message, options);
    this.reason = reason;
  }
}
