/**
 * @module Cluster volume sources the local schema leaves out (projected, persistentVolumeClaim, csi, …). src/pod/spec's
 * walk reports them as unknown fields even though its rules accept them (run as emptyDir locally); on a cluster they
 * are normal — the API server adds a projected token volume to every pod — so they are checked here instead.
 */
import type { Field } from '../../pod/spec/schema.js';
import { SUBSTITUTED_VOLUME_SOURCES } from '../../pod/spec/schema.js';
import type { Issue } from '../../pod/spec/types.js';
import { isObject, walk } from '../../pod/spec/walk.js';

const str = (required = false): Field => ({ t: 'string', required });
const int = (): Field => ({ t: 'int', min: 0 });
const bool = (): Field => ({ t: 'bool' });
const obj = (fields: Record<string, Field>, required = false): Field => ({ t: 'object', fields, required });
const arr = (of: Field): Field => ({ t: 'array', of });
const items = arr(obj({ key: str(true), path: str(true), mode: int() }));
const fieldRef = obj({ fieldPath: str(true), apiVersion: str() });
const resourceFieldRef = obj({ resource: str(true), containerName: str(), divisor: { t: 'quantity' } });

const SOURCES: Record<string, Field> = {
  projected: obj({
    defaultMode: int(),
    sources: arr(
      obj({
        secret: obj({ name: str(), items, optional: bool() }),
        configMap: obj({ name: str(), items, optional: bool() }),
        downwardAPI: obj({ items: arr(obj({ path: str(true), fieldRef, resourceFieldRef, mode: int() })) }),
        serviceAccountToken: obj({ audience: str(), expirationSeconds: { t: 'int', min: 600 }, path: str(true) }),
        clusterTrustBundle: { t: 'any' },
        podCertificate: { t: 'any' },
      }),
    ),
  }),
  persistentVolumeClaim: obj({ claimName: str(true), readOnly: bool() }),
  nfs: obj({ server: str(true), path: str(true), readOnly: bool() }),
  csi: obj({ driver: str(true), readOnly: bool(), fsType: str(), volumeAttributes: { t: 'map' }, nodePublishSecretRef: obj({ name: str() }) }),
  ephemeral: obj({ volumeClaimTemplate: { t: 'any' } }),
  image: obj({ reference: str(), pullPolicy: { t: 'string', enum: ['Always', 'IfNotPresent', 'Never'] } }),
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
