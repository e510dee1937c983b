/**
 * @module Every node:diagnostics_channel podkit publishes on, named in one table: components publish events, their
 * self-metrics subscribe (so a component never counts into another's registry, and a channel without a reader shows).
 */
import { channel, type Channel } from 'node:diagnostics_channel';

/**
 * The channels. Each has a publisher in its component and a subscriber that turns it into metrics (a test checks
 * both). Events that carry `source` name the instance they come from, since a channel is process-wide.
 */
export const CHANNELS = {
  /** One routed command `{source, info, route}` (a reused object: read it inside the subscriber). */
  ambassadorRoute: 'podkit:ambassador:route',
  /** A client or upstream connection opened or closed `{source, kind, event, node?, reason?}`. */
  ambassadorConnection: 'podkit:ambassador:connection',
  /** An error by kind `{source, kind}`. */
  ambassadorError: 'podkit:ambassador:error',
  /** A command's time to its reply `{source, route, seconds}` (reused like the route event). */
  ambassadorLatency: 'podkit:ambassador:latency',
  /** A git-sync sync finished `{source, status: 'success' | 'noop' | 'error', seconds, changed, failures, hash?, ref?}`. */
  gitSyncSync: 'podkit:git-sync:sync',
  /** git-sync's link moved to a new tree `{source, atMs, visible?: {trigger, seconds}}` (trigger or commit time to visible). */
  gitSyncPublish: 'podkit:git-sync:publish',
  /** A git-sync hook attempt finished `{source, hook, ok}`. */
  gitSyncHook: 'podkit:git-sync:hook',
  /** An inbound trigger request was checked `{source, provider, ok}`. */
  gitSyncTrigger: 'podkit:git-sync:trigger',
  /** A pod lifecycle event `{t, pod, container?, event, detail?}` (start, exit, ready, backoff, kill, …). */
  podEvent: 'podkit:pod:event',
  /**
   * A metrics-adapter's StatsD ingest counts since its previous event `{source, delta}` (packets, bytes, lines, samples,
   * parse errors…): sent once per scrape or OTLP push, not per packet, so the ingest path only increments plain fields.
   */
  adapterIngest: 'podkit:metrics-adapter:ingest',
  /** A metrics-adapter config reload finished `{source, outcome: 'success' | 'failure'}`. */
  adapterReload: 'podkit:metrics-adapter:reload',
} as const;

export type ChannelName = (typeof CHANNELS)[keyof typeof CHANNELS];

/** The channel to publish on. */
export function podkitChannel(name: ChannelName): Channel {
  return channel(name);
}

/** Subscribe `fn` to a channel; the answer unsubscribes it (call it when the component closes). */
export function onChannel(name: ChannelName, fn: (message: unknown) => void): () => void {
  const ch = channel(name);
  ch.subscribe(fn);
  return () => ch.unsubscribe(fn);
}
