/** @module After-publish hooks with git-sync v4 semantics: exechook and outbound webhook, latest hash wins, retry with backoff. */
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { httpRequest } from './http-client.js';
import { describeError, HookError, TimeoutError, UpstreamError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { readSecretFile } from '../core/secret-file.js';

export interface HookEvent {
  hash: string;
  previous: string;
  /** Absolute path of the published tree. */
  tree: string;
}

export type HookFn = (e: HookEvent, signal: AbortSignal) => Promise<void>;

/**
 * Runs one hook in the background. `send` replaces any not-yet-run event (only the newest hash matters);
 * a failure is retried after `backoffMs` until it succeeds or a newer hash arrives.
 */
export class HookRunner {
  private pending: HookEvent | undefined;
  private running = false;
  private closed = false;
  private readonly abort = new AbortController();
  private first: { resolve: (ok: boolean) => void; promise: Promise<boolean> };
  private settledFirst = false;
  private wake: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly fn: HookFn,
    private readonly backoffMs: number,
    private readonly log: Logger,
    private readonly onResult: (ok: boolean) => void = () => undefined,
  ) {
    let resolve!: (ok: boolean) => void;
    const promise = new Promise<boolean>((r) => (resolve = r));
    this.first = { resolve, promise };
  }

  send(e: HookEvent): void {
    this.pending = e;
    this.wake?.();
    if (!this.running) void this.loop();
  }

  /** Resolves with the outcome of the first attempt (v4's one-time mode exits 1 when it failed). */
  firstResult(): Promise<boolean> {
    return this.first.promise;
  }

  private settle(ok: boolean) {
    if (!this.settledFirst) {
      this.settledFirst = true;
      this.first.resolve(ok);
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    while (this.pending && !this.closed) {
      const e = this.pending;
      this.pending = undefined;
      try {
        await this.fn(e, this.abort.signal);
        this.log.info(`${this.name} succeeded`, { hash: e.hash });
        this.onResult(true);
        this.settle(true);
      } catch (err) {
        this.log.error(`${this.name} failed, will retry`, { hash: e.hash, error: describeError(err), backoffMs: this.backoffMs });
        this.onResult(false);
        this.settle(false);
        if (this.closed) break;
        if (!this.pending) this.pending = e;
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.backoffMs);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = undefined;
      }
    }
    this.running = false;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    this.wake?.();
    this.settle(false);
  }
}

/** The exechook: the command runs with no args, cwd = the new tree, $GITSYNC_HASH set (no shell, as v4). */
export function execHook(command: string, timeoutMs: number, log: Logger): HookFn {
  return (e, signal) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(command, [], {
        cwd: e.tree,
        env: { ...process.env, GITSYNC_HASH: e.hash, GITSYNC_PREVIOUS_HASH: e.previous },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const keep = (d: Buffer) => {
        if (out.length < 8192) out += d.toString();
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const onAbort = () => child.kill('SIGKILL');
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', (err) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(new HookError(`exechook ${command}: ${err.message}`));
      });
      child.once('close', (code, sig) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (out.trim()) log.debug('exechook output', { output: out.trim().slice(-2000) });
        if (timedOut) reject(new TimeoutError(`exechook ${command} ran past ${timeoutMs}ms`));
        else if (code === 0) resolve();
        else reject(new HookError(`exechook ${command} exited ${code ?? sig}: ${out.trim().split('\n').slice(-3).join(' | ')}`));
      });
    });
}

export interface WebhookOptions {
  url: string;
  method: string;
  /** 0: any status is success. */
  successStatus: number;
  timeoutMs: number;
  /** Secret file; when set the body is signed (X-Podkit-Signature-256: sha256=<hex>). */
  secretFile?: string;
  repo: string;
  ref: string;
}

/** The outbound webhook: header Gitsync-Hash (v4), plus a JSON body with old and new hash, optionally signed. */
export function webHook(o: WebhookOptions): HookFn {
  return async (e, signal) => {
    const headers: Record<string, string> = { 'Gitsync-Hash': e.hash };
    let body: string | undefined;
    if (!['GET', 'HEAD'].includes(o.method.toUpperCase())) {
      body = JSON.stringify({ hash: e.hash, previous: e.previous, repo: o.repo.replace(/\/\/[^/@]*@/, '//'), ref: o.ref, time: new Date().toISOString() });
      headers['content-type'] = 'application/json';
      if (o.secretFile) {
        const secret = readSecretFile(o.secretFile, 'webhook-signature-secret-file');
        headers['X-Podkit-Signature-256'] = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
      }
    }
    let status: number;
    try {
      ({ status } = await httpRequest(o.url, { method: o.method, headers, body, signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]) }));
    } catch (err) {
      throw new UpstreamError(`webhook ${o.method} ${o.url}: ${describeError(err)}`);
    }
    if (o.successStatus !== 0 && status !== o.successStatus) {
      throw new HookError(`webhook ${o.method} ${o.url} returned ${status}, want ${o.successStatus}`);
    }
  };
}

