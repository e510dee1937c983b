/** @module Runs git children: isolated config, credentials only through env/askpass (never argv), deadlines, redacted errors. */
import { spawn } from 'node:child_process';
import { AuthError, GitError, TimeoutError, ClosedError, UpstreamError } from '../core/errors.js';
import { redactString, type Logger } from '../core/log.js';

export interface GitRunner {
  /** Run git; resolves with stdout, rejects with a GitError/AuthError/TimeoutError carrying redacted stderr. */
  run(args: readonly string[], opts?: { cwd?: string; signal?: AbortSignal; input?: string }): Promise<string>;
  /** The environment every git child gets (for tests and hooks). */
  readonly env: NodeJS.ProcessEnv;
}

export interface GitEnvOptions {
  git: string;
  /** Config pairs passed as GIT_CONFIG_KEY_n/VALUE_n, so nothing lands in argv or a global file. */
  config: [string, string][];
  /** Extra env (askpass, ssh command). */
  extra: NodeJS.ProcessEnv;
  log: Logger;
}

/** Env vars from the parent that would point git somewhere else. */
const DROP = /^GIT_(DIR|WORK_TREE|INDEX_FILE|OBJECT_DIRECTORY|ALTERNATE_OBJECT_DIRECTORIES|NAMESPACE|CEILING_DIRECTORIES|COMMON_DIR|CONFIG(_.*)?|ASKPASS|SSH(_COMMAND)?|TRACE.*)$/;

export function gitEnv(opts: Pick<GitEnvOptions, 'config' | 'extra'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!DROP.test(k) && k !== 'SSH_ASKPASS') env[k] = v;
  Object.assign(env, {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_OPTIONAL_LOCKS: '0',
    LC_ALL: 'C',
    GIT_CONFIG_COUNT: String(opts.config.length),
  });
  opts.config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  Object.assign(env, opts.extra);
  return env;
}

/** Longest stdout/stderr kept in an error (its tail: git's last lines say what went wrong). */
const KEEP = 4096;
const tail = (text: string) => (text.length > KEEP ? `…${text.slice(-KEEP)}` : text);

/** v4's rendering of a command in its errors: the argv joined by spaces, an arg with whitespace quoted. */
function commandForError(git: string, args: readonly string[]): string {
  return [git, ...args].map((a) => redactString(/[ \t\n]/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/**
 * A failed git command as kubernetes/git-sync v4 words it (`Run(git …): exit status 128: { stdout: "…", stderr:
 * "…" }`), so what users grep the error file and logs for — git's own message, "exit status", "context deadline
 * exceeded" — is where v4 puts it. The class says what went wrong: AuthError when the remote refused the
 * credentials, UpstreamError when it could not be reached or has no such repository, GitError otherwise.
 */
export function classify(git: string, args: readonly string[], why: string, stdout: string, stderr: string): Error {
  const message = `Run(${commandForError(git, args)}): ${why}: { stdout: ${JSON.stringify(redactString(tail(stdout.trim())))}, stderr: ${JSON.stringify(redactString(tail(stderr.trim())))} }`;
  if (/Authentication failed|could not read (Username|Password)|terminal prompts disabled|Permission denied \(publickey|HTTP 401|HTTP 403|Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)) {
    return new AuthError(message);
  }
  if (/Could not resolve host|Connection refused|Failed to connect|Connection timed out|unable to access|does not appear to be a git repository|Could not read from remote repository|not found|Network is unreachable|unexpected disconnect/i.test(stderr)) {
    return new UpstreamError(message);
  }
  return new GitError(message);
}

export function createGitRunner(opts: GitEnvOptions): GitRunner {
  const env = gitEnv(opts);
  return {
    env,
    run(args, o = {}) {
      return new Promise<string>((resolve, reject) => {
        if (o.signal?.aborted) {
          reject(new ClosedError('sync aborted'));
          return;
        }
        opts.log.trace('git', { args: args.map((a) => redactString(a)), cwd: o.cwd });
        const child = spawn(opts.git, args, { cwd: o.cwd, env, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout?.on('data', (d: Buffer) => {
          if (out.length < 64 << 20) out += d.toString();
        });
        child.stderr?.on('data', (d: Buffer) => {
          if (err.length < 1 << 20) err += d.toString();
        });
        let aborted = false;
        const onAbort = () => {
          aborted = true;
          child.kill('SIGKILL');
        };
        o.signal?.addEventListener('abort', onAbort, { once: true });
        child.once('error', (e) => {
          o.signal?.removeEventListener('abort', onAbort);
          reject(new GitError(`Run(${commandForError(opts.git, args)}): ${e.message}: { stdout: "", stderr: "" }`, { cause: e }));
        });
        child.once('close', (code, signal) => {
          o.signal?.removeEventListener('abort', onAbort);
          if (aborted) {
            const reason: unknown = o.signal?.reason;
            // The sync timeout is v4's context deadline; a close keeps its own reason.
            if (reason instanceof TimeoutError || !(reason instanceof Error)) {
              reject(new TimeoutError(classify(opts.git, args, 'context deadline exceeded', out, err).message, { cause: reason }));
            } else reject(reason);
          } else if (code === 0) resolve(out);
          else reject(classify(opts.git, args, code === null ? `signal: ${signal === 'SIGKILL' ? 'killed' : String(signal)}` : `exit status ${code}`, out, err));
        });
        if (o.input !== undefined) child.stdin?.end(o.input);
      });
    },
  };
}
