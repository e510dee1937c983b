/** @module What one ambassador publishes about its upstreams and sessions: channel events (metrics.ts subscribes) and log lines. */
import type { Logger } from '../core/log.js';
import { UNKNOWN, type CommandInfo } from './resp/commands.js';
import { OWN_CLOSES, type UpstreamEvents } from './upstream.js';
import { connectionChannel, errorChannel, latencyChannel, routeChannel, type LatencyEvent, type RouteEvent } from './metrics.js';
import type { ProxyContext } from './context.js';

/** The upstream callbacks of ambassador `origin`; once `closing()` is true, closes and refusals are its own and not warned about. */
export function upstreamEvents(origin: object, log: Logger, closing: () => boolean, expressInfo: (cmd: number) => CommandInfo): UpstreamEvents {
  const latencyEv: LatencyEvent = { source: origin, route: 0, seconds: 0 };
  const routeEv: RouteEvent = { source: origin, info: UNKNOWN, route: 0 };
  return {
    ready: (u) => {
      connectionChannel.publish({ source: origin, kind: 'upstream', event: 'open', node: u.node.label });
      log.debug('upstream connected', { node: u.node.label, db: u.db, proto: u.proto });
    },
    closed: (u, why) => {
      if (!u.established) return;
      connectionChannel.publish({ source: origin, kind: 'upstream', event: 'close', node: u.node.label, reason: why });
      if (!closing() && !OWN_CLOSES.has(why)) {
        errorChannel.publish({ source: origin, kind: 'upstream_lost' });
        // A reply that cannot be right (out of step, with nothing in flight, unparsable): worth its own count, since
        // it means a node (or something between) is not speaking Redis's protocol in order.
        if (why.startsWith('protocol error') || why.startsWith('bad reply')) errorChannel.publish({ source: origin, kind: 'upstream_protocol' });
        log.warn('upstream connection lost', { node: u.node.label, reason: why });
      }
    },
    nodeState: (node, up, reason) => {
      if (closing()) return;
      if (up) log.info('upstream usable', { node: node.label, address: `${node.host}:${node.port}` });
      else {
        errorChannel.publish({ source: origin, kind: 'upstream_refused' });
        log.warn('upstream not usable; retrying with backoff', { node: node.label, address: `${node.host}:${node.port}`, reason });
      }
    },
    latency: (route, seconds) => {
      if (!latencyChannel.hasSubscribers) return;
      latencyEv.route = route;
      latencyEv.seconds = seconds;
      latencyChannel.publish(latencyEv);
    },
    express(cmd, route, seconds) {
      if (routeChannel.hasSubscribers) {
        routeEv.info = expressInfo(cmd);
        routeEv.route = route;
        routeChannel.publish(routeEv);
      }
      this.latency(route, seconds);
    },
    internalError: (u, reply) => {
      errorChannel.publish({ source: origin, kind: 'upstream_internal' });
      log.warn('upstream refused a setup command', { node: u.node.label, reply });
    },
  };
}

/** The session callbacks of ambassador `origin` that publish: routed commands (one reused event), errors, client closes. */
export function sessionEvents(origin: object, firstInfo: CommandInfo, forget: (c: Parameters<ProxyContext['clientClosed']>[0]) => void): Pick<ProxyContext, 'routed' | 'error' | 'clientClosed'> {
  const routeEv: RouteEvent = { source: origin, info: firstInfo, route: 0 };
  return {
    routed(info, route) {
      if (!routeChannel.hasSubscribers) return;
      routeEv.info = info;
      routeEv.route = route;
      routeChannel.publish(routeEv);
    },
    error: (kind) => errorChannel.publish({ source: origin, kind }),
    clientClosed(c) {
      forget(c);
      connectionChannel.publish({ source: origin, kind: 'client', event: 'close' });
    },
  };
}
