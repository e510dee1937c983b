/** @module The runner's /metrics: readiness, restarts and state from the live status at scrape time; lifecycle events from the pod channel. */
import { Registry, type MetricFamily } from '../../core/metrics/index.js';
import { CHANNELS, onChannel } from '../../core/diagnostics.js';
import type { PodStatus } from '../runtime/pod.js';

/**
 * Families for /metrics: the gauges are read from the live status at each scrape (pods that are gone drop out); the
 * event counter subscribes to the pod channel for as long as the runner (the process) lives.
 */
export function podMetrics(status: () => PodStatus[]): () => MetricFamily[] {
  const events = new Registry();
  const counted = events.counter({ name: 'podkit_pod_events_total', help: 'Pod lifecycle events (start, exit, ready, backoff, kill, …) by pod and event', labelNames: ['pod', 'event'] });
  onChannel(CHANNELS.podEvent, (m) => {
    const e = m as { pod: string; event: string };
    counted.inc({ pod: e.pod, event: e.event });
  });
  const reg = new Registry();
  const podReady = reg.gauge({ name: 'podkit_pod_ready', help: '1 when every container of the pod is Ready', labelNames: ['namespace', 'pod'] });
  const ready = reg.gauge({ name: 'podkit_container_ready', help: '1 when the container is Ready', labelNames: ['pod', 'container'] });
  const restarts = reg.gauge({ name: 'podkit_container_restarts', help: 'Times the container was restarted', labelNames: ['pod', 'container'] });
  const running = reg.gauge({ name: 'podkit_container_running', help: '1 when the container process is running', labelNames: ['pod', 'container'] });
  return () => {
    for (const g of [podReady, ready, restarts, running]) g.remove();
    for (const p of status()) {
      podReady.set({ namespace: p.namespace, pod: p.name }, p.ready ? 1 : 0);
      for (const c of p.containers) {
        const l = { pod: p.name, container: c.name };
        ready.set(l, c.ready ? 1 : 0);
        restarts.set(l, c.restarts);
        running.set(l, c.state === 'running' ? 1 : 0);
      }
    }
    return [...reg.collect(), ...events.collect()];
  };
}
