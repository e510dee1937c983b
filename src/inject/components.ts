/** @module The components `podkit inject` can add, each described by its own flag spec (one source of truth) plus pod wiring. */
import type { FlagSpec } from '../core/config.js';
import { spec as gitSyncSpec } from '../git-sync/flags.js';
import { spec as metricsAdapterSpec } from '../metrics-adapter/flags.js';
import { modeProblem as redisAmbassadorModeProblem, spec as redisAmbassadorSpec } from '../redis-ambassador/flags.js';

/** A Kubernetes volume source podkit creates for an annotation (the annotation value names the object). */
export interface ObjectRef {
  /** `secret` or `configMap`. */
  kind: 'secret' | 'configMap';
  /** Mount path inside the podkit container. */
  mountPath: string;
  /** The key used when the annotation gives only a name (`name` or `name/key`). */
  defaultKey: string;
  /** The flag that receives `<mountPath>/<key>`. */
  flag: string;
}

export interface ComponentDef {
  /** Subcommand and annotation prefix: `podkit.io/<name>.<flag>`. */
  name: string;
  /** The component's own flag spec: every annotation `podkit.io/<name>.<flag>` is checked against it. */
  spec: FlagSpec;
  /** Container name podkit adds. */
  container: string;
  /** The port `--http-bind` listens on (health, readiness, metrics). */
  port: { name: string; number: number };
  /** Flags podkit sets unless an annotation sets them. */
  defaults: Record<string, string>;
  /** Flags an annotation may not set, with the reason (podkit owns them). */
  managed: Record<string, string>;
  /** At least one flag of each group must be annotated (flags the spec lacks are skipped). */
  required: string[][];
  /** The component's own rule over which flags go together: the flag at fault and why, or undefined. */
  combination?: (given: (flag: string) => boolean) => { flag: string; message: string } | undefined;
  /** Annotations whose value names a Secret/ConfigMap rather than a flag value. */
  refs: Record<string, ObjectRef>;
  /** Annotations that are wiring, not flags (documented in docs/inject.md). */
  meta: string[];
}

export const ANNOTATION_PREFIX = 'podkit.io/';
export const STATUS_ANNOTATION = 'podkit.io/status';
/** Pod-level annotations that are not a component's. */
export const GLOBAL_ANNOTATIONS = ['status', 'inject', 'sidecar-mode', 'image'];

/** Where secrets are mounted; a password never becomes a flag value or an env literal. */
const passwordRef = (name: string): ObjectRef => ({ kind: 'secret', mountPath: `/etc/podkit/${name}/password`, defaultKey: 'password', flag: 'password-file' });

export const GIT_SYNC_ROOT = '/git';

export const components: readonly ComponentDef[] = [
  {
    name: 'git-sync',
    spec: gitSyncSpec,
    container: 'podkit-git-sync',
    port: { name: 'podkit-gitsync', number: 8729 },
    defaults: { root: GIT_SYNC_ROOT, 'http-bind': '0.0.0.0:8729' },
    managed: {
      root: 'podkit mounts the shared volume there',
      'one-time': 'a sidecar keeps running; run a one-time sync as your own init container',
      password: 'use podkit.io/git-sync.password-secret (a Secret name)' },
    required: [['repo']],
    refs: {
      'password-secret': passwordRef('git-sync'),
      // The inbound push trigger's HMAC secret (GitHub/Gitea/GitLab webhook secret).
      'trigger-secret': { kind: 'secret', mountPath: '/etc/podkit/git-sync/trigger', defaultKey: 'secret', flag: 'trigger-secret-file' },
    },
    meta: ['mount-path', 'containers'],
  },
  {
    name: 'redis-ambassador',
    spec: redisAmbassadorSpec,
    container: 'podkit-redis-ambassador',
    port: { name: 'podkit-redis', number: 9121 },
    defaults: { 'http-bind': '0.0.0.0:9121' },
    managed: { password: 'use podkit.io/redis-ambassador.password-secret (a Secret name)' },
    required: [['master', 'sentinel']],
    combination: redisAmbassadorModeProblem,
    refs: {
      'password-secret': passwordRef('redis-ambassador'),
      'client-password-secret': { kind: 'secret', mountPath: '/etc/podkit/redis-ambassador/client-password', defaultKey: 'password', flag: 'client-password-file' },
    },
    meta: [],
  },
  {
    name: 'metrics-adapter',
    spec: metricsAdapterSpec,
    container: 'podkit-metrics-adapter',
    port: { name: 'podkit-metrics', number: 9102 },
    defaults: { 'http-bind': '0.0.0.0:9102' },
    managed: { 'check-config': 'a one-shot mode; a sidecar keeps running' },
    required: [],
    // `config` names a ConfigMap; every key is mounted, so a mapping file can sit beside adapter.yaml.
    refs: { config: { kind: 'configMap', mountPath: '/etc/podkit/metrics-adapter', defaultKey: 'adapter.yaml', flag: 'config' } },
    meta: [],
  },
];

/** Find the component an annotation suffix (`git-sync.repo`) belongs to: the longest name followed by a dot. */
export function componentOf(suffix: string): { def: ComponentDef; key: string } | undefined {
  let best: ComponentDef | undefined;
  for (const c of components) if (suffix.startsWith(`${c.name}.`) && (!best || c.name.length > best.name.length)) best = c;
  return best ? { def: best, key: suffix.slice(best.name.length + 1) } : undefined;
}
