/**
 * @module Cluster volume sources the local schema leaves out (nfs, csi, ephemeral, …). src/pod/spec's
 * walk reports them as unknown fields even though its rules accept them (run as emptyDir locally); on a cluster they
 * are normal, so they are checked here instead.
 */
import type { Field } from '../../pod/spec/schema.js';
import { SUBSTITUTED_VOLUME_SOURCES } from '../../pod/spec/schema.js';
import type { Issue } from '../../pod/spec/types.js';
import { isObject, walk } from '../../pod/spec/walk.js';

const str = (required = false): Field => ({ t: 'string', required });
const bool = (): Field => ({ t: 'bool' });
const obj = (fields: Record<string, Field>, required = false): Field => ({ t: 'object', fields, required });

const SOURCES: Record<string, Field> = {
  nfs: obj({ server: str(true), path: str(true), readOnly: bool() }),
  csi: obj({ driver: str(true), readOnly: bool(), fsType: str(), volumeAttributes: { t: 'map' }, nodePublishSecretRef: obj({ name: str() }) }),
  ephemeral: obj({ volumeClaimTemplate: { t: 'any' } }),
};

/** Replace the local walk's "unknown field" for cluster volume sources with a check of that source. */
export function checkClusterVolumes(spec: unknown, specPath: string, issues: Issue[]): Issue[] {
  if (!isObject(spec) || !Array.isArray(spec.volumes)) return issues;
  const drop = new Set<string>();
  const extra: Issue[] = [];
  spec.volumes.forEach((v, i) => {
    if (!isObject(v)) return;
    for (const k of Object.keys(v)) {
      if (!SUBSTITUTED_VOLUME_SOURCES.includes(k)) continue;
      const p = `${specPath}.volumes[${i}].${k}`;
      drop.add(p);
      walk(v[k], SOURCES[k] ?? { t: 'any' }, p, extra);
    }
  });
  return [...issues.filter((x) => !(drop.has(x.path) && x.message.startsWith('unknown field'))), ...extra];
}
