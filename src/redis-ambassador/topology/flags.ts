/** @module The Sentinel/health/consistency flags of `podkit redis-ambassador`, a spec fragment merged into the ambassador's flags.ts at integration. */
import { flag } from '../../core/config.js';
import { UsageError } from '../../core/errors.js';

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

export type ModeFlag = 'master' | 'replica' | 'sentinel' | 'master-name';

/**
 * The one statement of the mode rule: `--sentinel` (with `--master-name`) or `--master` [+ `--replica`], never both.
 * `given(flag)` says whether a flag was set; the answer is the flag at fault and why, or undefined. The CLI turns it
 * into a usage error, `topologyFromFlags` into the same, `podkit inject` into an error naming the annotation.
 */
export function modeProblem(given: (flag: ModeFlag) => boolean): { flag: ModeFlag; message: string } | undefined {
  const sentinel = given('sentinel');
  if (sentinel && (given('master') || given('replica'))) return { flag: 'sentinel', message: 'give either --sentinel (with --master-name) or --master/--replica, not both' };
  if (!sentinel && !given('master')) return { flag: 'master', message: 'required (HOST:PORT of the write master), or --sentinel HOST:PORT with --master-name' };
  if (sentinel && !given('master-name')) return { flag: 'master-name', message: 'required with --sentinel' };
  if (!sentinel && given('master-name')) return { flag: 'master-name', message: 'only with --sentinel' };
  return undefined;
}

/** The mode rule over parsed flag values; throws the usage error (exit 2) naming the flag. */
export function checkMode(v: { master?: unknown; replica: readonly unknown[]; sentinel: readonly unknown[]; 'master-name'?: string }): void {
  const p = modeProblem((f) => (f === 'replica' || f === 'sentinel' ? v[f].length > 0 : Boolean(v[f])));
  if (p) throw new UsageError(`flag --${p.flag}: ${p.message}`);
}
