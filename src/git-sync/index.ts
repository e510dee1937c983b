/** @module podkit git-sync: a drop-in for kubernetes/git-sync v4 with inbound triggers, atomic hardlinked publishes and honest health. */
import { mkdirSync } from 'node:fs';
import { ConfigError, fileErrorReason } from '../core/errors.js';
import { createLogger, redactString, type Logger } from '../core/log.js';
import type { ComponentHandle, ReloadResult } from '../core/lifecycle.js';
import type { HttpHandle } from '../core/http.js';
import type { HostPort } from '../core/parse.js';
import { setupAuth, splitUrlCredentials, type AuthSetup } from './auth.js';
import { createGitRunner, type GitRunner } from './git.js';
import { execHook, HookRunner, webHook } from './hooks.js';
import { createMetrics, hookChannel, type HookRunEvent } from './metrics.js';
import { resolveOptions, type Options, type Resolved } from './options.js';
import { Repo } from './repo.js';
import { SyncLoop, type Status, type TriggerReason } from './loop.js';
import { serveHttp } from './serve.js';
import { addUser } from './user.js';

export type { Options } from './options.js';
export { spec } from './flags.js';
export { HookError, AuthError, GitError, UpstreamError, TimeoutError, UsageError, ConfigError } from '../core/errors.js';

export type { Status, TriggerReason } from './loop.js';

export interface Handle extends ComponentHandle {
  /** git-sync writes files and serves no data: no data-plane address. */
  readonly address: null;
  /** The HTTP server's address, when --http-bind was given. */
  readonly httpAddress: HostPort | null;
  /** Resolves with the exit code when the component ends on its own (--one-time, --max-failures exceeded). */
  readonly done: Promise<number>;
  /** Ask for a sync now; coalesces with one in progress into at most one follow-up. */
  trigger(reason?: TriggerReason): void;
  /** SIGHUP: sync now (no setting is re-read, so `changed` is empty; the sync's outcome shows in status()). */
  reload(): Promise<ReloadResult>;
  status(): Status;
  close(): Promise<void>;
}

/** The git runner for this sync: v4's fixed config (plus --git-config), credentials through env only. */
function gitFor(o: Resolved, log: Logger): { git: GitRunner; auth: AuthSetup } {
  const cred = splitUrlCredentials(o);
  const auth = setupAuth(cred);
  const config: [string, string][] = [
    ['remote.origin.url', cred.repo],
    ['safe.directory', '*'],
    ['gc.autoDetach', 'false'],
    ['gc.pruneExpire', 'now'],
    ['advice.detachedHead', 'false'],
    ['protocol.version', '2'],
    ...o.gitConfig,
  ];
  return { git: createGitRunner({ git: o.git, config, extra: auth.env, log }), auth };
}

/** One runner per configured hook (exechook, webhook), each reporting its runs to the metrics. */
function hooksFor(o: Resolved, origin: object, log: Logger): HookRunner[] {
  const hookMetric = (hook: string) => (ok: boolean) => hookChannel.publish({ source: origin, hook, ok } satisfies HookRunEvent);
  const hooks: HookRunner[] = [];
  if (o.exechookCommand) hooks.push(new HookRunner('exechook', execHook(o.exechookCommand, o.exechookTimeoutMs, log), o.exechookBackoffMs, log, hookMetric('exechook')));
  if (o.webhookUrl) {
    const fn = webHook({ url: o.webhookUrl, method: o.webhookMethod, successStatus: o.webhookSuccessStatus, timeoutMs: o.webhookTimeoutMs, secretFile: o.webhookSignatureSecretFile, repo: o.repo, ref: o.ref });
    hooks.push(new HookRunner('webhook', fn, o.webhookBackoffMs, log, hookMetric('webhook')));
  }
  return hooks;
}

export async function start(options: Options): Promise<Handle> {
  const log: Logger = options.log ?? createLogger({ name: 'git-sync' });
  const o = resolveOptions(options, log);
  process.umask(o.groupWrite ? 0o002 : 0o022);
  // As v4 does before anything else: a --root that cannot be made is fatal at start, not a sync failure retried for
  // ever (--max-failures=-1) that no later sync can mend.
  try {
    mkdirSync(o.root, { recursive: true });
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists and is not a directory' : fileErrorReason(e);
    throw new ConfigError('--root', `can't make root dir ${o.root} (${why})`, { cause: e });
  }
  if (o.addUser && addUser()) log.info('added an /etc/passwd entry for this uid', { uid: process.getuid?.(), gid: process.getgid?.() });
  const { git, auth } = gitFor(o, log);
  const repo = new Repo(o, git);
  const origin = {}; // this instance, as its channel events name it
  const metrics = createMetrics(o.root, origin);
  const hooks = hooksFor(o, origin, log);
  const loop = new SyncLoop(o, repo, auth, hooks, origin, log);
  const release = () => {
    for (const h of hooks) h.close();
    metrics.unsubscribe();
    auth.dispose();
  };

  let http: HttpHandle | undefined;
  if (o.httpBind) {
    try {
      http = await serveHttp({ ...o, httpBind: o.httpBind }, loop, metrics, origin, log);
    } catch (e) {
      // Nothing has run yet: release what start() made (hook runners, the askpass folder) so nothing outlives it.
      release();
      throw e;
    }
  }

  log.info('starting', { repo: redactString(o.repo), ref: o.ref, root: o.root, link: o.link, periodMs: o.periodMs, uid: process.getuid?.(), gid: process.getgid?.(), home: process.env.HOME });
  loop.trigger('start');

  let closing: Promise<void> | undefined;
  return {
    address: null,
    httpAddress: http?.address ?? null,
    done: loop.done,
    trigger: (reason) => loop.trigger(reason),
    reload: async () => {
      loop.trigger('signal');
      return { ok: true, changed: [] };
    },
    status: () => ({ ...loop.st }),
    close() {
      closing ??= (async () => {
        await loop.close();
        for (const h of hooks) h.close();
        metrics.unsubscribe();
        await http?.close();
        auth.dispose();
        loop.ended(0);
      })();
      return closing;
    },
  };
}
