/** @module StaticTopology: the `--master`/`--replica` lists, every node still ROLE-confirmed and health-probed. */
import type { HostPort } from '../../core/parse.js';
import { ProbedTopology } from './base.js';
import { key, type TopologyOptions } from './topology.js';

/**
 * The configured master is the master only while ROLE says so (a demoted one gives `master: null`, so writes
 * wait rather than meet -READONLY); a static topology never promotes anything on its own.
 */
export class StaticTopology extends ProbedTopology {
  constructor(master: HostPort, replicas: HostPort[], opts: TopologyOptions = {}) {
    super(opts);
    this.masterAddr = { host: master.host, port: master.port };
    this.probeFor(this.masterAddr);
    for (const r of replicas) {
      const a = { host: r.host, port: r.port };
      this.replicaAddrs.set(key(a), a);
      this.probeFor(a);
    }
  }

  /** Replace the replica list (SIGHUP reload); the master stays. */
  setReplicas(replicas: HostPort[]): void {
    this.replicaAddrs = new Map(replicas.map((r) => [key(r), { host: r.host, port: r.port }]));
    for (const a of this.replicaAddrs.values()) this.probeFor(a);
    this.prune();
    this.update('replica list changed');
  }

  async recheck(): Promise<void> {
    await this.probeAll();
  }
}
