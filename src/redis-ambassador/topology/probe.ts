/** @module One node's health probe: a dedicated ioredis connection sending ROLE + INFO replication every pollMs, with a no-reply watchdog. */
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import { lazy } from '../../core/lazy.js';
import { parseReplInfo, parseRole, type ProbeResult } from './topology.js';

/** ioredis is loaded once a probe or a Sentinel connection is made (static mode with eventual consistency makes neither). */
export const ioredis = lazy<typeof IORedis>('ioredis');

export interface ProbeOptions {
  pollMs: number;
  unresponsiveMs: number;
  connectTimeoutMs: number;
  username?: string;
  password?: string;
}

/**
 * Probes one node. `onChange` runs after every answer and on every transition to not-alive, so the owner can
 * recompute the snapshot. A killed node is seen at once (the socket closes); a stopped one (SIGSTOP, a hung
 * server) by the watchdog after `unresponsiveMs` without a reply.
 */
export class NodeProbe {
  result: ProbeResult = { role: null, info: null, alive: false, down: 'connecting', sentAt: 0 };
  private readonly conn: Redis;
  private timer: NodeJS.Timeout | null = null;
  private inFlightSince = 0;
  private closed = false;
  private lastError = '';

  constructor(
    readonly host: string,
    readonly port: number,
    private readonly opts: ProbeOptions,
    private readonly onChange: (p: NodeProbe) => void,
  ) {
    this.conn = new (ioredis().Redis)({
      host,
      port,
      username: opts.username,
      password: opts.password,
      connectionName: 'podkit-ambassador-probe',
      lazyConnect: true,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      connectTimeout: opts.connectTimeoutMs,
      // A fixed short retry: a restarted node should be back in rotation within a second.
      retryStrategy: () => (this.closed ? null : 100),
    });
    // Keep the last error so "down" says why (refused, WRONGPASS, …) rather than only that the socket closed.
    this.conn.on('error', (e: Error) => (this.lastError = e.message));
    this.conn.on('ready', () => (this.lastError = ''));
    this.conn.on('close', () => {
      if (this.watchdog) clearTimeout(this.watchdog);
      this.watchdog = null;
      this.inFlightSince = 0;
      this.markDown(this.lastError ? `connection lost: ${this.lastError}` : 'connection lost');
    });
    this.conn.on('ready', () => void this.probe());
  }

  /** The probe connection is up (a probe now answers promptly unless the node is hung). */
  get connected(): boolean {
    return this.conn.status === 'ready';
  }

  start(): void {
    this.conn.connect().catch(() => {});
    this.timer = setInterval(() => this.tick(), this.opts.pollMs);
    this.timer.unref();
  }

  private tick(): void {
    // One probe at a time: a hung node must not collect a queue of them (the watchdog reports it).
    if (this.inFlightSince) return;
    if (this.conn.status === 'ready') void this.probe();
  }

  /** Re-armed on every answer: fires when the node has been silent for unresponsiveMs (counted from its last answer, not from a send). */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog);
    const since = Date.now();
    this.watchdog = setTimeout(() => {
      this.watchdog = null;
      this.markDown(`no reply for ${Date.now() - since} ms`);
    }, this.opts.unresponsiveMs);
    this.watchdog.unref();
  }
  private watchdog: NodeJS.Timeout | null = null;

  private markDown(why: string): void {
    if (this.closed) return;
    const was = this.result.alive;
    this.result = { ...this.result, alive: false, down: why };
    if (was || why !== this.lastDown) this.onChange(this);
    this.lastDown = why;
  }
  private lastDown = '';

  /** Send ROLE + INFO replication now; resolves with the result (or the current one when the node is unreachable). */
  async probe(): Promise<ProbeResult> {
    if (this.closed) return this.result;
    if (this.conn.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.conn.off('ready', done);
          resolve();
        };
        const t = setTimeout(done, this.opts.connectTimeoutMs);
        this.conn.once('ready', done);
      });
      if ((this.conn.status as string) !== 'ready') return this.result; // re-read: the await may have changed it
    }
    const sentAt = Date.now();
    const mine = sentAt;
    this.inFlightSince ||= sentAt;
    try {
      const [role, info] = await Promise.all([this.conn.call('ROLE'), this.conn.info('replication')]);
      if (this.closed) return this.result;
      // Keep results in send order: an older answer must not overwrite a newer one.
      if (sentAt >= this.result.sentAt) {
        this.result = { role: parseRole(role), info: parseReplInfo(info), alive: true, sentAt };
        this.lastDown = '';
      }
      if (this.inFlightSince <= mine) this.inFlightSince = 0;
      this.armWatchdog();
      this.onChange(this);
    } catch (e) {
      if (this.inFlightSince <= mine) this.inFlightSince = 0;
      // -BUSY: the node answers, but a script runs past busy-reply-threshold; its role is what it was.
      if ((e as Error).message.startsWith('BUSY ') && this.result.role !== null) {
        this.armWatchdog();
        return this.result;
      }
      this.markDown(`probe failed: ${(e as Error).message}`);
    }
    return this.result;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.watchdog) clearTimeout(this.watchdog);
    this.conn.disconnect();
  }
}
