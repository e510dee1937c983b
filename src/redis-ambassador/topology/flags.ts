/** @module The Sentinel/health/consistency flags of `podkit redis-ambassador`, a spec fragment merged into the ambassador's flags.ts at integration. */
import { flag } from '../../core/config.js';

export const topologySpec = {
  sentinel: flag.hostport({ help: 'A Sentinel to discover the master from (repeatable; instead of --master/--replica)', repeatable: true, metavar: 'HOST:PORT' }),
  'master-name': flag.string({ help: 'The master name the Sentinels monitor (required with --sentinel)', metavar: 'NAME' }),
  'sentinel-password-file': flag.string({ help: 'File holding the Sentinels\' own password (never pass a password in argv)', metavar: 'PATH' }),
  'max-lag': flag.duration({
    help: 'A replica whose last replication ACK is older than this leaves rotation (whole seconds; bare number = seconds)',
    default: 5000,
    check: (ms) => (ms >= 1000 ? undefined : 'must be at least 1s (Redis reports replica lag in whole seconds)'),
  }),
  'max-lag-offset': flag.int({
    help: 'A replica this many replication-stream bytes behind the master leaves rotation (0 = no bound)',
    default: 0,
    check: (n) => (n >= 0 ? undefined : 'must be 0 or more'),
  }),
  consistency: flag.enum({
    help: 'eventual: reads may lag writes; session: after a client writes, its reads go to the master until a replica has caught up',
    values: ['eventual', 'session'],
    default: 'eventual',
  }),
};
