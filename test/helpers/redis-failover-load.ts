/** @module A paced write load through the ambassador (every OK remembered) and Sentinel +switch-master timing, for the failover test and bench. */
import { Redis } from 'ioredis';
import type { SentinelNode } from './redis.js';

export interface LoadOptions {
  /** The ambassador's port. */
  port: number;
  /** ioredis connections the writes are spread over. */
  clients: number;
  /** Writes per second (open loop: issued on a clock, not after the previous reply). */
  rate: number;
  /** Key prefix; write i is `SET <prefix>:<i> <i>` (unique keys, so a lost write is a missing key). */
  prefix: string;
  /** Follow every SET with `WAIT replicas timeoutMs` in the same pipeline. */
  wait?: { replicas: number; timeoutMs: number };
  /** Writes outstanding at most; beyond it a due write is skipped (counted). Default 20,000. */
  maxInFlight?: number;
}

/** One acknowledged write: its key, Date.now() when the OK arrived, and what WAIT returned (-1: no WAIT or it failed). */
export interface Ack {
  key: string;
  at: number;
  waited: number;
}

export class WriteLoad {
  readonly acks: Ack[] = [];
  /** Error replies by message (digits normalised). */
  readonly errors = new Map<string, number>();
  /** WAIT errors (the SET before it was acknowledged). */
  readonly waitErrors = new Map<string, number>();
  issued = 0;
  skipped = 0;
  private inFlight = 0;
  private readonly conns: Redis[] = [];
  private timer: NodeJS.Timeout | null = null;
  private t0 = 0;
  private due = 0;

  constructor(private readonly o: LoadOptions) {
    for (let i = 0; i < o.clients; i++) {
      // No client-side retries or timeouts: the test wants to see exactly what the ambassador answered.
      const c = new Redis({ port: o.port, host: '127.0.0.1', maxRetriesPerRequest: 0, enableOfflineQueue: true, commandTimeout: 30_000 });
      c.on('error', () => {});
      this.conns.push(c);
    }
  }

  start(): void {
    this.t0 = Date.now();
    this.timer = setInterval(() => this.tick(), 5);
  }

  private tick(): void {
    const target = Math.floor(((Date.now() - this.t0) * this.o.rate) / 1000);
    // After an event-loop stall, catch up gradually (at most 4× the rate) rather than in one burst.
    const n = Math.min(target - this.due, Math.ceil(this.o.rate / 50));
    for (let k = 0; k < n; k++) {
      this.due++;
      if (this.inFlight >= (this.o.maxInFlight ?? 20_000)) {
        this.skipped++;
        continue;
      }
      this.write(this.issued++);
    }
  }

  private fail(map: Map<string, number>, e: unknown): void {
    const msg = (e instanceof Error ? e.message : String(e)).replace(/\d+/g, '#');
    map.set(msg, (map.get(msg) ?? 0) + 1);
  }

  private write(i: number): void {
    const c = this.conns[i % this.conns.length];
    const key = `${this.o.prefix}:${i}`;
    this.inFlight++;
    const w = this.o.wait;
    const done = w
      ? c
          .pipeline()
          .set(key, String(i))
          .call('WAIT', String(w.replicas), String(w.timeoutMs))
          .exec()
          .then((r) => {
            const [setErr, ok] = r?.[0] ?? [new Error('no reply')];
            if (setErr || ok !== 'OK') return this.fail(this.errors, setErr ?? ok);
            const [waitErr, n] = r?.[1] ?? [new Error('no reply')];
            if (waitErr) this.fail(this.waitErrors, waitErr);
            this.acks.push({ key, at: Date.now(), waited: waitErr ? -1 : Number(n) });
          })
      : c.set(key, String(i)).then((ok) => {
          if (ok !== 'OK') return this.fail(this.errors, ok);
          this.acks.push({ key, at: Date.now(), waited: -1 });
        });
    done.catch((e: unknown) => this.fail(this.errors, e)).finally(() => this.inFlight--);
  }

  /** Errors whose message mentions READONLY (must stay 0). */
  readonlyErrors(): number {
    let n = 0;
    for (const m of [this.errors, this.waitErrors]) for (const [k, v] of m) if (k.includes('READONLY')) n += v;
    return n;
  }

  /** Date.now() of the first OK that arrived after `t`, or 0. */
  firstAckAfter(t: number): number {
    return this.acks.find((a) => a.at > t)?.at ?? 0;
  }

  /** Date.now() of the last OK that arrived before `t`, or 0. */
  lastAckBefore(t: number): number {
    let last = 0;
    for (const a of this.acks) if (a.at < t) last = a.at;
    return last;
  }

  acksAfter(t: number): number {
    let n = 0;
    for (let k = this.acks.length - 1; k >= 0 && this.acks[k].at > t; k--) n++;
    return n;
  }

  /** Stop issuing; wait (bounded) for the writes still outstanding. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const end = Date.now() + timeoutMs;
    while (this.inFlight > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const c of this.conns) c.disconnect();
  }

  /** For failure messages: counts, errors, and the last few OK times. */
  describe(): string {
    const last = this.acks.length ? this.acks[this.acks.length - 1].at : 0;
    return `issued ${this.issued}, acknowledged ${this.acks.length} (last ${last ? Date.now() - last : '-'} ms ago), in flight ${this.inFlight}, skipped ${this.skipped}; errors ${JSON.stringify(Object.fromEntries(this.errors))}; WAIT errors ${JSON.stringify(Object.fromEntries(this.waitErrors))}`;
  }

  /** The acknowledged writes missing on `node` (read straight from it, in MGET batches). */
  async missingOn(node: Redis, acks: Ack[] = this.acks): Promise<Ack[]> {
    const missing: Ack[] = [];
    for (let k = 0; k < acks.length; k += 1000) {
      const batch = acks.slice(k, k + 1000);
      const vals = await node.mget(...batch.map((a) => a.key));
      vals.forEach((v, j) => v === null && missing.push(batch[j]));
    }
    return missing;
  }
}

/** Receipt times of +switch-master on the caller's own subscription to every Sentinel (the reference clock). */
export class SwitchWatch {
  readonly seen: { at: number; from: number; to: number }[] = [];
  private readonly subs: Redis[] = [];

  static async start(sentinels: SentinelNode[]): Promise<SwitchWatch> {
    const w = new SwitchWatch();
    for (const s of sentinels) {
      const c = new Redis({ port: s.port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null });
      c.on('error', () => {});
      c.on('message', (_ch: string, payload: string) => {
        // "<name> <old-ip> <old-port> <new-ip> <new-port>"
        const p = payload.split(' ');
        w.seen.push({ at: Date.now(), from: Number(p[2]), to: Number(p[4]) });
      });
      await c.subscribe('+switch-master');
      w.subs.push(c);
    }
    return w;
  }

  /** The first +switch-master (from any Sentinel) away from the master on `fromPort` received after `since` (ports are reused by restarted nodes). */
  first(fromPort: number, since: number): { at: number; to: number } | null {
    let best: { at: number; to: number } | null = null;
    for (const s of this.seen) if (s.from === fromPort && s.at >= since && (!best || s.at < best.at)) best = s;
    return best;
  }

  close(): void {
    for (const c of this.subs) c.disconnect();
  }
}
