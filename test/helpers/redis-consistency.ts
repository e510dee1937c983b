/** @module Read-your-writes checks through the ambassador: a master + one replica, the replica SIGSTOP-ed 200 ms every second, stale reads counted. */
import { Redis } from 'ioredis';
import { pollUntil } from './poll.js';
import { startRedis, type RedisNode } from './redis.js';
import { start, type Handle } from '../../src/redis-ambassador/index.js';
import { StaticTopology } from '../../src/redis-ambassador/topology/index.js';

export class ConsistencyRig {
  readonly handles: Handle[] = [];
  readonly clients: Redis[] = [];
  private pauser: NodeJS.Timeout | undefined;

  private constructor(
    readonly master: RedisNode,
    readonly replica: RedisNode,
  ) {}

  static async start(): Promise<ConsistencyRig> {
    const master = await startRedis();
    const replica = await startRedis({ replicaOf: { host: '127.0.0.1', port: master.port } });
    const m = master.client();
    await pollUntil(async () => /connected_slaves:1/.test(await m.info('replication')), { timeoutMs: 10_000, what: 'replica attached' });
    m.disconnect();
    return new ConsistencyRig(master, replica);
  }

  /** An ambassador over master + replica with `consistency`, and an ioredis client to it. */
  async ambassador(consistency: 'eventual' | 'session'): Promise<{ h: Handle; c: Redis }> {
    const topology = new StaticTopology({ host: '127.0.0.1', port: this.master.port }, [{ host: '127.0.0.1', port: this.replica.port }]);
    const h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, topology, consistency });
    this.handles.push(h);
    await pollUntil(() => h.ready().ready && topology.current().replicas.some((r) => r.healthy), { timeoutMs: 10_000, what: 'replica in rotation' });
    const c = new Redis({ port: h.address.port, host: '127.0.0.1', commandTimeout: 10_000 });
    c.on('error', () => {});
    this.clients.push(c);
    return { h, c };
  }

  /** SIGSTOP the replica for `pauseMs` every `everyMs` until `stopPausing()` (which always leaves it running). */
  startPausing(pauseMs = 200, everyMs = 1000): void {
    this.pauser = setInterval(() => {
      this.replica.proc.signal('SIGSTOP');
      setTimeout(() => this.replica.proc.signal('SIGCONT'), pauseMs).unref();
    }, everyMs);
  }

  stopPausing(): void {
    if (this.pauser) clearInterval(this.pauser);
    this.pauser = undefined;
    this.replica.proc.signal('SIGCONT');
  }

  /** Close every ambassador (and its client) made so far. */
  async closeAmbassadors(): Promise<void> {
    for (const c of this.clients.splice(0)) c.disconnect();
    for (const h of this.handles.splice(0)) await h.close();
  }

  /** Teardown: the replica is never left stopped, even when a test failed. */
  async close(): Promise<void> {
    this.stopPausing();
    await this.closeAmbassadors();
  }
}

/**
 * `SET k i; GET k`, n times: sequential (each reply awaited), or pipelined (`batch` pairs per pipeline, keys distinct
 * within a batch, so each GET follows its own SET without waiting for it). Returns how many GETs returned anything
 * but the value just written, and the wall time.
 */
export async function staleReads(c: Redis, n: number, mode: 'sequential' | 'pipelined', prefix: string, batch = 50): Promise<{ stale: number; ms: number }> {
  let stale = 0;
  const t0 = performance.now();
  if (mode === 'sequential') {
    for (let i = 1; i <= n; i++) {
      const k = `${prefix}:${i % 50}`;
      await c.set(k, String(i));
      if ((await c.get(k)) !== String(i)) stale++;
    }
  } else {
    for (let i = 1; i <= n; i += batch) {
      const p = c.pipeline();
      const m = Math.min(batch, n - i + 1);
      for (let j = 0; j < m; j++) p.set(`${prefix}:${j}`, String(i + j)).get(`${prefix}:${j}`);
      const r = (await p.exec()) ?? [];
      for (let j = 0; j < m; j++) if (r[2 * j + 1]?.[1] !== String(i + j)) stale++;
    }
  }
  return { stale, ms: performance.now() - t0 };
}

/**
 * GETs by route from an ambassador's metrics: how many went to the master vs a replica. The route counts are fed by a
 * process-wide diagnostics channel, so with two ambassadors in one process each counts its commands twice: use one at a time.
 */
export function getsByRoute(h: Handle): { master: number; replica: number } {
  const fam = h.metrics.collect().find((f) => f.name === 'podkit_ambassador_commands_total');
  const n = (route: string) => Number(fam?.metrics.find((m) => m.labels.command === 'get' && m.labels.route === route)?.value ?? 0);
  return { master: n('master'), replica: n('replica') };
}
