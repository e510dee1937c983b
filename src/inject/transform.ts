/** @module The pure pod-template transform: add podkit's containers and volumes from a plan, record them, and take exactly them out again. */
import { ConfigError } from '../core/errors.js';
import { GIT_SYNC_ROOT, STATUS_ANNOTATION } from './components.js';
import type { Json } from './jsonpatch.js';
import { annotationPath, planFromAnnotations, type ComponentPlan, type SidecarMode } from './plan.js';

type Obj = { [k: string]: Json };

export interface InjectOptions {
  /** The podkit image for added containers (overridden per pod by `podkit.io/image`). */
  image: string;
  /** Native sidecars (initContainers with restartPolicy Always) or classic ones (regular containers). */
  sidecarMode: SidecarMode;
  /** Recorded in the status annotation. */
  version: string;
}

/** What podkit added to a pod, kept in `podkit.io/status` so `--uninject` removes exactly that. */
export interface InjectStatus {
  version: string;
  mode: SidecarMode;
  containers: string[];
  volumes: string[];
  /** App container → names of the mounts podkit added to it. */
  mounts: Record<string, string[]>;
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: Json | undefined): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** Read and check the status annotation; undefined when the pod was not injected. */
export function readStatus(tpl: Obj, base: string): InjectStatus | undefined {
  const ann = isObj(tpl.metadata) && isObj(tpl.metadata.annotations) ? tpl.metadata.annotations : undefined;
  const raw = ann?.[STATUS_ANNOTATION];
  if (raw === undefined || raw === null) return undefined;
  const where = annotationPath(base, STATUS_ANNOTATION);
  let s: unknown;
  try {
    s = JSON.parse(String(raw));
  } catch {
    throw new ConfigError(where, 'is not valid JSON (it is written by podkit inject; remove it to start over)');
  }
  const strs = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (!isObj(s) || !strs(s.containers) || !strs(s.volumes) || (s.mounts !== undefined && !isObj(s.mounts))) {
    throw new ConfigError(where, 'must be {"containers":[…],"volumes":[…],"mounts":{…},"version":…}');
  }
  const mounts: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(s.mounts ?? {})) {
    if (!strs(v)) throw new ConfigError(where, `mounts.${k} must be a list of names`);
    mounts[k] = v as string[];
  }
  return { version: String(s.version ?? ''), mode: s.mode === 'classic' ? 'classic' : 'native', containers: s.containers as string[], volumes: s.volumes as string[], mounts };
}

/** Remove exactly what the status annotation records. Returns a new template; unchanged when not injected. */
export function uninjectTemplate(tpl: Obj, base: string): Obj {
  const status = readStatus(tpl, base);
  if (!status) return tpl;
  const out = structuredClone(tpl);
  const spec = isObj(out.spec) ? out.spec : (out.spec = {});
  const drop = (key: string, holder: Obj, names: string[]) => {
    if (!Array.isArray(holder[key])) return;
    const kept = (holder[key] as Json[]).filter((x) => !(isObj(x) && typeof x.name === 'string' && names.includes(x.name)));
    if (kept.length === 0) delete holder[key];
    else holder[key] = kept;
  };
  drop('containers', spec, status.containers);
  drop('initContainers', spec, status.containers);
  drop('volumes', spec, status.volumes);
  for (const c of [...list(spec.containers), ...list(spec.initContainers)]) {
    const names = typeof c.name === 'string' ? status.mounts[c.name] : undefined;
    if (names) drop('volumeMounts', c, names);
  }
  const meta = out.metadata as Obj;
  const ann = meta.annotations as Obj;
  delete ann[STATUS_ANNOTATION];
  if (Object.keys(ann).length === 0) delete meta.annotations;
  if (Object.keys(meta).length === 0) delete out.metadata;
  return out;
}

/**
 * Inject podkit's containers into one pod template (`{metadata, spec}`), per its annotations. Idempotent:
 * a template that was injected before is first un-injected, so injecting twice equals injecting once and a
 * changed annotation updates the containers. Throws ConfigError naming the annotation or field.
 */
export function injectTemplate(input: Obj, base: string, opts: InjectOptions): Obj {
  const tpl = uninjectTemplate(input, base);
  const meta = isObj(tpl.metadata) ? tpl.metadata : {};
  const annotations = isObj(meta.annotations) ? meta.annotations : {};
  const plan = planFromAnnotations(annotations, base);
  if (!plan.enabled || plan.components.length === 0) return tpl;
  const mode = plan.mode ?? opts.sidecarMode;
  const image = plan.image ?? opts.image;
  const out = structuredClone(tpl);
  const spec = isObj(out.spec) ? out.spec : (out.spec = {});
  const specPath = `${base ? `${base}.` : ''}spec`;
  const status: InjectStatus = { version: opts.version, mode, containers: [], volumes: [], mounts: {} };

  const taken = new Set([...list(spec.containers), ...list(spec.initContainers)].map((c) => c.name));
  const takenVolumes = new Set(list(spec.volumes).map((v) => v.name));
  const volumes: Obj[] = [];
  const addVolume = (v: Obj) => {
    if (takenVolumes.has(v.name)) throw new ConfigError(`${specPath}.volumes`, `a volume named "${String(v.name)}" already exists; podkit needs that name`);
    takenVolumes.add(v.name);
    volumes.push(v);
    status.volumes.push(String(v.name));
  };
  const sidecars: Obj[] = [];
  for (const cp of plan.components) {
    if (taken.has(cp.def.container)) throw new ConfigError(`${specPath}.containers`, `a container named "${cp.def.container}" already exists; podkit needs that name`);
    const mounts: Obj[] = [];
    if (cp.def.name === 'git-sync') {
      addVolume({ name: 'podkit-git-sync', emptyDir: {} });
      mounts.push({ name: 'podkit-git-sync', mountPath: GIT_SYNC_ROOT });
      shareGitVolume(cp, spec, specPath, base, status);
    }
    for (const r of cp.refs) {
      const ref = cp.def.refs[r.key];
      const vol = `${cp.def.container}-${r.key.replace(/-secret$/, '')}`;
      addVolume(ref.kind === 'secret' ? { name: vol, secret: { secretName: r.name } } : { name: vol, configMap: { name: r.name } });
      mounts.push({ name: vol, mountPath: ref.mountPath, readOnly: true });
    }
    sidecars.push(container(cp, image, mode, mounts));
    status.containers.push(cp.def.container);
  }
  if (mode === 'native') spec.initContainers = [...sidecars, ...list(spec.initContainers)];
  else spec.containers = [...list(spec.containers), ...sidecars];
  if (volumes.length) spec.volumes = [...list(spec.volumes), ...volumes];
  const outMeta = isObj(out.metadata) ? out.metadata : (out.metadata = {});
  const outAnn = isObj(outMeta.annotations) ? outMeta.annotations : (outMeta.annotations = {});
  outAnn[STATUS_ANNOTATION] = JSON.stringify(status);
  return out;
}

/** Mount the git-sync volume read-only at `mount-path` in the app containers that `containers` names (default: all). */
function shareGitVolume(cp: ComponentPlan, spec: Obj, specPath: string, base: string, status: InjectStatus): void {
  const mountPath = cp.meta['mount-path'];
  const appNames = list(spec.containers).map((c) => String(c.name));
  const wanted = cp.meta.containers !== undefined ? cp.meta.containers.split(',').map((s) => s.trim()).filter(Boolean) : appNames;
  if (cp.meta.containers !== undefined) {
    const where = annotationPath(base, 'podkit.io/git-sync.containers');
    if (mountPath === undefined) throw new ConfigError(where, 'needs podkit.io/git-sync.mount-path too');
    for (const n of wanted) if (!appNames.includes(n)) throw new ConfigError(where, `names no container "${n}" (containers: ${appNames.join(', ')})`);
  }
  if (mountPath === undefined) return;
  if (!mountPath.startsWith('/')) throw new ConfigError(annotationPath(base, 'podkit.io/git-sync.mount-path'), `must be an absolute path (got ${JSON.stringify(mountPath)})`);
  list(spec.containers).forEach((c, i) => {
    const name = String(c.name);
    if (!wanted.includes(name)) return;
    const vm = list(c.volumeMounts);
    if (vm.some((m) => m.mountPath === mountPath)) throw new ConfigError(`${specPath}.containers[${i}].volumeMounts`, `already mounts something at ${mountPath}`);
    c.volumeMounts = [...vm, { name: 'podkit-git-sync', mountPath, readOnly: true }];
    status.mounts[name] = ['podkit-git-sync'];
  });
}

function container(cp: ComponentPlan, image: string, mode: SidecarMode, mounts: Obj[]): Obj {
  const port = cp.def.port;
  const c: Obj = { name: cp.def.container, image, command: ['podkit', cp.def.name], args: cp.args };
  if (mode === 'native') c.restartPolicy = 'Always';
  c.ports = [{ name: port.name, containerPort: port.number, protocol: 'TCP' }];
  // A native sidecar gates the containers after it on its startup probe: the app starts once podkit listens.
  if (mode === 'native') c.startupProbe = { httpGet: { path: '/healthz', port: port.name }, periodSeconds: 1, failureThreshold: 60 };
  c.readinessProbe = { httpGet: { path: '/readyz', port: port.name }, periodSeconds: 5 };
  if (mounts.length) c.volumeMounts = mounts;
  c.securityContext = { runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
  return c;
}
