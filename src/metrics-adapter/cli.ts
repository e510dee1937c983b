/** @module `podkit metrics-adapter` command line: flags → start() → run until SIGTERM; SIGHUP reloads. */
import { commandLogger, runCommand } from '../core/command.js';
import { runUntilSignal } from '../core/lifecycle.js';
import { loadConfig, type ConfigOverrides } from './config.js';
import { spec } from './flags.js';
import { start } from './index.js';
import { sourceFactories } from './sources/index.js';

const SUMMARY = `Receive StatsD (UDP/TCP, DogStatsD/InfluxDB/Librato/SignalFX tags, statsd_exporter mapping YAML) and collect app
sources (Redis INFO, nginx stub_status, JSON, Prometheus re-export, Jolokia/JMX); serve one normalized /metrics in
Prometheus text or OpenMetrics, and optionally push OTLP. See docs/metrics-adapter.md for the config reference.`;

export async function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit metrics-adapter',
      usage: 'podkit metrics-adapter [--config adapter.yaml] [--http-bind 0.0.0.0:9102] [--statsd.listen-udp :9125] [flags]',
      summary: SUMMARY,
      spec,
      epilog: 'Signals: SIGHUP (or POST /-/reload) re-reads the config; a bad config keeps the running one. SIGTERM stops.',
      async main({ values: v }) {
        const log = commandLogger('metrics-adapter', v);
        const overrides: ConfigOverrides = {
          listenUdp: v['statsd.listen-udp'],
          listenTcp: v['statsd.listen-tcp'],
          listenUnixgram: v['statsd.listen-unixgram'],
          mappingConfig: v['statsd.mapping-config'],
          readBuffer: v['statsd.read-buffer'],
          alwaysTotal: v['statsd.counters-always-total'],
          tags: {
            dogstatsd: v['statsd.parse-dogstatsd-tags'],
            influxdb: v['statsd.parse-influxdb-tags'],
            librato: v['statsd.parse-librato-tags'],
            signalfx: v['statsd.parse-signalfx-tags'],
          },
        };
        if (v['check-config']) {
          await loadConfig({ file: v.config, overrides, factories: sourceFactories });
          process.stdout.write('config ok\n');
          return 0;
        }
        const handle = await start({ config: v.config, overrides, httpBind: v['http-bind'], metricsPath: v['web.telemetry-path'], log });
        process.stdout.write(`metrics-adapter listening on http ${handle.httpAddress.host}:${handle.httpAddress.port}` + (handle.statsd.udp ? ` statsd udp ${handle.statsd.udp.host}:${handle.statsd.udp.port}` : '') + (handle.statsd.tcp ? ` tcp ${handle.statsd.tcp.host}:${handle.statsd.tcp.port}` : '') + '\n');
        await runUntilSignal(handle, { log });
        return 0;
      },
    },
    argv,
  );
}
