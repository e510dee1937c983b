/** @module 1 master, 2 replicas, 3 Sentinels and the ambassador in Sentinel mode, with kill -9 failovers timed against Sentinel's +switch-master. */
import { Redis } from 'ioredis';
import { pollUntil } from './poll.js';
import { startRedis, startTopology, type RedisNode, type SentinelNode, type Topology as Servers } from './redis.js';
import { SwitchWatch, type WriteLoad } from './redis-failover-load.js';
import { render } from '../../src/core/metrics/index.js';
import { start, type Handle } from '../../src/redis-ambassador/index.js';
import { SentinelTopology, type FailoverLoss } from '../../src/redis-ambassador/topology/index.js';

export interface FailoverFigures {
  label: string;
  from: number;
  to: number;
  /** kill -9 → first +switch-master on the test's own Sentinel subscriptions. */
  killToSwitchMs: number;
  /** That +switch-master → the ambassador's topology adopting the ROLE-confirmed new master. */
  switchToAmbassadorMs: number;
  /** That +switch-master → the first write acknowledged to the client after it. */
  switchToAckMs: number;
  /** Last OK before the kill → first OK after the switch: how long writes were not acknowledged. */
  gapMs: number;
  /** Sentinel promoted again before settling (the new master is not the first one announced). */
  doubled: boolean;
  /**
   * +switch-master came sooner after the kill than Sentinel's down-after allows: a failover Sentinel had begun on its
   * own before the kill (seen under load right after a failover: a Sentinel that has not yet heard from the fresh
   * master calls it down). Writes the old master acknowledged meanwhile are lost whatever the ambassador does.
   */
  preempted: boolean;
  killedAt: number;
  /** Date.now() of the first +switch-master (test's own subscription). */
  switchAt: number;
}

export interface RigOptions {
  downAfterMs?: number;
  failoverTimeoutMs?: number;
  log?: Parameters<typeof start>[0]['log'];
}

export class FailoverRig {
  /** Live nodes by port (a restarted node replaces the dead one on the same port). */
  readonly nodes = new Map<number, RedisNode>();
  /** Date.now() of each switch-master inside the ambassador's topology. */
  readonly topoSwitches: { at: number; to: number; from?: number; loss?: FailoverLoss }[] = [];

  private constructor(
    readonly servers: Servers,
    readonly topo: SentinelTopology,
    readonly h: Handle,
    readonly watch: SwitchWatch,
    readonly downAfterMs: number,
  ) {
    for (const n of [servers.master, ...servers.replicas]) this.nodes.set(n.port, n);
    topo.on('switch-master', (from, to, at, loss) => this.topoSwitches.push({ at, to: to.port, from: from?.port, loss }));
  }

  static async start(o: RigOptions = {}): Promise<FailoverRig> {
    const servers = await startTopology({ replicas: 2, sentinels: 3, downAfterMs: o.downAfterMs ?? 1000, failoverTimeoutMs: o.failoverTimeoutMs ?? 2000 });
    const watch = await SwitchWatch.start(servers.sentinels);
    const topo = new SentinelTopology(
      servers.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      servers.masterName,
    );
    const h = await start({ listen: { host: '127.0.0.1', port: 0 }, httpBind: null, topology: topo, log: o.log });
    const rig = new FailoverRig(servers, topo, h, watch, o.downAfterMs ?? 1000);
    await pollUntil(() => h.ready().ready && topo.current().replicas.filter((r) => r.healthy).length === 2, { timeoutMs: 20_000, what: 'ambassador ready with 2 healthy replicas' });
    return rig;
  }

  get sentinels(): SentinelNode[] {
    return this.servers.sentinels;
  }

  /** The node the ambassador uses as master now. */
  master(): RedisNode {
    const port = this.topo.current().master?.port;
    const n = port === undefined ? undefined : this.nodes.get(port);
    if (!n) throw new Error(`no known master (topology says ${port})`);
    return n;
  }

  /** A direct client to a node (for reading back what survived). */
  direct(port: number): Redis {
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => null });
    c.on('error', () => {});
    return c;
  }

  /** kill -9 the master under `load`; wait for +switch-master, the ambassador's switch, writes flowing again; settle. */
  async failover(load: WriteLoad, label: string, rate: number): Promise<FailoverFigures> {
    const old = this.master();
    try {
      return await this.failoverOf(old, load, label, rate);
    } catch (e) {
      const s = this.topo.current();
      throw new Error(
        `${(e as Error).message}; load: ${load.describe()}; ambassador: ready ${JSON.stringify(this.h.ready())}, master :${s.master?.port} (${s.reason ?? ''}), ` +
          `replicas ${s.replicas.map((r) => `:${r.port} ${r.healthy ? 'ok' : r.reason}`).join(', ')}; switches seen ${JSON.stringify(this.watch.seen.slice(-6))}`,
      );
    }
  }

  private async failoverOf(old: RedisNode, load: WriteLoad, label: string, rate: number): Promise<FailoverFigures> {
    const killedAt = Date.now();
    old.proc.signal('SIGKILL');
    this.nodes.delete(old.port);
    const sw = await pollUntil(() => this.watch.first(old.port, killedAt), { timeoutMs: 30_000, intervalMs: 5, what: `${label}: +switch-master away from :${old.port}` });
    const own = await pollUntil(() => this.topoSwitches.find((s) => s.at >= killedAt), { timeoutMs: 15_000, intervalMs: 5, what: `${label}: the ambassador's switch` });
    const ack = await pollUntil(() => load.firstAckAfter(sw.at), { timeoutMs: 15_000, intervalMs: 5, what: `${label}: a write acknowledged after +switch-master` });
    // Writes keep flowing: a second's worth acknowledged after the switch.
    await pollUntil(() => load.acksAfter(sw.at) >= rate, { timeoutMs: 20_000, what: `${label}: writes flowing on the new master` });
    const final = await this.settled(label);
    return {
      label,
      from: old.port,
      to: final,
      killToSwitchMs: sw.at - killedAt,
      switchToAmbassadorMs: own.at - sw.at,
      switchToAckMs: ack - sw.at,
      gapMs: ack - load.lastAckBefore(killedAt + 1),
      doubled: final !== sw.to,
      preempted: sw.at - killedAt < this.downAfterMs,
      killedAt,
      switchAt: sw.at,
    };
  }

  /** Every Sentinel names the same master, ROLE on it says master, and the ambassador uses it. */
  async settled(label: string): Promise<number> {
    const cs = this.sentinels.map((s) => this.direct(s.port));
    let seen = '';
    try {
      return await pollUntil(
        async () => {
          const ports = await Promise.all(cs.map(async (c) => Number(((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.servers.masterName)) as string[])[1])));
          seen = `sentinels say ${ports.join(',')}; ambassador says ${this.topo.current().master?.port}`;
          if (new Set(ports).size !== 1 || this.topo.current().master?.port !== ports[0] || !this.h.ready().ready) return 0;
          return ports[0];
        },
        { timeoutMs: 30_000, what: `${label}: Sentinels and the ambassador to agree on the master` },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen: ${seen}`);
    } finally {
      for (const c of cs) c.disconnect();
    }
  }

  /**
   * Wait until the ambassador has `n` healthy replicas and every Sentinel lists each as a good replica of the
   * master (so it can be promoted next). A Sentinel that ends a flapping failover without one in its list (seen in
   * CI) gets what an operator would do: REPLICAOF (a no-op when it already follows) and SENTINEL RESET.
   */
  async replicasReady(n: number, label: string): Promise<void> {
    const cs = this.sentinels.map((s) => this.direct(s.port));
    let seen = '';
    // Re-read everything each time: Sentinel may fail over again meanwhile (then the replicas to check change too).
    const check = async (): Promise<number[]> => {
      const m = this.topo.current().master;
      const reps = this.topo.current().replicas.filter((r) => r.healthy).map((r) => r.port);
      if (!m || reps.length < n) return ((seen = `ambassador: master :${m?.port}, ${reps.length} healthy replicas`), cs.map((_, i) => i));
      const bad: number[] = [];
      const views: string[] = [];
      for (const [i, c] of cs.entries()) {
        const mp = ((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.servers.masterName)) as string[])[1];
        const list = ((await c.call('SENTINEL', 'REPLICAS', this.servers.masterName)) as string[][]).map((x) => new Map(x.map((v, j) => [v, x[j + 1]])));
        const good = (p: number) => list.some((r) => r.get('port') === String(p) && !/s_down|disconnected/.test(r.get('flags') ?? '') && r.get('master-link-status') === 'ok');
        views.push(`master :${mp}; ${list.map((r) => `:${r.get('port')} ${r.get('flags')} link ${r.get('master-link-status')}`).join(', ')}`);
        if (Number(mp) !== m.port || !reps.every(good)) bad.push(i);
      }
      seen = `ambassador: master :${m.port}, replicas ${reps.join(',')}; sentinels: ${views.join(' | ')}`;
      return bad;
    };
    try {
      let bad: number[] = [];
      const ok = await pollUntil(async () => (bad = await check()).length === 0, { timeoutMs: 20_000, intervalMs: 100, what: 'sentinels list the replicas' }).then(
        () => true,
        () => false,
      );
      if (!ok && this.topo.current().master) {
        const master = this.topo.current().master?.port as number;
        for (const p of this.topo.current().replicas.filter((r) => r.healthy).map((r) => r.port)) {
          const r = this.direct(p);
          await r.call('REPLICAOF', '127.0.0.1', String(master)).catch(() => {});
          r.disconnect();
        }
        for (const i of bad) if (i < cs.length) await cs[i].call('SENTINEL', 'RESET', this.servers.masterName);
      }
      if (!ok) await pollUntil(async () => (await check()).length === 0, { timeoutMs: 30_000, intervalMs: 100, what: `${label}: every Sentinel to list ${n} good replicas of the master` });
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen: ${seen}`);
    } finally {
      for (const c of cs) c.disconnect();
    }
    await this.quiet(label);
  }

  /**
   * Sentinel is at rest: every Sentinel names the ambassador's master with flags exactly `master` (no s_down, o_down,
   * failover in progress) and no +switch-master has arrived for 1.5 s. Killing the master earlier invites a second,
   * overlapping failover that would muddle what the round measures.
   */
  async quiet(label: string): Promise<void> {
    const cs = this.sentinels.map((s) => this.direct(s.port));
    let seen = '';
    try {
      await pollUntil(
        async () => {
          const last = this.watch.seen.reduce((a, b) => Math.max(a, b.at), 0);
          const views = await Promise.all(cs.map(async (c) => new Map(((await c.call('SENTINEL', 'MASTER', this.servers.masterName)) as string[]).map((v, i, a) => [v, a[i + 1]]))));
          seen = views.map((v) => `:${v.get('port')} ${v.get('flags')}`).join(', ');
          const port = String(this.topo.current().master?.port);
          return Date.now() - last > 1500 && this.h.ready().ready && views.every((v) => v.get('port') === port && v.get('flags') === 'master');
        },
        { timeoutMs: 30_000, intervalMs: 100, what: `${label}: Sentinel at rest` },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; sentinels say ${seen}`);
    } finally {
      for (const c of cs) c.disconnect();
    }
  }

  /** Start a fresh (empty) redis-server on a killed node's port, replicating from the current master (a pod restarting). */
  async restartAsReplica(port: number): Promise<RedisNode> {
    const n = await startRedis({ port, replicaOf: { host: '127.0.0.1', port: this.master().port } });
    this.nodes.set(port, n);
    return n;
  }

  /** Every killed node back, empty, as a replica of the current master. */
  async restartDead(): Promise<void> {
    for (const n of [this.servers.master, ...this.servers.replicas]) if (!this.nodes.has(n.port)) await this.restartAsReplica(n.port);
  }

  /** Every Sentinel's own log (its events with times), for diagnosing an odd round. */
  sentinelLogs(): string {
    return this.sentinels.map((x) => `--- sentinel ${x.addr}\n${x.proc.stdout()}`).join('\n');
  }

  metricsText(): string {
    return render(this.h.metrics.collect(), 'prometheus');
  }

  /** The ambassador's loss estimate, summed over failovers (bytes). */
  unreplicatedBytes(): number {
    return Number(/^podkit_ambassador_failover_unreplicated_bytes_total (\d+)$/m.exec(this.metricsText())?.[1] ?? NaN);
  }

  async close(): Promise<void> {
    this.watch.close();
    await this.h.close();
  }
}
