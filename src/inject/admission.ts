/** @module The mutating admission webhook's logic, pure: AdmissionReview v1 in → AdmissionReview v1 out with a base64 JSONPatch. */
import { ConfigError, PodkitError } from '../core/errors.js';
import { MAX_YAML_DEPTH } from '../core/yaml.js';
import { validateObject } from './validate/index.js';
import { patchFor } from './document.js';
import type { Json } from './jsonpatch.js';
import type { InjectOptions } from './transform.js';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type ReviewOutcome = 'patched' | 'unchanged' | 'denied' | 'bad_request';

export interface ReviewResult {
  /** HTTP status: 200 with an AdmissionReview, or 400 for a request that is not one. */
  status: number;
  /** JSON body (status 200) or a one-line error (400). */
  body: unknown;
  outcome: ReviewOutcome;
  /** For the log: what the review was about. */
  subject?: string;
  message?: string;
}

export interface ReviewOptions extends InjectOptions {
  /** Validate the mutated object strictly and deny it when invalid (default true). */
  validate?: boolean;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The deepest body read. `podkit inject` reads the same objects from YAML, bounded at MAX_YAML_DEPTH (deeper than any
 * Kubernetes object), and a review wraps its object in two more levels (the AdmissionReview and its request): so the
 * webhook reads any object inject reads, and the patch's diff and the validator, which recurse per level, never meet
 * one deep enough to overflow the stack (found with an object nested 100,000 deep, answered as an internal error).
 */
export const MAX_REVIEW_DEPTH = MAX_YAML_DEPTH + 2;

/** Whether a parsed JSON value nests arrays and objects more than `max` levels deep (the top level is 1); no recursion. */
function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

function bad(message: string): ReviewResult {
  return { status: 400, body: message, outcome: 'bad_request', message };
}

/** Decide on one AdmissionReview request body. Never throws: every failure is a value. */
export function review(raw: Buffer | string, opts: ReviewOptions): ReviewResult {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return bad(`request body is not JSON: ${(err as Error).message}`);
  }
  if (deeperThan(doc, MAX_REVIEW_DEPTH)) return bad(`request body is nested more than ${MAX_REVIEW_DEPTH} levels deep`);
  if (!isObj(doc)) return bad('request body must be a JSON object (an AdmissionReview)');
  if (doc.kind !== 'AdmissionReview' || doc.apiVersion !== ADMISSION_API_VERSION) {
    return bad(`expected kind AdmissionReview, apiVersion ${ADMISSION_API_VERSION}; got kind ${JSON.stringify(doc.kind ?? null)}, apiVersion ${JSON.stringify(doc.apiVersion ?? null)} (set admissionReviewVersions: ["v1"])`);
  }
  const req = doc.request;
  if (!isObj(req)) return bad('AdmissionReview.request is missing');
  if (typeof req.uid !== 'string' || req.uid === '') return bad('AdmissionReview.request.uid is missing');
  const uid = req.uid;
  const reply = (response: Record<string, unknown>, outcome: ReviewOutcome, subject?: string, message?: string): ReviewResult => ({
    status: 200,
    body: { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response: { uid, ...response } },
    outcome,
    subject,
    message,
  });
  const op = req.operation;
  const obj = req.object;
  if ((op !== 'CREATE' && op !== 'UPDATE') || !isObj(obj)) return reply({ allowed: true }, 'unchanged');
  // The object normally carries apiVersion/kind; fall back to request.kind when a client left them out.
  const rk = isObj(req.kind) ? req.kind : {};
  const object = { ...obj } as Record<string, Json>;
  if (typeof object.kind !== 'string' && typeof rk.kind === 'string') object.kind = rk.kind;
  // A running pod's containers are immutable: mutating a Pod UPDATE (a label change, say) would only get the update refused.
  if (op === 'UPDATE' && object.kind === 'Pod') return reply({ allowed: true }, 'unchanged');
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const name = String(meta.name ?? meta.generateName ?? req.name ?? '');
  const subject = `${String(object.kind ?? '?')} ${String(req.namespace ?? meta.namespace ?? '')}/${name}`;
  try {
    const { ops, result } = patchFor(object, 'inject', opts);
    if (ops.length === 0) return reply({ allowed: true }, 'unchanged', subject);
    let warnings: string[] = [];
    if (opts.validate ?? true) {
      const found = validateObject(result);
      const issues = found.filter((i) => i.severity === 'error');
      if (issues.length) {
        const msg = `podkit: the injected ${subject} would be invalid: ${issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`).join('; ')}`;
        return reply({ allowed: false, status: { code: 400, reason: 'Invalid', message: msg } }, 'denied', subject, msg);
      }
      // Fields behind a feature gate: the API server shows an admission response's warnings to the client (kubectl prints them).
      warnings = found.filter((i) => i.gate).map((i) => `${i.path}: ${i.message}`);
    }
    return reply({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64'), ...(warnings.length ? { warnings } : {}) }, 'patched', subject);
  } catch (err) {
    const msg = `podkit: ${subject}: ${err instanceof PodkitError ? err.message : (err as Error).message}`;
    const code = err instanceof ConfigError ? 400 : 500;
    return reply({ allowed: false, status: { code, reason: code === 400 ? 'BadRequest' : 'InternalError', message: msg } }, 'denied', subject, msg);
  }
}
