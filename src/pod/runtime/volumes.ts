/** @module Pod volumes on the host: emptyDir (tmpfs for medium Memory), hostPath, persistentVolumeClaim (claims.ts), and configMap/secret/downwardAPI/projected rendered to files. */
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { SandboxError } from '../../core/errors.js';
import { fieldValue, resourceFieldValue, type PodContext } from '../spec/index.js';
import type { Container, DownwardAPIFile, KeyToPath, Volume } from '../spec/types.js';
import { provisionClaim, type ClaimRef } from './claims.js';
import type { Mount } from './sandbox.js';

export interface PreparedVolume {
  path: string;
  /** configMap, secret and downwardAPI volumes are always read-only, as in Kubernetes. */
  readOnly: boolean;
}

export interface VolumeResult {
  volumes: Map<string, PreparedVolume>;
  /** tmpfs mounts made on the host (unmounted at teardown). */
  tmpfs: string[];
  warnings: string[];
}

/**
 * Create every volume of the pod under `dir`. `mountTmpfs` mounts a tmpfs (namespaced sandbox) or is
 * undefined (host sandbox: a plain directory with a warning).
 */
export async function prepareVolumes(volumes: Volume[], dir: string, ctx: PodContext, mountTmpfs?: (path: string) => Promise<void>, fsGroup?: number): Promise<VolumeResult> {
  const out: VolumeResult = { volumes: new Map(), tmpfs: [], warnings: [] };
  const podFolder = dirname(dir);
  const claims: ClaimRef[] = [];
  for (const v of volumes) {
    const path = join(dir, v.name);
    const fail = (msg: string) => new SandboxError(`volume "${v.name}": ${msg}`);
    if (v.hostPath) {
      const p = v.hostPath.path;
      const t = v.hostPath.type ?? '';
      if (t === 'DirectoryOrCreate') mkdirSync(p, { recursive: true, mode: 0o755 });
      else if (t === 'FileOrCreate' && !existsSync(p)) {
        mkdirSync(dirname(p), { recursive: true });
        closeSync(openSync(p, 'a', 0o644));
      } else if (t === 'Directory' && !(existsSync(p) && statSync(p).isDirectory())) throw fail(`hostPath ${p} is not a directory`);
      else if (t === 'File' && !(existsSync(p) && statSync(p).isFile())) throw fail(`hostPath ${p} is not a file`);
      else if (t === '' && !existsSync(p)) throw fail(`hostPath ${p} does not exist`);
      out.volumes.set(v.name, { path: p, readOnly: false });
      continue;
    }
    if (v.persistentVolumeClaim) {
      // Claims live beside the pods, under <state-dir>/volumes: the pod's folder is <state-dir>/pods/<pod>.
      if (basename(dirname(podFolder)) !== 'pods') throw fail('claims need the pod folder inside a state folder (<state-dir>/pods/<pod>)');
      const claim = { name: v.persistentVolumeClaim.claimName, namespace: ctx.pod.namespace };
      out.volumes.set(v.name, { path: provisionClaim(dirname(dirname(podFolder)), claim), readOnly: v.persistentVolumeClaim.readOnly === true });
      claims.push(claim);
      continue;
    }
    mkdirSync(path, { recursive: true, mode: 0o777 });
    if (v.configMap || v.secret) {
      const isCm = !!v.configMap;
      const src = (v.configMap ?? v.secret)!;
      renderKeys(path, ctx, isCm ? 'configMap' : 'secret', (isCm ? v.configMap!.name : v.secret!.secretName) ?? '', src, src.defaultMode ?? 0o644, fail);
      out.volumes.set(v.name, { path, readOnly: true });
    } else if (v.downwardAPI) {
      renderDownward(path, ctx, v.downwardAPI.items ?? [], v.downwardAPI.defaultMode ?? 0o644, fail);
      out.volumes.set(v.name, { path, readOnly: true });
    } else if (v.projected) {
      const mode = v.projected.defaultMode ?? 0o644;
      for (const ps of v.projected.sources ?? []) {
        if (ps.configMap) renderKeys(path, ctx, 'configMap', ps.configMap.name ?? '', ps.configMap, mode, fail);
        else if (ps.secret) renderKeys(path, ctx, 'secret', ps.secret.name ?? '', ps.secret, mode, fail);
        else if (ps.downwardAPI) renderDownward(path, ctx, ps.downwardAPI.items ?? [], mode, fail);
        else if (ps.serviceAccountToken) writeFile(path, ps.serviceAccountToken.path, Buffer.from(placeholderToken(ctx, ps.serviceAccountToken.audience, ps.serviceAccountToken.expirationSeconds)), mode, fail);
      }
      out.volumes.set(v.name, { path, readOnly: true });
    } else {
      if (v.emptyDir?.medium === 'Memory') {
        if (mountTmpfs) {
          await mountTmpfs(path);
          out.tmpfs.push(path);
        } else out.warnings.push(`volume "${v.name}": emptyDir medium Memory is a plain directory in the host sandbox`);
      }
      if (typeof v.emptyDir?.mode === 'number') chmodSync(path, v.emptyDir.mode);
      if (fsGroup !== undefined) {
        // Kubernetes' fsGroup: the volume belongs to the group, and files made in it inherit the group (setgid).
        chownSync(path, statSync(path).uid, fsGroup);
        chmodSync(path, 0o2777);
      }
      out.volumes.set(v.name, { path, readOnly: false });
    }
  }
  // What `podkit down --volumes` removes along with this pod.
  writeFileSync(join(podFolder, 'claims.json'), JSON.stringify(claims));
  return out;
}

type Fail = (msg: string) => Error;

/** A ConfigMap's or Secret's keys as files: every key, or the `items` chosen, each with its mode. */
function renderKeys(dir: string, ctx: PodContext, kind: 'configMap' | 'secret', name: string, src: { items?: KeyToPath[]; optional?: boolean }, mode: number, fail: Fail): void {
  const data = (kind === 'configMap' ? ctx.configMaps : ctx.secrets).get(`${ctx.pod.namespace}/${name}`);
  if (!data && !src.optional) throw fail(`${kind} "${name}" not found`);
  const items = src.items ?? Object.keys(data?.data ?? {}).map((key) => ({ key, path: key, mode: undefined }));
  for (const it of items) {
    const value = data?.data[it.key];
    if (value === undefined) {
      if (!src.optional) throw fail(`key "${it.key}" not found in ${kind} "${name}"`);
      continue;
    }
    writeFile(dir, it.path, value, it.mode ?? mode, fail);
  }
}

function renderDownward(dir: string, ctx: PodContext, items: DownwardAPIFile[], mode: number, fail: Fail): void {
  for (const it of items) {
    let value = '';
    try {
      value = it.fieldRef ? (fieldValue(it.fieldRef.fieldPath, ctx) ?? '') : it.resourceFieldRef ? resourceFieldValue(it.resourceFieldRef, undefined, ctx.pod.spec, ctx.node ?? { cpu: 0, memory: 0 }) : '';
    } catch (e) {
      throw fail((e as Error).message);
    }
    writeFile(dir, it.path, Buffer.from(value), it.mode ?? mode, fail);
  }
}

/**
 * The service account token podkit writes where the kubelet would write a signed one: a JWT of the claims a
 * projected token carries (issuer `podkit.local`, subject `system:serviceaccount:<ns>:<sa>`, audience, pod), with
 * algorithm `none` and no signature — there is no API server locally to accept or verify it (docs/pod.md).
 */
export function placeholderToken(ctx: PodContext, audience: string | undefined, expirationSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const sa = (ctx.pod.spec as { serviceAccountName?: string }).serviceAccountName ?? 'default';
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const claims = {
    aud: [audience ?? 'https://kubernetes.default.svc.cluster.local'],
    exp: now + expirationSeconds,
    iat: now,
    nbf: now,
    iss: 'podkit.local',
    sub: `system:serviceaccount:${ctx.pod.namespace}:${sa}`,
    'kubernetes.io': { namespace: ctx.pod.namespace, pod: { name: ctx.pod.name, uid: ctx.pod.uid }, serviceaccount: { name: sa } },
  };
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

/**
 * Write one file of a volume. `rel` was validated (relative, no `..`), and is checked again here so that no key or
 * path can place a file outside the volume, whatever reached the runtime.
 */
function writeFile(dir: string, rel: string, value: Buffer, mode: number, fail: Fail): void {
  const path = resolve(dir, rel);
  if (isAbsolute(rel) || rel.split('/').includes('..') || !path.startsWith(`${resolve(dir)}${sep}`)) throw fail(`refusing to write "${rel}" outside the volume`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, value, { mode });
  chmodSync(path, mode);
}

/** The mounts of one container: volume path (+ subPath, created as a directory when missing) at mountPath. */
export function containerMounts(c: Container, prepared: Map<string, PreparedVolume>): Mount[] {
  return (c.volumeMounts ?? []).map((m) => {
    const v = prepared.get(m.name);
    if (!v) throw new SandboxError(`container "${c.name}": volume "${m.name}" was not prepared`);
    let source = v.path;
    if (m.subPath) {
      source = join(v.path, m.subPath);
      if (!existsSync(source)) mkdirSync(source, { recursive: true });
    }
    return { source, target: m.mountPath, readOnly: v.readOnly || m.readOnly === true };
  });
}
