/** @module git-sync self-metrics: v4's names (git_sync_count_total, git_sync_duration_seconds, git_fetch_count_total) plus podkit's. */
import { CHANNELS, onChannel, podkitChannel } from '../core/diagnostics.js';
import { Registry, type MetricFamily } from '../core/metrics/index.js';
import { diskUsage } from './fsutil.js';

export type SyncStatus = 'success' | 'noop' | 'error';

/** One finished sync, as published on CHANNELS.gitSyncSync; `source` is the instance (one object per `start()`). */
export interface SyncEvent {
  source: object;
  status: SyncStatus;
  seconds: number;
  /** The link moved to a fetched commit. */
  changed: boolean;
  /** Consecutive failures after this sync (0 after a success). */
  failures: number;
  /** When it finished, ms since the epoch. */
  atMs: number;
  hash?: string;
  ref?: string;
}

export const syncChannel = podkitChannel(CHANNELS.gitSyncSync);
export const publishChannel = podkitChannel(CHANNELS.gitSyncPublish);
export const hookChannel = podkitChannel(CHANNELS.gitSyncHook);
export const triggerChannel = podkitChannel(CHANNELS.gitSyncTrigger);

export interface PublishEvent {
  source: object;
  atMs: number;
  visible?: { trigger: string; seconds: number };
}
export interface HookRunEvent {
  source: object;
  hook: string;
  ok: boolean;
}
export interface TriggerEvent {
  source: object;
  provider: string;
  ok: boolean;
}

/** The self-metrics of the instance `source`; its sync counters follow the sync channel until `unsubscribe()`. */
export function createMetrics(root: string, source: object) {
  const reg = new Registry();
  const m = {
    reg,
    // kubernetes/git-sync v4 names, so existing dashboards keep working.
    syncCount: reg.counter({ name: 'git_sync_count_total', help: 'How many git syncs completed, by status (success, noop, error)', labelNames: ['status'] }),
    syncDuration: reg.histogram({ name: 'git_sync_duration_seconds', help: 'Time taken by each sync, by status', labelNames: ['status'] }),
    fetchCount: reg.counter({ name: 'git_fetch_count_total', help: 'How many git fetches were run' }),
    // podkit's own.
    lastSuccess: reg.gauge({ name: 'podkit_git_sync_last_success_timestamp_seconds', help: 'Unix time of the last successful sync (including no-op polls)' }),
    lastPublish: reg.gauge({ name: 'podkit_git_sync_last_publish_timestamp_seconds', help: 'Unix time the link last moved to a new tree' }),
    revision: reg.info({ name: 'podkit_git_sync_revision', help: 'The commit the link points at', labelNames: ['hash', 'ref'] }),
    failures: reg.gauge({ name: 'podkit_git_sync_consecutive_failures', help: 'Consecutive failed syncs (0 after a success)' }),
    visible: reg.histogram({
      name: 'podkit_git_sync_push_visible_seconds',
      help: 'Trigger (webhook/signal) or commit time (poll) to the new tree being visible through the link',
      labelNames: ['trigger'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    }),
    hookRuns: reg.counter({ name: 'podkit_git_sync_hook_runs_total', help: 'Hook attempts by hook and result', labelNames: ['hook', 'result'] }),
    triggers: reg.counter({ name: 'podkit_git_sync_trigger_requests_total', help: 'Inbound trigger requests by provider and result', labelNames: ['provider', 'result'] }),
  };
  const offs = [
    onChannel(CHANNELS.gitSyncPublish, (msg) => {
      const e = msg as PublishEvent;
      if (e.source !== source) return;
      m.lastPublish.set({}, e.atMs / 1000);
      if (e.visible) m.visible.observe({ trigger: e.visible.trigger }, e.visible.seconds);
    }),
    onChannel(CHANNELS.gitSyncHook, (msg) => {
      const e = msg as HookRunEvent;
      if (e.source === source) m.hookRuns.inc({ hook: e.hook, result: e.ok ? 'success' : 'error' });
    }),
    onChannel(CHANNELS.gitSyncTrigger, (msg) => {
      const e = msg as TriggerEvent;
      if (e.source === source) m.triggers.inc({ provider: e.provider, result: e.ok ? 'accepted' : 'refused' });
    }),
  ];
  const offSync = onChannel(CHANNELS.gitSyncSync, (msg) => {
    const e = msg as SyncEvent;
    if (e.source !== source) return;
    m.syncCount.inc({ status: e.status });
    m.syncDuration.observe({ status: e.status }, e.seconds);
    m.failures.set({}, e.failures);
    if (e.status === 'error') return;
    if (e.changed) m.fetchCount.inc();
    m.lastSuccess.set({}, e.atMs / 1000);
    if (e.hash !== undefined) m.revision.set({ hash: e.hash, ref: e.ref ?? '' });
  });
  const unsubscribe = () => {
    offSync();
    for (const off of offs) off();
  };
  let bytes = 0;
  let bytesAt = 0;
  let computing: Promise<void> | undefined;
  /** Families for /metrics; bytes on disk is re-measured at most every 30 s (hardlinks counted once). */
  const collect = async (): Promise<MetricFamily[]> => {
    if (Date.now() - bytesAt > 30_000) {
      computing ??= diskUsage(root).then((b) => {
        bytes = b;
        bytesAt = Date.now();
        computing = undefined;
      });
      await computing;
    }
    return [
      ...reg.collect(),
      { name: 'podkit_git_sync_bytes_on_disk', help: 'Bytes used under --root (object store and trees; hardlinks counted once)', type: 'gauge', metrics: [{ labels: {}, value: bytes }] },
    ];
  };
  return { ...m, collect, unsubscribe };
}

export type Metrics = ReturnType<typeof createMetrics>;
