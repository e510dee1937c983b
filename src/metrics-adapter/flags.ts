/** @module The `podkit metrics-adapter` flag spec, with statsd_exporter's `--statsd.*` spellings. */
import { flag } from '../core/config.js';
import { logFormatFlag } from '../core/command.js';

const env = (name: string) => [`PODKIT_METRICS_ADAPTER_${name}`];

/** Every flag; keys are the canonical long names (`podkit inject` maps annotations to them). */
export const spec = {
  config: flag.string({ help: 'the adapter YAML (statsd, limits, sources, outputs); re-read on SIGHUP and POST /-/reload', env: env('CONFIG'), metavar: 'PATH' }),
  'http-bind': flag.hostport({
    help: 'bind address for /metrics, /healthz, /readyz and POST /-/reload (loopback by default; use 0.0.0.0:9102 in a pod)',
    env: env('HTTP_BIND'),
    aliases: ['web.listen-address'],
    default: { host: '127.0.0.1', port: 9102 },
  }),
  'statsd.listen-udp': flag.string({ help: 'StatsD UDP address ("" disables; default from config, else 127.0.0.1:9125)', env: env('STATSD_LISTEN_UDP'), metavar: 'HOST:PORT' }),
  'statsd.listen-tcp': flag.string({ help: 'StatsD TCP address ("" disables; default from config, else 127.0.0.1:9125)', env: env('STATSD_LISTEN_TCP'), metavar: 'HOST:PORT' }),
  'statsd.listen-unixgram': flag.string({ help: 'StatsD unix datagram socket path (needs the unix-dgram native module)', env: env('STATSD_LISTEN_UNIXGRAM'), metavar: 'PATH' }),
  'statsd.mapping-config': flag.string({ help: "a statsd_exporter mapping YAML, accepted unchanged (overrides the config's statsd section)", env: env('STATSD_MAPPING_CONFIG'), metavar: 'PATH' }),
  'statsd.read-buffer': flag.int({ help: 'UDP receive buffer (SO_RCVBUF) in bytes; 0 = system default', env: env('STATSD_READ_BUFFER'), check: (v) => (v < 0 ? 'must be >= 0' : undefined) }),
  'statsd.parse-dogstatsd-tags': flag.bool({ help: 'parse DogStatsD tags (|#k:v); overrides statsd.tags.dogstatsd', env: env('STATSD_PARSE_DOGSTATSD_TAGS') }),
  'statsd.parse-influxdb-tags': flag.bool({ help: 'parse InfluxDB tags (name,k=v); overrides statsd.tags.influxdb', env: env('STATSD_PARSE_INFLUXDB_TAGS') }),
  'statsd.parse-librato-tags': flag.bool({ help: 'parse Librato tags (name#k=v); overrides statsd.tags.librato', env: env('STATSD_PARSE_LIBRATO_TAGS') }),
  'statsd.parse-signalfx-tags': flag.bool({ help: 'parse SignalFX tags (name[k=v]); overrides statsd.tags.signalfx', env: env('STATSD_PARSE_SIGNALFX_TAGS') }),
  'statsd.counters-always-total': flag.bool({
    help: 'name every StatsD counter <name>_total, also in the 0.0.4 text (default: names as statsd_exporter exposes them); overrides statsd.counters_always_total',
    env: env('STATSD_COUNTERS_ALWAYS_TOTAL'),
  }),
  'web.telemetry-path': flag.string({ help: 'path of the metrics endpoint', env: env('TELEMETRY_PATH'), default: '/metrics' }),
  // statsd_exporter tuning flags with no equivalent here (no event queue, a fixed bounded mapping cache): accepted so
  // existing command lines keep working, and ignored.
  'statsd.cache-size': flag.int({ help: 'accepted for statsd_exporter compatibility; ignored', env: [], hidden: true }),
  'statsd.cache-type': flag.string({ help: 'accepted for statsd_exporter compatibility; ignored', env: [], hidden: true }),
  'statsd.event-queue-size': flag.int({ help: 'accepted for statsd_exporter compatibility; ignored', env: [], hidden: true }),
  'statsd.event-flush-threshold': flag.int({ help: 'accepted for statsd_exporter compatibility; ignored', env: [], hidden: true }),
  'statsd.event-flush-interval': flag.duration({ help: 'accepted for statsd_exporter compatibility; ignored', env: [], hidden: true }),
  'check-config': flag.bool({ help: 'validate the config (and mapping) and exit: 0 if good, 2 with the YAML path if not', env: [], default: false }),
  verbose: flag.int({ help: 'log verbosity: 0 info, 1-4 debug, 5+ trace', short: 'v', env: env('VERBOSE'), default: 0 }),
  'log-format': logFormatFlag,
};

export type Spec = typeof spec;
