/** @module What a running ambassador can change without a restart (SIGHUP, reconfigure): replicas, read policy, consistency. */
import { UsageError } from '../core/errors.js';
import type { HostPort } from '../core/parse.js';
import type { Logger } from '../core/log.js';
import type { ReloadResult } from '../core/lifecycle.js';
import type { MetricFamily } from '../core/metrics/model.js';
import type { ProxyContext, ReadPolicy } from './context.js';
import type { NodeConns } from './pools.js';
import { StaticTopology, key, type Topology, type TopologyOptions } from './topology/index.js';
import { waitFor } from '../core/wait.js';
import { expressEpoch } from './io/conn.js';

export type Consistency = 'eventual' | 'session';

/** The settings a reload applies live; anything else needs a restart. */
export interface LiveOptions {
  /** Static mode only (in Sentinel mode the replicas come from Sentinel). */
  replicas?: HostPort[];
  readPolicy?: ReadPolicy;
  consistency?: Consistency;
}

/** The ambassador's `changed` names `replicas`, `read-policy`, `consistency`. */
export type { ReloadResult };

export interface LiveDeps {
  ctx: ProxyContext;
  /** Discovery mode's topology (Sentinel, or one given to start()); undefined in static mode. */
  topo: Topology | undefined;
  /** Static mode: the master (for the offset probes of session consistency). */
  master: HostPort | undefined;
  make(hp: HostPort, role: 'replica'): NodeConns;
  /** How long a removed replica's busy connections may still deliver replies, ms. */
  graceMs: number;
  connectTimeoutMs: number;
  probe: TopologyOptions;
  log: Logger;
}

const sameList = (a: readonly HostPort[], b: readonly HostPort[]) => a.length === b.length && a.every((x, i) => key(x) === key(b[i]));

/**
 * Static mode keeps plain lists on the data path in both consistency modes: `session` only adds a probed
 * StaticTopology over the same lists, asked for replication offsets (`caughtUp`). So switching the mode creates or
 * closes that probe and touches no client connection. Reloads are applied one at a time, in order.
 */
export class LiveConfig {
  /** Static mode + session: ROLE/INFO probes of the static lists, for replication offsets. */
  private probe: StaticTopology | null = null;
  private replicas: HostPort[];
  private chain: Promise<unknown> = Promise.resolve();
  private reloads = { ok: 0, error: 0 };

  constructor(
    private readonly d: LiveDeps,
    replicas: HostPort[],
  ) {
    this.replicas = replicas;
  }

  /** Static mode: the replica list now configured. */
  replicaList(): HostPort[] {
    return this.replicas.map((r) => ({ host: r.host, port: r.port }));
  }

  /** Read-your-writes: has replica `n` applied everything the master acknowledged before `since`? */
  caughtUp(n: NodeConns, since: number): boolean {
    const t = this.d.topo ?? this.probe;
    return t !== null && t.caughtUp(n.node, since);
  }

  /** Apply `next` (fields left out keep their value). Serialized; never throws. */
  apply(next: LiveOptions): Promise<ReloadResult> {
    const run = this.chain.then(() => this.applyNow(next));
    this.chain = run.catch(() => {});
    return run.then(
      (r) => {
        this.reloads.ok++;
        return r;
      },
      (e: unknown) => this.failed((e as Error).message),
    );
  }

  /** A reload that could not even be read (bad file): counted, nothing applied. */
  failed(error: string): ReloadResult {
    this.reloads.error++;
    return { ok: false, changed: [], error };
  }

  private async applyNow(next: LiveOptions): Promise<ReloadResult> {
    const ctx = this.d.ctx;
    const changed: string[] = [];
    const conflict = policyConflict(next.readPolicy ?? ctx.readPolicy, next.consistency ?? ctx.consistency);
    if (conflict) throw new UsageError(`--consistency: ${conflict}`);
    if (next.replicas && !sameList(next.replicas, this.replicas)) {
      if (this.d.topo && !(this.d.topo instanceof StaticTopology)) throw new UsageError('replicas cannot be set: they are discovered from Sentinel');
      await this.setReplicas(next.replicas);
      changed.push('replicas');
    }
    if (next.readPolicy && next.readPolicy !== ctx.readPolicy) {
      ctx.readPolicy = next.readPolicy;
      changed.push('read-policy');
    }
    if (next.consistency && next.consistency !== ctx.consistency) {
      if (!this.d.topo) {
        if (next.consistency === 'session') await this.startProbe();
        else this.stopProbe();
      }
      ctx.consistency = next.consistency;
      changed.push('consistency');
    }
    // Clients armed for the express path (conn_express.c) were armed by the old routing.
    if (changed.length > 0) expressEpoch();
    if (changed.length > 0) this.d.log.info('configuration reloaded', { changed, replicas: this.replicas.map(key), readPolicy: ctx.readPolicy, consistency: ctx.consistency });
    else this.d.log.info('configuration reloaded: nothing changed');
    return { ok: true, changed };
  }

  /**
   * New replicas join rotation once connected (or after the connect timeout, when they are skipped as down);
   * removed ones leave rotation at once (their clients move to another replica), deliver the replies in flight and
   * are closed after the grace time.
   */
  private async setReplicas(list: HostPort[]): Promise<void> {
    const ctx = this.d.ctx;
    this.replicas = list.map((r) => ({ host: r.host, port: r.port }));
    const topo = this.d.topo;
    if (topo instanceof StaticTopology) {
      topo.setReplicas(this.replicas); // the driver follows the topology's health
      return;
    }
    const have = new Map(ctx.replicas.map((n) => [key(n.node), n]));
    const next: NodeConns[] = [];
    const fresh: NodeConns[] = [];
    for (const r of this.replicas) {
      let n = have.get(key(r));
      if (!n) {
        n = this.d.make(r, 'replica');
        n.warm();
        fresh.push(n);
      }
      next.push(n);
    }
    await waitFor(() => !fresh.some((n) => !n.connected && n.up), { timeoutMs: this.d.connectTimeoutMs, intervalMs: 10 });
    const keep = new Set(next);
    ctx.replicas = next;
    for (const n of have.values()) {
      if (keep.has(n)) continue;
      n.inRotation = false;
      n.retire(this.d.graceMs);
    }
    this.probe?.setReplicas(this.replicas);
  }

  private async startProbe(): Promise<void> {
    if (this.probe || !this.d.master) return;
    const p = new StaticTopology(this.d.master, this.replicas, this.d.probe);
    // Wait (bounded) until the master is confirmed, so caughtUp can answer soon; until then reads after writes go to the master.
    await new Promise<void>((resolve) => {
      const done = () => {
        off();
        clearTimeout(t);
        resolve();
      };
      const off = p.on('change', (s) => {
        if (s.master) done();
      });
      const t = setTimeout(done, this.d.connectTimeoutMs);
      if (p.current().master) done();
    });
    this.probe = p;
  }

  private stopProbe(): void {
    const p = this.probe;
    this.probe = null;
    void p?.close();
  }

  /** Static mode with session consistency at start: the probe before the first client. */
  async init(consistency: Consistency): Promise<void> {
    if (consistency === 'session' && !this.d.topo) await this.startProbe();
  }

  collect(): MetricFamily[] {
    const ctx = this.d.ctx;
    return [
      { name: 'podkit_ambassador_reloads_total', help: 'Configuration reloads (SIGHUP or reconfigure) by result', type: 'counter', metrics: [{ labels: { result: 'ok' }, value: this.reloads.ok }, { labels: { result: 'error' }, value: this.reloads.error }] },
      { name: 'podkit_ambassador_config_info', help: 'The live settings now in use', type: 'info', metrics: [{ labels: { read_policy: ctx.readPolicy, consistency: ctx.consistency, replicas: this.d.topo && !(this.d.topo instanceof StaticTopology) ? 'sentinel' : this.replicas.map(key).join(',') } }] },
    ];
  }

  close(): void {
    this.stopProbe();
  }
}

/**
 * Session consistency sends a read to the master while the replica lacks the client's write; `--read-policy replica`
 * forbids exactly that, so every such read would fail. The pair is refused rather than turned into errors.
 */
export function policyConflict(readPolicy: string, consistency: string): string | null {
  return consistency === 'session' && readPolicy === 'replica' ? 'session needs --read-policy prefer-replica or master (a read the replica has not caught up with goes to the master)' : null;
}
