/**
 * @module The one error catalogue: every failure podkit reports has a stable PODKIT_ERR_* code here.
 *
 * | class           | code                    | exit | when                                                        |
 * |-----------------|-------------------------|------|-------------------------------------------------------------|
 * | UsageError      | PODKIT_ERR_USAGE        | 2    | bad command line: unknown flag, missing or bad value        |
 * | ConfigError     | PODKIT_ERR_CONFIG       | 2    | a config file, manifest or patch is wrong (`path` names it) |
 * | ProtocolError   | PODKIT_ERR_PROTOCOL     | 1    | a peer's bytes break the protocol                           |
 * | UpstreamError   | PODKIT_ERR_UPSTREAM     | 1    | an upstream server failed or could not be reached           |
 * | TimeoutError    | PODKIT_ERR_TIMEOUT      | 1    | an operation ran past its deadline                          |
 * | AuthError       | PODKIT_ERR_AUTH         | 1    | credentials refused, signature did not verify               |
 * | GitError        | PODKIT_ERR_GIT          | 1    | a git command failed                                        |
 * | SandboxError    | PODKIT_ERR_SANDBOX      | 1    | a pod sandbox or container could not be set up              |
 * | PermissionError | PODKIT_ERR_PERMISSION   | 1    | a privilege this process lacks (root for namespaces)        |
 * | BindError       | PODKIT_ERR_BIND         | 1    | a server socket could not be opened                         |
 * | ClosedError     | PODKIT_ERR_CLOSED       | 1    | the component closed while the operation ran                |
 * | HookError       | PODKIT_ERR_HOOK         | 1    | a git-sync exechook or webhook failed                       |
 * | ImageError      | PODKIT_ERR_IMAGE        | 1    | an image could not be had (`reason` as Kubernetes shows it) |
 * | FileError       | PODKIT_ERR_FILE         | 1    | a file podkit needs could not be read or written (`path`)   |
 * | SystemError     | PODKIT_ERR_SYSTEM       | 1    | a system call podkit makes itself failed (`errno`)          |
 * | UnsupportedError| PODKIT_ERR_UNSUPPORTED  | 1    | a feature this platform or build lacks (a native addon)     |
 * | InternalError   | PODKIT_ERR_INTERNAL     | 1    | a bug in podkit: a broken internal rule                     |
 *
 * docs/errors.md holds the same table for users; test/errors-catalogue.test.ts keeps plain Error constructors out of src/.
 */

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
  /** Set by `at()`: the flag, env var or annotation that is wrong (`message` is `where: detail`). */
  readonly where?: string;
  /** Set by `at()`: what is wrong, without `where`. */
  readonly detail?: string;
  constructor(message = 'bad usage', options?: ErrorOptions & { where?: string; detail?: string }) {
    super('PODKIT_ERR_USAGE', message, options);
    if (options?.where !== undefined) this.where = options.where;
    if (options?.detail !== undefined) this.detail = options.detail;
  }

  /** A usage error about one named input, keeping the name and the problem apart for callers that re-file it. */
  static at(where: string, detail: string): UsageError {
    return new UsageError(`${where}: ${detail}`, { where, detail });
  }
}

/** A config file or manifest is wrong. `path` names the place, e.g. `sources[2].url` or `spec.containers[0].ports`. Exit 2. */
export class ConfigError extends PodkitError {
  override readonly exitCode = 2;
  /** Where: a flag, a file, a YAML path, or several joined outward (`adapter.yaml: sources[2].url`); may be ''. */
  readonly path: string;
  /** What is wrong, without the path (`message` is `path: detail`). */
  readonly detail: string;
  constructor(path: string, message = 'invalid configuration', options?: ErrorOptions) {
    super('PODKIT_ERR_CONFIG', path ? `${path}: ${message}` : message, options);
    this.path = path;
    this.detail = message;
  }

  /**
   * The same error seen from one level out: `outer` goes before the path (`file` → `file: statsd.mappings[0]`,
   * or with `sep` '.' `items[2]` → `items[2].spec…`). The original stays the cause.
   */
  within(outer: string, sep = ': '): ConfigError {
    return new ConfigError(this.path ? `${outer}${sep}${this.path}` : outer, this.detail, { cause: this });
  }

  /** Whether the path already starts with `outer` (a file name), so it need not be added twice. */
  isWithin(outer: string): boolean {
    return this.path === outer || this.path.startsWith(`${outer}: `);
  }
}

/** Bytes from a peer do not follow the protocol. Sent to that peer as a value where the protocol allows. */
export class ProtocolError extends PodkitError {
  constructor(message = 'protocol error', options?: ErrorOptions) {
    super('PODKIT_ERR_PROTOCOL', message, options);
  }
}

/** An upstream server (Redis, git remote, scrape target) failed or could not be reached. */
export class UpstreamError extends PodkitError {
  constructor(message = 'upstream failed', options?: ErrorOptions) {
    super('PODKIT_ERR_UPSTREAM', message, options);
  }
}

/** An operation ran past its deadline. */
export class TimeoutError extends PodkitError {
  constructor(message = 'timed out', options?: ErrorOptions) {
    super('PODKIT_ERR_TIMEOUT', message, options);
  }
}

/** Credentials were refused, or a signature did not verify. */
export class AuthError extends PodkitError {
  constructor(message = 'authentication failed', options?: ErrorOptions) {
    super('PODKIT_ERR_AUTH', message, options);
  }
}

/** A git command failed. `stderr` is already redacted. */
export class GitError extends PodkitError {
  constructor(message = 'git failed', options?: ErrorOptions) {
    super('PODKIT_ERR_GIT', message, options);
  }
}

/** A pod sandbox (namespaces, mounts, veth) could not be set up or torn down. */
export class SandboxError extends PodkitError {
  constructor(message = 'sandbox setup failed', options?: ErrorOptions) {
    super('PODKIT_ERR_SANDBOX', message, options);
  }
}

/** An operation needs a privilege this process does not have (e.g. root for namespaces). */
export class PermissionError extends PodkitError {
  constructor(message = 'permission denied', options?: ErrorOptions) {
    super('PODKIT_ERR_PERMISSION', message, options);
  }
}

/** A server socket could not be opened: the address is in use, not local, or needs privileges. */
export class BindError extends PodkitError {
  /** The system's reason when known (EADDRINUSE, EADDRNOTAVAIL, EACCES). */
  readonly errno?: string;
  constructor(message = 'cannot listen', options?: ErrorOptions & { errno?: string }) {
    super('PODKIT_ERR_BIND', message, options);
    this.errno = options?.errno;
  }
}

/**
 * The one wording of a listen that failed, for every component and address: `cannot listen on HOST:PORT: <reason>
 * (choose another with --flag)`, the system's reason kept in `errno` and the original as the cause. A BindError
 * from a lower layer gets the same wording.
 */
export function bindError(address: string, err: unknown, flag?: string): BindError {
  const e = err as NodeJS.ErrnoException | undefined;
  const code = err instanceof BindError ? err.errno : typeof e?.code === 'string' ? e.code : undefined;
  const why = code === 'EADDRINUSE' ? 'the port is in use by another process' : code === 'EADDRNOTAVAIL' ? 'no local interface has that address' : code === 'EACCES' ? 'the port needs privileges' : (code ?? describeError(err));
  return new BindError(`cannot listen on ${address}: ${why}${flag ? ` (choose another with ${flag})` : ''}`, { cause: err, errno: code });
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
  constructor(message = 'hook failed', options?: ErrorOptions) {
    super('PODKIT_ERR_HOOK', message, options);
  }
}

/**
 * An image could not be had. `reason` is the container waiting reason Kubernetes shows for it:
 * `ErrImagePull` (the pull failed), `ErrImageNeverPull` (policy Never and not in the store), `InvalidImageName`.
 */
export class ImageError extends PodkitError {
  readonly reason: 'ErrImagePull' | 'ErrImageNeverPull' | 'InvalidImageName';
  constructor(reason: ImageError['reason'], message = 'cannot get the image', options?: ErrorOptions) {
    super('PODKIT_ERR_IMAGE', message, options);
    this.reason = reason;
  }
}

/** A file podkit needs could not be read or written. `path` names it. */
export class FileError extends PodkitError {
  readonly path: string;
  constructor(path: string, message = `cannot read ${path}`, options?: ErrorOptions) {
    super('PODKIT_ERR_FILE', message, options);
    this.path = path;
  }
}

/**
 * A system call podkit makes itself (a native addon, a raw handle) failed. `errno` is its name (EPIPE, EADDRINUSE)
 * and the message reads like Node's own (`write EPIPE`), so one handler serves both.
 */
export class SystemError extends PodkitError {
  readonly errno: string;
  readonly syscall: string;
  constructor(syscall: string, errno: string, detail?: string, options?: ErrorOptions) {
    super('PODKIT_ERR_SYSTEM', `${syscall} ${errno}${detail ? ` ${detail}` : ''}`, options);
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** A feature this platform or build lacks, e.g. a native addon that did not load. */
export class UnsupportedError extends PodkitError {
  constructor(message = 'not supported here', options?: ErrorOptions) {
    super('PODKIT_ERR_UNSUPPORTED', message, options);
  }
}

/** A broken internal rule (a metric registered twice, a bad metric name in code): a bug in podkit. */
export class InternalError extends PodkitError {
  constructor(message = 'internal error', options?: ErrorOptions) {
    super('PODKIT_ERR_INTERNAL', message, options);
  }
}
