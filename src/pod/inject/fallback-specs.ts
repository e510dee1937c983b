/**
 * @module Stand-in flag specs for components whose own `flags.ts` has not landed yet, spelled as their issues
 * define the interface. Replaced by the component's exported `spec` as soon as it exists (one source of truth).
 */
import { flag } from '../../core/config.js';

export const redisAmbassadorSpec = {
  listen: flag.hostport({ help: 'address the app connects to', default: { host: '127.0.0.1', port: 6379 } }),
  master: flag.hostport({ help: 'the write master' }),
  replica: flag.hostport({ help: 'a read replica', repeatable: true }),
  sentinel: flag.hostport({ help: 'a Sentinel to discover the master from', repeatable: true }),
  'master-name': flag.string({ help: 'the Sentinel master name' }),
  'read-policy': flag.enum({ help: 'where reads go', values: ['replica', 'prefer-replica', 'master'], default: 'prefer-replica' }),
  username: flag.string({ help: 'upstream ACL user' }),
  password: flag.string({ help: 'upstream password', secret: true }),
  'password-file': flag.string({ help: 'file holding the upstream password' }),
  'http-bind': flag.hostport({ help: 'bind address for /healthz, /readyz, /metrics' }),
};

export const metricsAdapterSpec = {
  config: flag.string({ help: 'adapter YAML config' }),
  'http-bind': flag.hostport({ help: 'bind address for /metrics' }),
  'statsd.listen-udp': flag.string({ help: 'StatsD UDP address' }),
  'statsd.listen-tcp': flag.string({ help: 'StatsD TCP address' }),
  'statsd.mapping-config': flag.string({ help: 'statsd_exporter mapping YAML' }),
};
