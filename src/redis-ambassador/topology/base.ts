/** @module What both topologies share: one probe per node, the snapshot built from probes, change/switch-master events, offset history. */
import { NodeProbe, type ProbeOptions } from './probe.js';
import {
  failoverLoss,
  historyOffset,
  key,
  masterState,
  replicaState,
  structuralKey,
  type ChangeListener,
  type NodeState,
  type ReplInfo,
  type SwitchListener,
  type Topology,
  type TopologyOptions,
  type TopologySnapshot,
} from './topology.js';

interface Addr {
  host: string;
  port: number;
}

type Snap = Omit<TopologySnapshot, 'epoch'>;

/** Master offset samples kept for read-your-writes (4 s at the default 250 ms poll). */
const OFFSET_HISTORY = 16;
/** Replication histories (replids) whose highest seen offset is kept for the failover loss estimate. */
const REPLIDS_KEPT = 8;

export abstract class ProbedTopology implements Topology {
  protected readonly probes = new Map<string, NodeProbe>();
  /** The master candidate (from flags or Sentinel); it is the master only once ROLE says so. */
  protected masterAddr: Addr | null = null;
  /** Replica candidates by key. */
  protected replicaAddrs = new Map<string, Addr>();
  protected closed = false;
  private readonly probeOpts: ProbeOptions;
  private readonly lagBounds: { maxLagSeconds: number; maxLagOffset: number };
  private readonly changeFns = new Set<ChangeListener>();
  private readonly switchFns = new Set<SwitchListener>();
  private epoch = 0;
  private lastKey = '';
  private lastMaster: NodeState | null = null;
  /** (sentAt, master_repl_offset) of recent master probes, oldest first. */
  private offsets: { at: number; offset: number; master: string }[] = [];
  /** Highest offset seen per replication id on any node (and the probe's send time), for the failover loss estimate. */
  private readonly seen = new Map<string, { offset: number; at: number }>();
  /** The confirmed master's last INFO replication (the history a switch away from it may cut short). */
  private masterInfo: ReplInfo | null = null;

  constructor(opts: TopologyOptions) {
    this.probeOpts = {
      pollMs: opts.pollMs ?? 250,
      unresponsiveMs: opts.unresponsiveMs ?? 700,
      connectTimeoutMs: opts.connectTimeoutMs ?? 1000,
      username: opts.username,
      password: opts.password,
    };
    this.lagBounds = { maxLagSeconds: opts.maxLagSeconds ?? 5, maxLagOffset: opts.maxLagOffset ?? 0 };
  }

  /** The probe for a node, created (and started) on first use. */
  protected probeFor(a: Addr): NodeProbe {
    const k = key(a);
    let p = this.probes.get(k);
    if (!p) {
      p = new NodeProbe(a.host, a.port, this.probeOpts, (x) => this.probed(x));
      this.probes.set(k, p);
      if (!this.closed) p.start();
    }
    return p;
  }

  /** Stop probing nodes that are neither the master candidate nor a replica candidate. */
  protected prune(): void {
    for (const [k, p] of this.probes) {
      if ((this.masterAddr && key(this.masterAddr) === k) || this.replicaAddrs.has(k)) continue;
      p.close();
      this.probes.delete(k);
    }
  }

  private probed(p: NodeProbe): void {
    if (this.closed) return;
    const m = this.masterAddr;
    const r = p.result;
    if (r.alive && r.info?.replid) {
      const off = historyOffset(r.info);
      const had = this.seen.get(r.info.replid);
      if (!had || off > had.offset) {
        this.seen.delete(r.info.replid); // re-insert: the Map's order is then least recently advanced first
        this.seen.set(r.info.replid, { offset: off, at: r.sentAt });
        if (this.seen.size > REPLIDS_KEPT) this.seen.delete(this.seen.keys().next().value as string);
      }
      const lm = this.lastMaster;
      if (lm && lm.host === p.host && lm.port === p.port && r.role?.role === 'master') this.masterInfo = r.info;
    }
    if (m && m.host === p.host && m.port === p.port && r.alive && r.info && r.role?.role === 'master') {
      const last = this.offsets[this.offsets.length - 1];
      if (!last || r.sentAt > last.at) {
        this.offsets.push({ at: r.sentAt, offset: r.info.masterOffset, master: key(m) });
        if (this.offsets.length > OFFSET_HISTORY) this.offsets.shift();
      }
    }
    this.update(`probe ${p.host}:${p.port}`);
  }

  /**
   * The state computed at the last probe answer or candidate change (node objects are shared: treat them as
   * read-only). Cached so the data path can call this, and caughtUp, per command without rebuilding anything.
   */
  current(): TopologySnapshot {
    return { ...this.snap, epoch: this.epoch };
  }
  private snap: Snap = { master: null, replicas: [], reason: 'starting' };

  /** Set by an implementation when it has no master candidate (e.g. no Sentinel knows the name). */
  protected noCandidate = 'no master candidate yet';

  private build(): Snap {
    const m = this.masterAddr;
    const mState = m ? masterState(m, this.probes.get(key(m))?.result) : null;
    const confirmed = mState?.healthy ? mState : null;
    const mp = confirmed && m ? { host: m.host, port: m.port, probe: this.probes.get(key(m))?.result } : null;
    const replicas: NodeState[] = [];
    for (const [k, a] of this.replicaAddrs) {
      if (m && key(m) === k) continue;
      replicas.push(replicaState(a, this.probes.get(k)?.result, mp, this.lagBounds));
    }
    if (confirmed) return { master: confirmed, replicas };
    const reason = m && mState ? `master candidate ${key(m)}: ${mState.reason ?? 'not confirmed'}` : this.noCandidate;
    return { master: null, replicas, reason };
  }

  /** Recompute; on a structural change bump the epoch and emit `change`, and `switch-master` when the confirmed master moved. */
  protected update(why: string): void {
    if (this.closed) return;
    const s = (this.snap = this.build());
    const k = structuralKey(s);
    if (k === this.lastKey) return;
    this.lastKey = k;
    this.epoch++;
    const snap = { ...s, epoch: this.epoch };
    const prev = this.lastMaster;
    if (s.master && (!prev || key(prev) !== key(s.master))) {
      this.lastMaster = s.master;
      const at = Date.now();
      // Not for the first confirmation: there is no earlier history to lose.
      const loss = prev ? failoverLoss(this.masterInfo, this.probes.get(key(s.master))?.result.info, this.seen, at) : undefined;
      this.masterInfo = this.probes.get(key(s.master))?.result.info ?? null;
      for (const fn of [...this.switchFns]) fn(prev, s.master, at, loss);
    }
    for (const fn of [...this.changeFns]) fn(snap, why);
  }

  on(event: 'change', fn: ChangeListener): () => void;
  on(event: 'switch-master', fn: SwitchListener): () => void;
  on(event: 'change' | 'switch-master', fn: ChangeListener | SwitchListener): () => void {
    const set = (event === 'change' ? this.changeFns : this.switchFns) as Set<typeof fn>;
    set.add(fn);
    return () => void set.delete(fn);
  }

  caughtUp(replica: Addr, since: number): boolean {
    const m = this.masterAddr;
    if (!m) return false;
    const mk = key(m);
    // The oldest master sample whose request left after `since`: its offset covers the write.
    const sample = this.offsets.find((o) => o.at > since && o.master === mk);
    if (!sample) return false;
    const st = this.snap.replicas.find((r) => r.host === replica.host && r.port === replica.port);
    return !!st && st.healthy && (st.ackOffset ?? -1) >= sample.offset;
  }

  /** Probe every connected node now (a dead one is watched by its own reconnects; waiting for it would stall re-checks). */
  protected async probeAll(): Promise<void> {
    await Promise.all([...this.probes.values()].filter((p) => p.connected).map((p) => p.probe()));
  }

  abstract recheck(): Promise<void>;

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.probes.values()) p.close();
    this.probes.clear();
    this.changeFns.clear();
    this.switchFns.clear();
  }
}
