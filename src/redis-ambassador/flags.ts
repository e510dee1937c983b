/** @module The `podkit redis-ambassador` flag spec (also read by `podkit inject` to map annotations to flags). */
import { flag, withEnvPrefix } from '../core/config.js';
import { logFormatFlag } from '../cli/run.js';
import { topologySpec } from './topology/flags.js';

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
  'max-pending': flag.int({ help: 'Replies a client may owe before its reading pauses', default: 1024, check: (n) => (n >= 1 ? undefined : 'must be at least 1') }),
  'connect-timeout': flag.duration({ help: 'Upstream connect timeout', default: 2000 }),
  ...topologySpec,
  verbose: flag.int({ help: 'Log verbosity (0 info, 1+ debug)', short: 'v', default: 0 }),
  'log-format': logFormatFlag,
};
export const spec = withEnvPrefix('PODKIT_REDIS_AMBASSADOR_', flags);
