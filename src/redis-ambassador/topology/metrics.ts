/** @module Topology self-metrics: current master, replicas in rotation, lag per replica, failovers seen — a collector for the ambassador's Registry. */
import type { MetricFamily } from '../../core/metrics/model.js';
import { key, type Topology } from './topology.js';

/**
 * Counts failovers and topology changes from the topology's own events and reads the rest live at collect time.
 * Wire it with `registry.addCollector(() => m.collect())`; `close()` unsubscribes.
 */
export class TopologyMetrics {
  private failovers = 0;
  private changes = 0;
  /** Sum of the lower-bound loss estimates over every switch, and the last one (null: unknown or none yet). */
  private unreplicated = 0;
  private lastUnreplicated: number | null = null;
  private readonly offs: (() => void)[];

  constructor(private readonly topo: Topology) {
    this.offs = [
      topo.on('switch-master', (from, _to, _at, loss) => {
        if (!from) return; // the first confirmation at start (from null) is not a failover
        this.failovers++;
        this.lastUnreplicated = loss?.unreplicatedBytes ?? null;
        this.unreplicated += loss?.unreplicatedBytes ?? 0;
      }),
      topo.on('change', () => this.changes++),
    ];
  }

  collect(): MetricFamily[] {
    const s = this.topo.current();
    const mOff = s.master?.ackOffset;
    const reps = s.replicas;
    return [
      {
        name: 'podkit_ambassador_master_info',
        help: 'The ROLE-confirmed master now in use (absent while none is confirmed)',
        type: 'info',
        metrics: s.master ? [{ labels: { address: key(s.master) } }] : [],
      },
      { name: 'podkit_ambassador_replicas_in_rotation', help: 'Replicas healthy enough to serve reads', type: 'gauge', metrics: [{ labels: {}, value: reps.filter((r) => r.healthy).length }] },
      { name: 'podkit_ambassador_replica_healthy', help: 'Replica in rotation (1) or out (0)', type: 'gauge', metrics: reps.map((r) => ({ labels: { address: key(r) }, value: r.healthy ? 1 : 0 })) },
      {
        name: 'podkit_ambassador_replica_lag_seconds',
        help: "Seconds since the master last heard the replica's replication ACK",
        type: 'gauge',
        unit: 'seconds',
        metrics: reps.filter((r) => r.lagSeconds !== undefined).map((r) => ({ labels: { address: key(r) }, value: r.lagSeconds as number })),
      },
      {
        name: 'podkit_ambassador_replica_lag_bytes',
        help: "Master replication offset minus the replica's applied offset (sampled every poll)",
        type: 'gauge',
        unit: 'bytes',
        metrics: mOff === undefined ? [] : reps.filter((r) => r.ackOffset !== undefined).map((r) => ({ labels: { address: key(r) }, value: Math.max(0, mOff - (r.ackOffset as number)) })),
      },
      { name: 'podkit_ambassador_failovers_total', help: 'Master switches seen (Sentinel failovers)', type: 'counter', metrics: [{ labels: {}, value: this.failovers }] },
      {
        name: 'podkit_ambassador_failover_unreplicated_bytes_total',
        help: "Lower bound of replication-stream bytes the old master held (as last seen on any node) beyond where the promoted replica's copy ended, summed over failovers",
        type: 'counter',
        unit: 'bytes',
        metrics: [{ labels: {}, value: this.unreplicated }],
      },
      {
        name: 'podkit_ambassador_failover_last_unreplicated_bytes',
        help: 'The same estimate for the last failover (absent when unknown: the new master did not continue the old history)',
        type: 'gauge',
        unit: 'bytes',
        metrics: this.lastUnreplicated === null ? [] : [{ labels: {}, value: this.lastUnreplicated }],
      },
      { name: 'podkit_ambassador_topology_changes_total', help: 'Topology changes (master, replica set, or a node in/out of rotation)', type: 'counter', metrics: [{ labels: {}, value: this.changes }] },
      { name: 'podkit_ambassador_topology_epoch', help: 'Topology epoch (bumps on every change)', type: 'gauge', metrics: [{ labels: {}, value: s.epoch }] },
    ];
  }

  close(): void {
    for (const off of this.offs) off();
  }
}
