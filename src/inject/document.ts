/** @module Inject/uninject across multi-document YAML: find pod templates by kind, compute a JSON Patch, apply it to the YAML Document so comments and order survive. */
import { isMap, isSeq, type Document } from 'yaml';
import { documentValue, parseYamlStream } from '../core/yaml.js';
import { own } from '../pod/spec/walk.js';
import { ConfigError, PodkitError } from '../core/errors.js';
import { ANNOTATION_PREFIX } from './components.js';
import { diff, parsePointer, type Json, type PatchOp } from './jsonpatch.js';
import { injectTemplate, uninjectTemplate, type InjectOptions } from './transform.js';

type Obj = { [k: string]: Json };
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where each workload kind keeps its pod template (`[]`: the object is the pod). */
export const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  PodTemplate: ['template'],
};

export type Direction = 'inject' | 'uninject';

/** Prefix a ConfigError's path with where the document came from. */
function locate(err: unknown, where: string): unknown {
  if (err instanceof ConfigError) return err.within(where);
  return err;
}

/**
 * The JSON Patch that injects (or un-injects) one Kubernetes object. Empty when nothing changes.
 * Objects of other kinds, and pods without podkit annotations, give an empty patch.
 */
export function patchFor(obj: Json, direction: Direction, opts: InjectOptions): { ops: PatchOp[]; result: Json } {
  if (!isObj(obj) || typeof obj.kind !== 'string') return { ops: [], result: obj };
  // `kubectl get … -o yaml` of several objects gives a List: inject each item.
  if (obj.kind === 'List' && Array.isArray(obj.items)) {
    const items = obj.items.map((item, i) => {
      try {
        return patchFor(item, direction, opts).result;
      } catch (err) {
        if (err instanceof ConfigError) throw err.within(`items[${i}]`, '.');
        throw err;
      }
    });
    const result = { ...obj, items };
    return { ops: diff(obj, result), result };
  }
  const at = own(TEMPLATE_PATHS, obj.kind);
  if (!at) return { ops: [], result: obj };
  if (at.length > 0) rejectWorkloadAnnotations(obj);
  let tpl: Json = obj;
  for (const k of at) tpl = isObj(tpl) ? tpl[k] : null;
  if (!isObj(tpl)) throw new ConfigError(at.join('.'), 'is required (a pod template)');
  const base = at.join('.');
  const next = direction === 'inject' ? injectTemplate(tpl, base, opts) : uninjectTemplate(tpl, base);
  if (next === tpl) return { ops: [], result: obj };
  const result = structuredClone(obj);
  if (at.length === 0) return { ops: diff(obj, next), result: next };
  let holder = result;
  for (const k of at.slice(0, -1)) holder = holder[k] as Obj;
  holder[at[at.length - 1]] = next;
  return { ops: diff(obj, result), result };
}

/** podkit reads annotations from the pod template only; on the workload's own metadata they would be silently ignored. */
function rejectWorkloadAnnotations(obj: Obj): void {
  const ann = isObj(obj.metadata) && isObj(obj.metadata.annotations) ? obj.metadata.annotations : {};
  const key = Object.keys(ann).find((k) => k.startsWith(ANNOTATION_PREFIX));
  if (key) {
    const tplPath = TEMPLATE_PATHS[String(obj.kind)].join('.');
    throw new ConfigError(`metadata.annotations["${key}"]`, `podkit annotations belong on the pod template (${tplPath}.metadata.annotations), not on the ${String(obj.kind)}`);
  }
}

/** Apply ops to a YAML Document in place, touching only the nodes the ops name. */
export function applyToDocument(doc: Document, ops: readonly PatchOp[]): void {
  for (const o of ops) {
    const tokens = parsePointer(o.path);
    if (tokens.length === 0) {
      if (o.op === 'remove') throw new ConfigError('', 'cannot remove a whole document');
      doc.contents = doc.createNode(o.value) as Document['contents'];
      continue;
    }
    let parent: unknown = doc.contents;
    for (const t of tokens.slice(0, -1)) {
      if (isSeq(parent)) parent = parent.items[Number(t)];
      else if (isMap(parent)) parent = parent.get(t, true);
      else throw new ConfigError(o.path, 'no such node');
    }
    const last = tokens[tokens.length - 1];
    const node = () => doc.createNode((o as { value: Json }).value);
    if (isSeq(parent)) {
      if (parent.items.length === 0) parent.flow = false;
      const i = last === '-' ? parent.items.length : Number(last);
      if (o.op === 'add') parent.items.splice(i, 0, node());
      else if (o.op === 'remove') parent.items.splice(i, 1);
      else parent.items[i] = node();
    } else if (isMap(parent)) {
      if (parent.items.length === 0) parent.flow = false;
      if (o.op === 'remove') parent.delete(last);
      else parent.set(last, node());
    } else throw new ConfigError(o.path, 'parent is not a mapping or list');
  }
}

export interface TransformResult {
  text: string;
  /** The resulting objects (for validation), one per non-empty document. */
  objects: { doc: number; value: Json }[];
  /** How many pod templates changed. */
  changed: number;
}

/** Inject or un-inject every document of a YAML stream. `source` names the input in errors (`in.yaml`, `<stdin>`). */
export function transformText(text: string, source: string, direction: Direction, opts: InjectOptions): TransformResult {
  // YAML 1.1 as Kubernetes reads it (`defaultMode: 0400` is octal), with go-yaml's escapes.
  const docs = parseYamlStream(text, { version: '1.1' });
  const objects: TransformResult['objects'] = [];
  let changed = 0;
  docs.forEach((doc, i) => {
    const where = `${source}: document ${i + 1}`;
    if (doc.errors.length) throw new ConfigError(where, `YAML: ${doc.errors[0].message.split('\n')[0]}`);
    const read = documentValue(doc);
    if (read.error !== undefined) throw new ConfigError(where, `YAML: ${read.error}`);
    const value = read.value as Json;
    if (value === null || value === undefined) return;
    try {
      const { ops, result } = patchFor(value, direction, opts);
      if (ops.length) {
        applyToDocument(doc, ops);
        changed++;
      }
      objects.push({ doc: i + 1, value: result });
    } catch (err) {
      if (err instanceof PodkitError) throw locate(err, where);
      throw new ConfigError(where, (err as Error).message);
    }
  });
  // Nothing to change: hand the input back byte for byte (re-stringifying would reflow flow collections).
  if (changed === 0) return { text, objects, changed };
  return { text: docs.map((d) => d.toString({ lineWidth: 0 })).join(''), objects, changed };
}
