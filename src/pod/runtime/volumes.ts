/** @module Pod volumes on the host: emptyDir (tmpfs for medium Memory), hostPath, and configMap/secret/downwardAPI rendered to files. */
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SandboxError } from '../../core/errors.js';
import { fieldValue, resourceFieldValue, type PodContext } from '../spec/index.js';
import type { Container, Volume } from '../spec/types.js';
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
    mkdirSync(path, { recursive: true, mode: 0o777 });
    if (v.configMap || v.secret) {
      const isCm = !!v.configMap;
      const src = (v.configMap ?? v.secret)!;
      const name = isCm ? v.configMap!.name : v.secret!.secretName;
      const data = (isCm ? ctx.configMaps : ctx.secrets).get(`${ctx.pod.namespace}/${name}`);
      if (!data && !src.optional) throw fail(`${isCm ? 'configMap' : 'secret'} "${name}" not found`);
      const mode = src.defaultMode ?? 0o644;
      const items = src.items ?? Object.keys(data?.data ?? {}).map((key) => ({ key, path: key, mode: undefined }));
      for (const it of items) {
        const value = data?.data[it.key];
        if (value === undefined) {
          if (!src.optional) throw fail(`key "${it.key}" not found in ${isCm ? 'configMap' : 'secret'} "${name}"`);
          continue;
        }
        writeFile(join(path, it.path), value, it.mode ?? mode);
      }
      out.volumes.set(v.name, { path, readOnly: true });
    } else if (v.downwardAPI) {
      for (const it of v.downwardAPI.items ?? []) {
        let value = '';
        try {
          value = it.fieldRef ? (fieldValue(it.fieldRef.fieldPath, ctx) ?? '') : it.resourceFieldRef ? resourceFieldValue(it.resourceFieldRef, undefined, ctx.pod.spec, ctx.node ?? { cpu: 0, memory: 0 }) : '';
        } catch (e) {
          throw fail((e as Error).message);
        }
        writeFile(join(path, it.path), Buffer.from(value), it.mode ?? v.downwardAPI.defaultMode ?? 0o644);
      }
      out.volumes.set(v.name, { path, readOnly: true });
    } else {
      if (v.emptyDir?.medium === 'Memory') {
        if (mountTmpfs) {
          await mountTmpfs(path);
          out.tmpfs.push(path);
        } else out.warnings.push(`volume "${v.name}": emptyDir medium Memory is a plain directory in the host sandbox`);
      }
      if (fsGroup !== undefined) {
        // Kubernetes' fsGroup: the volume belongs to the group, and files made in it inherit the group (setgid).
        chownSync(path, statSync(path).uid, fsGroup);
        chmodSync(path, 0o2777);
      }
      out.volumes.set(v.name, { path, readOnly: false });
    }
  }
  return out;
}

function writeFile(path: string, value: Buffer, mode: number): void {
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
