/** @module Ambassador events on node:diagnostics_channel, and the self-metrics that subscribe to them. */
import { CHANNELS, onChannel, podkitChannel } from '../core/diagnostics.js';
import { Registry, type Metric, type MetricFamily } from '../core/metrics/index.js';
import { ROUTES, UNKNOWN, type CommandInfo, type CommandTable } from './resp/commands.js';
import type { Traffic } from './upstream.js';
import { settleDirect } from './io/conn.js';

/**
 * Every event names the ambassador it comes from (`source`, one object per `start()`): the channels are
 * process-wide, and an ambassador's metrics count only its own events.
 */
interface Sourced {
  source: object;
}

/** One routed command. The event object is reused: read it inside the subscriber, do not keep it. */
export interface RouteEvent extends Sourced {
  info: CommandInfo;
  /** Index into ROUTES. */
  route: number;
}
export interface ConnectionEvent extends Sourced {
  kind: 'client' | 'upstream';
  event: 'open' | 'close';
  /** For upstreams: "master" or "replica:HOST:PORT". */
  node?: string;
  reason?: string;
}
export interface ErrorEvent extends Sourced {
  kind: string;
}

export const routeChannel = podkitChannel(CHANNELS.ambassadorRoute);
export const connectionChannel = podkitChannel(CHANNELS.ambassadorConnection);
export const errorChannel = podkitChannel(CHANNELS.ambassadorError);
export const latencyChannel = podkitChannel(CHANNELS.ambassadorLatency);

/** Latency events carry route and seconds; reused like RouteEvent. */
export interface LatencyEvent extends Sourced {
  route: number;
  seconds: number;
}

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Self-metrics: subscribes to the ambassador's channels; `collect()` feeds /metrics. */
export class AmbassadorMetrics {
  readonly registry = new Registry();
  private readonly unsub: (() => void)[] = [];

  constructor(source: object, traffic: Traffic, table: () => CommandTable, upstreamsUp: () => { node: string; up: boolean }[]) {
    const r = this.registry;
    const latency = r.histogram({ name: 'podkit_ambassador_command_duration_seconds', help: 'Time from a command being read to its reply, by route', labelNames: ['route'], buckets: LATENCY_BUCKETS });
    const byRoute = ROUTES.map((route) => latency.labels({ route }));
    const conns = r.gauge({ name: 'podkit_ambassador_connections', help: 'Open connections by kind (client, upstream)', labelNames: ['kind'] });
    const opened = r.counter({ name: 'podkit_ambassador_connections_opened_total', help: 'Connections opened by kind', labelNames: ['kind'] });
    const errors = r.counter({ name: 'podkit_ambassador_errors_total', help: 'Errors by kind (protocol, noauth, upstream_lost, upstream_protocol, upstream_unavailable, upstream_internal, …)', labelNames: ['kind'] });

    // Each ambassador has its own command table (and its counts); commands in none share UNKNOWN, counted here.
    const unknown = ROUTES.map(() => 0);
    const onRoute = (m: unknown) => {
      const e = m as RouteEvent;
      if (e.source !== source) return;
      if (e.info === UNKNOWN) unknown[e.route]++;
      else e.info.counts[e.route]++;
    };
    const onLatency = (m: unknown) => {
      const e = m as LatencyEvent;
      if (e.source === source) byRoute[e.route].observe(e.seconds);
    };
    const onConn = (m: unknown) => {
      const e = m as ConnectionEvent;
      if (e.source !== source) return;
      if (e.event === 'open') {
        conns.labels({ kind: e.kind }).inc();
        opened.labels({ kind: e.kind }).inc();
      } else conns.labels({ kind: e.kind }).dec();
    };
    const onError = (m: unknown) => {
      const e = m as ErrorEvent;
      if (e.source === source) errors.labels({ kind: e.kind }).inc();
    };
    this.unsub.push(
      onChannel(CHANNELS.ambassadorRoute, onRoute),
      onChannel(CHANNELS.ambassadorLatency, onLatency),
      onChannel(CHANNELS.ambassadorConnection, onConn),
      onChannel(CHANNELS.ambassadorError, onError),
    );

    r.addCollector(() => {
      const series: Metric[] = [];
      for (const i of table().all()) for (let k = 0; k < ROUTES.length; k++) if (i.counts[k] > 0) series.push({ labels: { command: i.name, route: ROUTES[k] }, value: i.counts[k] });
      for (let k = 0; k < ROUTES.length; k++) if (unknown[k] > 0) series.push({ labels: { command: UNKNOWN.name, route: ROUTES[k] }, value: unknown[k] });
      const cmds: MetricFamily = { name: 'podkit_ambassador_commands_total', help: 'Commands by name and route (master, replica, local, dedicated)', type: 'counter', metrics: series };
      const bytes: MetricFamily = {
        name: 'podkit_ambassador_bytes_total',
        help: 'Bytes by direction',
        type: 'counter',
        metrics: [
          { labels: { direction: 'client_in' }, value: traffic.clientIn },
          { labels: { direction: 'client_out' }, value: traffic.clientOut },
          { labels: { direction: 'upstream_in' }, value: traffic.upstreamIn },
          { labels: { direction: 'upstream_out' }, value: traffic.upstreamOut },
        ],
      };
      const up: MetricFamily = { name: 'podkit_ambassador_upstream_up', help: 'Whether the ambassador is connected to each node', type: 'gauge', metrics: upstreamsUp().map((u) => ({ labels: { node: u.node }, value: u.up ? 1 : 0 })) };
      return [cmds, bytes, up];
    });
  }

  collect(): MetricFamily[] {
    settleDirect();
    return this.registry.collect();
  }

  close(): void {
    for (const u of this.unsub) u();
  }
}
