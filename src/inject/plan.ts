/** @module Read a pod template's `podkit.io/*` annotations into a plan: which components, with which flags and objects. */
import { closest } from '../core/suggest.js';
import { convert, flag, type Flag } from '../core/config.js';
import { ConfigError, UsageError } from '../core/errors.js';
import { ANNOTATION_PREFIX, GLOBAL_ANNOTATIONS, componentOf, components, type ComponentDef } from './components.js';

export type SidecarMode = 'native' | 'classic';

export interface ComponentPlan {
  def: ComponentDef;
  /** `--flag=value` arguments, in the order of the component's flag spec. */
  args: string[];
  /** Secret/ConfigMap volumes: [annotation key, object name, key]. */
  refs: { key: string; name: string; item: string }[];
  /** Meta annotations (wiring), e.g. `mount-path`. */
  meta: Record<string, string>;
}

export interface PodPlan {
  /** `podkit.io/inject: "false"` turns injection off for this pod. */
  enabled: boolean;
  mode?: SidecarMode;
  image?: string;
  components: ComponentPlan[];
}

/** `metadata.annotations["podkit.io/git-sync.repo"]` under `base`, the way messages name an annotation. */
export function annotationPath(base: string, key: string): string {
  return `${base ? `${base}.` : ''}metadata.annotations["${key}"]`;
}

const near = (name: string, known: readonly string[]) => closest(name, known);

const hint = (n: string | undefined) => (n ? ` (did you mean "${n}"?)` : '');

/** Canonical flag name for an annotation key (aliases accepted). */
function flagName(def: ComponentDef, key: string): string | undefined {
  if (def.spec[key]) return key;
  for (const [name, f] of Object.entries(def.spec)) if (f.aliases?.includes(key)) return name;
  return undefined;
}

/**
 * Parse the podkit annotations of one pod template. `base` is the YAML path of the template
 * (`spec.template`), used in errors. Throws ConfigError (exit 2) naming the annotation.
 */
export function planFromAnnotations(annotations: Record<string, unknown>, base: string): PodPlan {
  const plan: PodPlan = { enabled: true, components: [] };
  const byComponent = new Map<ComponentDef, Map<string, string>>();
  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX)) continue;
    const where = annotationPath(base, key);
    if (typeof value !== 'string') throw new ConfigError(where, 'annotation values must be strings (quote the value in YAML)');
    const suffix = key.slice(ANNOTATION_PREFIX.length);
    if (GLOBAL_ANNOTATIONS.includes(suffix)) {
      try {
        global(plan, suffix, key, value, where);
      } catch (err) {
        throw atAnnotation(err, where);
      }
      continue;
    }
    const found = componentOf(suffix);
    if (!found) {
      const known = [...GLOBAL_ANNOTATIONS, ...components.map((c) => `${c.name}.…`)];
      throw new ConfigError(where, `unknown podkit annotation "${key}" (known: ${known.map((k) => ANNOTATION_PREFIX + k).join(', ')})`);
    }
    let m = byComponent.get(found.def);
    if (!m) byComponent.set(found.def, (m = new Map()));
    m.set(found.key, value);
  }
  // Components in a fixed order so output does not depend on annotation order.
  for (const def of components) {
    const given = byComponent.get(def);
    if (given) plan.components.push(planComponent(def, given, base));
  }
  return plan;
}

/** An annotation value convert() refused, filed under the annotation's YAML path `where` with convert()'s own detail. */
function atAnnotation(err: unknown, where: string): ConfigError {
  if (err instanceof ConfigError) return err;
  if (err instanceof UsageError && err.detail !== undefined) return new ConfigError(where, err.detail, { cause: err });
  return new ConfigError(where, err instanceof Error ? err.message : String(err), { cause: err });
}

/** One pod-level annotation: inject on/off, sidecar mode, image. */
function global(plan: PodPlan, suffix: string, key: string, value: string, where: string): void {
  if (suffix === 'inject') plan.enabled = convert(flag.bool({ help: '' }) as Flag<unknown>, value, `annotation ${key}`) as boolean;
  else if (suffix === 'sidecar-mode') plan.mode = convert(flag.enum({ help: '', values: ['native', 'classic'] }) as Flag<unknown>, value, `annotation ${key}`) as SidecarMode;
  else if (suffix === 'image') {
    if (value.trim() === '') throw new ConfigError(where, 'must name an image');
    plan.image = value;
  }
}

function planComponent(def: ComponentDef, given: Map<string, string>, base: string): ComponentPlan {
  const values = new Map<string, string[]>();
  const meta: Record<string, string> = {};
  const refs: ComponentPlan['refs'] = [];
  const at = (key: string) => `${ANNOTATION_PREFIX}${def.name}.${key}`;
  for (const [key, raw] of given) {
    const where = annotationPath(base, at(key));
    if (def.meta.includes(key)) {
      meta[key] = raw;
      continue;
    }
    const ref = def.refs[key];
    if (ref) {
      const m = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?:\/([-._a-zA-Z0-9]+))?$/.exec(raw.trim());
      if (!m) throw new ConfigError(where, `expected a ${ref.kind} name, optionally followed by /KEY (got ${JSON.stringify(raw)})`);
      if (values.has(ref.flag)) throw new ConfigError(where, `sets --${ref.flag} twice`);
      refs.push({ key, name: m[1], item: m[3] ?? ref.defaultKey });
      values.set(ref.flag, [`${ref.mountPath}/${m[3] ?? ref.defaultKey}`]);
      continue;
    }
    if (def.managed[key]) throw new ConfigError(where, `cannot be set by annotation: ${def.managed[key]}`);
    const name = flagName(def, key);
    if (!name) {
      const known = [...Object.keys(def.spec).filter((k) => !def.spec[k].hidden && !def.managed[k]), ...Object.keys(def.refs), ...def.meta];
      throw new ConfigError(where, `unknown option "${key}" for ${def.name}${hint(near(key, known))}`);
    }
    const f = def.spec[name] as Flag<unknown>;
    if (f.secret) throw new ConfigError(where, `is a secret and must not be written in an annotation; use ${at('password-secret')} (a Secret name)`);
    const items = f.repeatable ? raw.split(',').map((s) => s.trim()).filter((s) => s !== '') : [raw];
    // A URL with a password in it is a secret in plain sight (pod specs are readable by many): refuse it
    // before convert() could echo it in a type error.
    if (items.some((i) => /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(i))) {
      throw new ConfigError(where, `must not carry a password in the URL; use ${at('password-secret')} (a Secret name)`);
    }
    // convert() names the annotation in its UsageError; the ConfigError names it by its YAML path instead.
    for (const item of items) {
      try {
        convert(f, item, `annotation ${at(key)}`);
      } catch (err) {
        throw atAnnotation(err, where);
      }
    }
    if (values.has(name)) throw new ConfigError(where, `sets --${name} twice`);
    values.set(name, items);
  }
  for (const all of def.required) {
    const group = all.filter((g) => def.spec[g]);
    if (group.length === 0) continue;
    if (!group.some((g) => values.has(g))) throw new ConfigError(annotationPath(base, at(group[0])), `is required to inject ${def.name}${group.length > 1 ? ` (or ${group.slice(1).map(at).join(', ')})` : ''}`);
  }
  const bad = def.combination?.((name) => values.has(name));
  if (bad) throw new ConfigError(annotationPath(base, at(bad.flag)), bad.message);
  for (const [name, v] of Object.entries(def.defaults)) if (!values.has(name)) values.set(name, [v]);
  const args: string[] = [];
  for (const name of Object.keys(def.spec)) for (const v of values.get(name) ?? []) args.push(`--${name}=${v}`);
  return { def, args, refs, meta };
}
