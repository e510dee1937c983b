/**
 * @module PersistentVolumeClaims as the local-path provisioner makes them: one directory per claim under
 * `<state-dir>/volumes/<namespace>/<claim>`, made when a pod (or `podkit up` of the claim) first needs it, kept
 * across `podkit down` and `up`, removed by `podkit down --volumes`.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../core/errors.js';

export interface ClaimRef {
  name: string;
  namespace: string;
}

/** Claim and namespace names are DNS names; anything else could step out of the claims folder. */
function checked(c: ClaimRef): ClaimRef {
  const ok = (s: string) => /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(s) && s.length <= 253;
  if (!ok(c.name) || !ok(c.namespace)) throw new ConfigError('persistentVolumeClaim.claimName', `"${c.namespace}/${c.name}" is not a valid claim name`);
  return c;
}

export function claimsRoot(root: string): string {
  return join(root, 'volumes');
}

export function claimDir(root: string, c: ClaimRef): string {
  const { name, namespace } = checked(c);
  return join(claimsRoot(root), namespace, name);
}

/** The claim's directory, made on first use (mode 0777, as the local-path provisioner makes it). */
export function provisionClaim(root: string, c: ClaimRef): string {
  const dir = claimDir(root, c);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    // mkdir's mode passes through the umask; the provisioner's directory is writable by any container user.
    chmodSync(dir, 0o777);
  }
  return dir;
}

/** Every claim directory there is. */
export function listClaims(root: string): ClaimRef[] {
  const out: ClaimRef[] = [];
  const base = claimsRoot(root);
  let namespaces: string[] = [];
  try {
    namespaces = readdirSync(base);
  } catch {
    return out;
  }
  for (const namespace of namespaces.sort()) {
    for (const name of readdirSync(join(base, namespace)).sort()) out.push({ namespace, name });
  }
  return out;
}

/** Delete claims and their data (`podkit down --volumes`). */
export function removeClaims(root: string, claims: ClaimRef[]): void {
  for (const c of claims) rmSync(claimDir(root, c), { recursive: true, force: true });
}
