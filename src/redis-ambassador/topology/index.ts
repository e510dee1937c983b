/** @module The ambassador's topology layer: who is master, which replicas may serve reads (static lists or Sentinel). */
import { readSecretFile } from '../../core/secret-file.js';
import type { HostPort } from '../../core/parse.js';
import { checkMode } from './flags.js';
import { SentinelTopology, type SentinelOptions } from './sentinel.js';
import { StaticTopology } from './static.js';
import type { Topology } from './topology.js';

export * from './topology.js';
export { StaticTopology } from './static.js';
export { SentinelTopology, type SentinelOptions } from './sentinel.js';
export { topologySpec, checkMode, modeProblem } from './flags.js';

export interface TopologyFlags {
  master?: HostPort;
  replica: HostPort[];
  sentinel: HostPort[];
  'master-name'?: string;
  'sentinel-password-file'?: string;
  /** ms */
  'max-lag': number;
  'max-lag-offset': number;
}

/** Build the topology the flags describe: `--sentinel` + `--master-name`, or `--master` [+ `--replica`], never both. */
export function topologyFromFlags(f: TopologyFlags, auth: { username?: string; password?: string } = {}, extra: SentinelOptions = {}): Topology {
  const common = { ...extra, ...auth, maxLagSeconds: Math.floor(f['max-lag'] / 1000), maxLagOffset: f['max-lag-offset'] };
  checkMode(f);
  if (f.sentinel.length > 0) {
    const sentinelPassword = f['sentinel-password-file'] ? readSecretFile(f['sentinel-password-file'], 'sentinel-password-file') : undefined;
    return new SentinelTopology(f.sentinel, f['master-name']!, { ...common, sentinelPassword });
  }
  return new StaticTopology(f.master!, f.replica, common);
}
export { TopologyMetrics } from './metrics.js';
