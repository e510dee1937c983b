/** @module podkit git-sync: a drop-in for kubernetes/git-sync v4 with inbound triggers, atomic hardlinked publishes and honest health. */
import { mkdirSync, promises as fsp, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeError, TimeoutError, ClosedError } from '../core/errors.js';
import { createLogger, redactString, type Logger } from '../core/log.js';
import type { ComponentHandle, ReloadResult } from '../core/lifecycle.js';
import { readSecretFile } from '../core/secret-file.js';
import { sendText, startHttpServer, type HttpHandle, type Readiness } from '../core/http.js';
import type { HostPort } from '../core/parse.js';
import { setupAuth, splitUrlCredentials } from './auth.js';
import { createGitRunner } from './git.js';
import { execHook, HookRunner, webHook, type HookEvent } from './hooks.js';
import { createMetrics, hookChannel, publishChannel, syncChannel, triggerChannel, type HookRunEvent, type PublishEvent, type SyncEvent, type TriggerEvent } from './metrics.js';
import { resolveOptions, type Options } from './options.js';
import { Repo } from './repo.js';
import { verifyTrigger } from './trigger.js';
import { writeErrorFile } from './fsutil.js';
import { addUser } from './user.js';

export type { Options } from './options.js';
export { spec } from './flags.js';
export { HookError, AuthError, GitError, UpstreamError, TimeoutError, UsageError, ConfigError } from '../core/errors.js';

export type TriggerReason = 'start' | 'poll' | 'webhook' | 'signal' | 'api';

export interface Status {
  /** Published hash ('' before the first publish). */
  hash: string;
  lastSuccessMs?: number;
  consecutiveFailures: number;
  lastError?: string;
  /** Successful syncs (including no-op polls). */
  syncs: number;
  /** Sync attempts started (a refused trigger never adds one). */
  attempts: number;
}

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

export async function start(options: Options): Promise<Handle> {
  const log: Logger = options.log ?? createLogger({ name: 'git-sync' });
  const o = resolveOptions(options, log);
  process.umask(o.groupWrite ? 0o002 : 0o022);
  if (o.addUser && addUser()) log.info('added an /etc/passwd entry for this uid', { uid: process.getuid?.(), gid: process.getgid?.() });
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
  const git = createGitRunner({ git: o.git, config, extra: auth.env, log });
  const repo = new Repo(o, git);
  const origin = {}; // this instance, as its channel events name it
  const metrics = createMetrics(o.root, origin);
  const hookMetric = (hook: string) => (ok: boolean) => hookChannel.publish({ source: origin, hook, ok } satisfies HookRunEvent);
  const hooks: HookRunner[] = [];
  if (o.exechookCommand) hooks.push(new HookRunner('exechook', execHook(o.exechookCommand, o.exechookTimeoutMs, log), o.exechookBackoffMs, log, hookMetric('exechook')));
  if (o.webhookUrl) {
    const fn = webHook({ url: o.webhookUrl, method: o.webhookMethod, successStatus: o.webhookSuccessStatus, timeoutMs: o.webhookTimeoutMs, secretFile: o.webhookSignatureSecretFile, repo: o.repo, ref: o.ref });
    hooks.push(new HookRunner('webhook', fn, o.webhookBackoffMs, log, hookMetric('webhook')));
  }

  const st: Status = { hash: '', consecutiveFailures: 0, syncs: 0, attempts: 0 };
  let closed = false;
  let finished = false;
  let running: Promise<void> | undefined;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let pendingSince: number | undefined;
  let pendingReason: TriggerReason = 'poll';
  let firstSuccess = true;
  let oneTimeHash: string | undefined;
  let current: AbortController | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  const end = (code: number) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    finish(code);
  };

  const readiness = (): Readiness => {
    if (st.lastSuccessMs === undefined) return { ready: false, reason: st.lastError ? `no successful sync yet: ${st.lastError}` : 'no successful sync yet' };
    const age = Date.now() - st.lastSuccessMs;
    if (o.readyStalePeriods > 0 && age > o.readyStalePeriods * o.periodMs) {
      return { ready: false, reason: `last successful sync was ${Math.round(age / 1000)}s ago: ${st.lastError ?? 'unknown error'}` };
    }
    return { ready: true };
  };

  const succeeded = async (r: { hash: string; previous: string; changed: boolean }, startedMs: number, since: number | undefined, reason: TriggerReason) => {
    const now = Date.now();
    const status = r.changed || firstSuccess ? 'success' : 'noop';
    syncChannel.publish({ source: origin, status, seconds: (now - startedMs) / 1000, changed: r.changed, failures: 0, atMs: now, hash: r.hash, ref: o.ref } satisfies SyncEvent);
    st.hash = r.hash;
    st.lastSuccessMs = now;
    st.consecutiveFailures = 0;
    st.lastError = undefined;
    st.syncs++;
    if (o.errorFile) rmSync(o.errorFile, { force: true });
    if (r.changed || firstSuccess) {
      firstSuccess = false;
      if (o.touchFile) {
        mkdirSync(dirname(o.touchFile), { recursive: true });
        const t = new Date();
        await fsp.utimes(o.touchFile, t, t).catch(() => fsp.writeFile(o.touchFile as string, ''));
      }
      // Hooks go out first: nothing below is worth delaying the consumer's notification for.
      const e: HookEvent = { hash: r.hash, previous: r.previous, tree: repo.worktreeFor(r.hash) };
      for (const h of hooks) h.send(e);
      if (o.oneTime) oneTimeHash = r.hash;
    }
    if (r.changed) {
      let visible: PublishEvent['visible'];
      if (since !== undefined) visible = { trigger: reason, seconds: (now - since) / 1000 };
      else {
        const ct = await repo.commitTime(r.hash);
        if (ct !== undefined) visible = { trigger: 'poll', seconds: Math.max(0, now / 1000 - ct) };
      }
      publishChannel.publish({ source: origin, atMs: now, visible } satisfies PublishEvent);
    }
  };

  /** --one-time, after the cleanup ran (as v4 orders it): wait for each hook's first result, then end. */
  const finishOneTime = async (hash: string) => {
    const results = await Promise.all(hooks.map((h) => h.firstResult()));
    log.info('exiting after one sync', { hash });
    end(results.every(Boolean) ? 0 : 1);
  };

  const failed = (err: unknown, startedMs: number) => {
    const msg = redactString(describeError(err));
    st.consecutiveFailures++;
    st.lastError = msg;
    syncChannel.publish({ source: origin, status: 'error', seconds: (Date.now() - startedMs) / 1000, changed: false, failures: st.consecutiveFailures, atMs: Date.now() } satisfies SyncEvent);
    // Until the first success the budget is --init-max-failures (v4), so a slow-to-appear remote can be waited for.
    const max = st.lastSuccessMs === undefined ? o.initMaxFailures : o.maxFailures;
    const abort = max >= 0 && st.consecutiveFailures > max;
    if (o.errorFile) {
      // v4's error file: the log call's message, the error's text and its arguments, as compact JSON.
      const Msg = abort ? 'too many failures, aborting' : 'error syncing repo, will retry';
      const Args = abort ? { failCount: st.consecutiveFailures, maxFailures: max } : { failCount: st.consecutiveFailures };
      try {
        writeErrorFile(o.errorFile, JSON.stringify({ Msg, Err: msg, Args }));
      } catch (e) {
        log.warn("can't write the error file", { path: o.errorFile, error: describeError(e) });
      }
    }
    if (abort) {
      log.error('too many failures, aborting', { error: msg, failCount: st.consecutiveFailures, maxFailures: max });
      end(1);
    } else log.error('error syncing repo, will retry; the published tree keeps serving', { error: msg, failCount: st.consecutiveFailures, hash: st.hash || undefined });
  };

  const syncOnce = async () => {
    const since = pendingSince;
    const reason = pendingReason;
    pendingSince = undefined;
    pendingReason = 'poll';
    const startedMs = Date.now();
    st.attempts++;
    const ac = new AbortController();
    current = ac;
    const t = setTimeout(() => ac.abort(new TimeoutError(`sync ran past --sync-timeout ${o.syncTimeoutMs}ms`)), o.syncTimeoutMs);
    try {
      auth.refresh();
      await auth.refreshAskpassUrl(ac.signal);
      const r = await repo.sync(ac.signal, reason === 'webhook' || reason === 'signal' || reason === 'api');
      if (r.changed) log.info('updated successfully', { ref: o.ref, hash: r.hash, previous: r.previous || undefined, trigger: reason, ms: Date.now() - startedMs });
      else log.debug('update not required', { ref: o.ref, hash: r.hash });
      await succeeded(r, startedMs, since, reason);
    } catch (err) {
      if (closed && err instanceof ClosedError) return;
      failed(err, startedMs);
    } finally {
      clearTimeout(t);
    }
    try {
      await repo.cleanup(ac.signal);
    } catch (err) {
      if (!closed) log.warn('cleanup of old trees failed', { error: describeError(err) });
    }
    if (!closed && !o.oneTime) repo.prepareSpare(repo.currentHash());
    current = undefined;
    if (oneTimeHash !== undefined) await finishOneTime(oneTimeHash);
  };

  const loop = async () => {
    do {
      again = false;
      // syncOnce reports its own failures; this only keeps an unexpected throw from stopping the loop for good.
      await syncOnce().catch((err: unknown) => log.error('sync loop error', { error: describeError(err) }));
    } while (again && !closed && !finished);
    running = undefined;
    if (!closed && !finished) timer = setTimeout(() => trigger('poll'), st.lastSuccessMs === undefined ? o.initPeriodMs : o.periodMs);
  };

  const trigger = (reason: TriggerReason = 'api') => {
    if (closed || finished) return;
    if (reason !== 'poll' && pendingSince === undefined) {
      pendingSince = Date.now();
      pendingReason = reason;
    }
    if (running) {
      again = true;
      return;
    }
    clearTimeout(timer);
    running = loop();
  };

  let http: HttpHandle | undefined;
  if (o.httpBind) {
    // Bodies are read whole before the signature can be checked, so the cap bounds what unsigned requests cost.
    try {
      http = await startHttpServer({
        bind: o.httpBind,
        ready: readiness,
        metrics: o.httpMetrics ? metrics.collect : undefined,
        maxBody: o.triggerMaxBody,
        log,
        landing: {
          name: 'podkit git-sync',
          description: `Keeps ${redactString(o.repo)} (${o.ref}) synced into ${o.root} and publishes each commit through the link ${o.link}.`,
          // git config values can carry credentials (http.extraHeader=Authorization: …): shown by key, not value.
          config: () => ({ ...o, gitConfig: o.gitConfig.map(([k, v]) => [k, /extraheader|cookie|auth|token|pass|credential/i.test(k) ? '[REDACTED]' : v]), lastSyncedHash: st.hash }),
          // v4's probe endpoint (anything but a browser): 503 until the first sync, 200 after.
          plain: (_q, res) => sendText(res, st.lastSuccessMs === undefined ? 503 : 200, st.lastSuccessMs === undefined ? 'repo is not ready\n' : 'ok\n'),
        },
      });
    } catch (e) {
      // Nothing has run yet: release what start() made (hook runners, the askpass folder) so nothing outlives it.
      for (const h of hooks) h.close();
      metrics.unsubscribe();
      auth.dispose();
      throw e;
    }
    if (o.triggerSecretFile) {
      const file = o.triggerSecretFile;
      http.route('POST', o.triggerPath, (req, res, body) => {
        let secret = '';
        try {
          secret = readSecretFile(file, 'trigger-secret-file');
        } catch (e) {
          log.error("can't read the trigger secret file", { path: file, error: describeError(e) });
        }
        const v = verifyTrigger(req.headers, body, secret);
        triggerChannel.publish({ source: origin, provider: v.provider ?? 'none', ok: v.ok } satisfies TriggerEvent);
        if (!v.ok) {
          log.warn('refused trigger request', { reason: v.reason, remote: req.socket.remoteAddress });
          sendText(res, 401, 'unauthorized\n');
          return;
        }
        trigger('webhook');
        sendText(res, 202, 'sync triggered\n');
      });
    }
    log.info('serving HTTP', { address: http.address, trigger: o.triggerSecretFile ? o.triggerPath : undefined });
  }

  log.info('starting', { repo: redactString(o.repo), ref: o.ref, root: o.root, link: o.link, periodMs: o.periodMs, uid: process.getuid?.(), gid: process.getgid?.(), home: process.env.HOME });
  trigger('start');

  return {
    address: null,
    httpAddress: http?.address ?? null,
    done,
    trigger,
    reload: async () => {
      trigger('signal');
      return { ok: true, changed: [] };
    },
    status: () => ({ ...st }),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      current?.abort(new ClosedError('closing'));
      await running;
      await repo.idle();
      for (const h of hooks) h.close();
      metrics.unsubscribe();
      await http?.close();
      auth.dispose();
      end(0);
    },
  };
}
