/** @module The `podkit redis-ambassador` flag spec (also read by `podkit inject` to map annotations to flags). */
import { readFileSync } from 'node:fs';
import { singleDocument } from '../core/yaml.js';
import { flag, withEnvPrefix } from '../core/config.js';
import { ConfigError } from '../core/errors.js';
import { logFormatFlag } from '../core/command.js';
import { topologySpec } from './topology/flags.js';

/** The --sentinel / --master rule, also applied by `podkit inject` to the annotations. */
export { modeProblem } from './topology/flags.js';

/** Every flag also reads PODKIT_REDIS_AMBASSADOR_<FLAG> (replicas: PODKIT_REDIS_AMBASSADOR_REPLICAS, comma-separated). */
const flags = {
  listen: flag.hostport({ help: 'Address clients connect to (loopback by default)', default: { host: '127.0.0.1', port: 6379 }, metavar: 'HOST:PORT' }),
  master: flag.hostport({ help: 'The write master (static mode; or use --sentinel)', metavar: 'HOST:PORT' }),
  replica: flag.hostport({ help: 'A read replica (repeatable)', repeatable: true, metavar: 'HOST:PORT', env: ['PODKIT_REDIS_AMBASSADOR_REPLICAS'] }),
  'read-policy': flag.enum({
    help: 'Where reads go: replica (replicas only), prefer-replica (replicas, else the master), master',
    values: ['replica', 'prefer-replica', 'master'],
    default: 'prefer-replica',
  }),
  'http-bind': flag.hostport({ help: 'Address for /healthz, /readyz and /metrics', default: { host: '127.0.0.1', port: 9121 }, metavar: 'HOST:PORT' }),
  username: flag.string({ help: 'Upstream ACL username (default: plain AUTH with the password)' }),
  'password-file': flag.string({ help: 'File holding the upstream password (never pass a password in argv)', metavar: 'PATH' }),
  'client-password-file': flag.string({ help: 'File holding the password clients must AUTH with (default: clients need no AUTH)', metavar: 'PATH' }),
  'client-username': flag.string({ help: 'Username accepted with the client password', default: 'default' }),
  'pool-size': flag.int({ help: 'Shared pipelined connections per node and (db, protocol)', default: 1, check: (n) => (n >= 1 && n <= 64 ? undefined : 'must be 1..64') }),
  'max-bulk': flag.string({ help: 'Largest bulk string accepted (e.g. 512mb)', default: '512mb', metavar: 'BYTES' }),
  'client-output-limit': flag.string({ help: "Replies waiting for one client that does not read them, past which the ambassador closes it (Redis's client-output-buffer-limit hard limit); 0 = no limit. At least twice --max-bulk", default: '1gb', metavar: 'BYTES' }),
  'max-clients': flag.int({ help: "Clients connected at once, as Redis's maxclients: one more is told -ERR max number of clients reached and closed (lowered to the open-file limit less 32, as Redis lowers it)", default: 10000, check: (n) => (n >= 1 ? undefined : 'must be at least 1') }),
  'max-pending': flag.int({ help: 'Replies a client may owe before its reading pauses', default: 1024, check: (n) => (n >= 1 ? undefined : 'must be at least 1') }),
  'connect-timeout': flag.duration({ help: 'Upstream connect timeout', default: 2000 }),
  'reply-guard': flag.enum({
    help: 'On a shared upstream connection, end each write holding several clients’ commands with a PING check and hold its replies until it is answered in place, so a node’s extra reply closes the connection instead of shifting replies between clients',
    values: ['on', 'off'],
    default: 'on',
  }),
  'sched-policy': flag.enum({
    help: "The event loop thread's Linux scheduling policy: normal (as started: SCHED_OTHER unless its launcher chose another), or batch (SCHED_BATCH: the same CPU share, but its wake-ups do not preempt the task on the core — more throughput beside an app that waits on its replies, and up to a scheduler tick of delay per reply while another task keeps the core busy)",
    values: ['normal', 'batch'],
    default: 'normal',
  }),
  ...topologySpec,
  config: flag.string({ help: 'YAML file of settings keyed by flag name (replica: [HOST:PORT, …], read-policy: …); re-read on SIGHUP', metavar: 'PATH' }),
  verbose: flag.int({ help: 'Log verbosity (0 info, 1+ debug)', short: 'v', default: 0 }),
  'log-format': logFormatFlag,
};
export const spec = withEnvPrefix('PODKIT_REDIS_AMBASSADOR_', flags);

/** Settings a SIGHUP reload applies live (everything else needs a restart). */
export const LIVE_FLAGS: ReadonlySet<string> = new Set(['replica', 'read-policy', 'consistency', 'config']);

/** The `--config` file: a YAML mapping from flag names to values (a list for a repeatable flag); read again on SIGHUP. */
export function readConfigFile(path: string): { values: Record<string, unknown>; source: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('config', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // YAML 1.2's scalars (`reply-guard: on` stays "on"); the shared reader bounds nesting and aliases.
  const read = singleDocument(text, {}, false);
  if (read.reason !== undefined) throw new ConfigError('config', `${path}: invalid YAML${read.where}: ${read.reason}`);
  const doc = read.value;
  if (doc === null || doc === undefined) return { values: {}, source: path };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('config', `${path}: expected a mapping of flag names to values`);
  const values = doc as Record<string, unknown>;
  if ('config' in values) throw new ConfigError('config', `${path}: a config file cannot name another config file`);
  for (const [k, x] of Object.entries(values)) {
    const items = Array.isArray(x) ? x : [x];
    if (items.some((i) => i === null || typeof i === 'object')) throw new ConfigError('config', `${path}: ${k}: expected a value or a list of values`);
  }
  return { values, source: path };
}
