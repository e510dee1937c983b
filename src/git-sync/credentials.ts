/** @module Per-URL git credentials (v4's --credential and --askpass-url) served to git by a private credential helper, never on argv. */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UpstreamError, UsageError } from '../core/errors.js';
import { addSecret } from '../core/log.js';
import { httpRequest } from './http-client.js';

/** One `--credential` entry, v4's JSON schema. */
export interface Credential {
  url: string;
  username: string;
  password?: string;
  passwordFile?: string;
}

/** Parse `--credential` values: each a JSON object or a JSON list of them (v4). Throws UsageError (exit 2). */
export function parseCredentials(values: readonly string[]): Credential[] {
  const out: Credential[] = [];
  for (const raw of values) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      throw new UsageError(`flag --credential: not a JSON object or list: ${(e as Error).message}`);
    }
    for (const c of Array.isArray(parsed) ? parsed : [parsed]) {
      if (!c || typeof c !== 'object' || Array.isArray(c)) throw new UsageError('flag --credential: each credential must be a JSON object');
      const o = c as Record<string, unknown>;
      const unknown = Object.keys(o).filter((k) => !['url', 'username', 'password', 'password-file'].includes(k));
      if (unknown.length) throw new UsageError(`flag --credential: unknown field "${unknown[0]}" (url, username, password, password-file)`);
      const str = (k: string) => {
        if (o[k] !== undefined && typeof o[k] !== 'string') throw new UsageError(`flag --credential: ${k} must be a string`);
        return (o[k] as string | undefined) ?? '';
      };
      const cred = { url: str('url'), username: str('username'), password: str('password'), passwordFile: str('password-file') };
      if (!cred.url) throw new UsageError('flag --credential: URL must be specified');
      if (!matchKey(cred.url)) throw new UsageError(`flag --credential: url must be an http(s) URL (got ${JSON.stringify(cred.url)})`);
      if (!cred.username) throw new UsageError('flag --credential: username must be specified');
      if (!cred.password && !cred.passwordFile) throw new UsageError('flag --credential: password or password-file must be specified');
      if (cred.password && cred.passwordFile) throw new UsageError('flag --credential: only one of password and password-file may be specified');
      if (cred.password) addSecret(cred.password);
      out.push({ url: cred.url, username: cred.username, password: cred.password || undefined, passwordFile: cred.passwordFile || undefined });
    }
  }
  return out;
}

/** `protocol://host[:port]` — what git's credential protocol gives a helper for an http(s) URL (paths are not used, as in v4). */
export function matchKey(url: string): string | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return `${u.protocol.slice(0, -1)}://${u.host}`;
  } catch {
    return undefined;
  }
}

// git runs this as `credential.helper` with "get" and the request's attributes on stdin; it answers from the entries
// under creds/ (one dir each, first match wins). A password file is read at every request, so rotation needs no restart.
const HELPER = `#!/bin/sh
[ "$1" = get ] || exit 0
proto=; host=; user=
while IFS= read -r line; do
  [ -z "$line" ] && break
  case "$line" in
    protocol=*) proto=\${line#protocol=} ;;
    host=*) host=\${line#host=} ;;
    username=*) user=\${line#username=} ;;
  esac
done
for c in "$(dirname "$0")"/creds/*; do
  [ -f "$c/match" ] || continue
  [ "$(cat "$c/match")" = "$proto://$host" ] || continue
  u=$(cat "$c/username")
  if [ -n "$user" ] && [ "$user" != "$u" ]; then continue; fi
  if [ -f "$c/password-file" ]; then p=$(head -n 1 "$(cat "$c/password-file")"); else p=$(cat "$c/password"); fi
  printf 'username=%s\\npassword=%s\\n' "$u" "$p"
  exit 0
done
`;

export interface CredentialStore {
  /** The `[credential]` section for git's global config, or '' when there is nothing to serve. */
  readonly config: string;
  /** --askpass-url: fetch the credentials for `repo` again (v4 does it before every sync). */
  refreshAskpassUrl(signal?: AbortSignal): Promise<void>;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Write the helper and its entries into the private dir `dir`. Entry 0 is the --askpass-url one, rewritten per sync. */
export function setupCredentials(dir: string, o: { repo: string; credentials: readonly Credential[]; askpassUrl?: string }): CredentialStore {
  if (!o.credentials.length && !o.askpassUrl) return { config: '', refreshAskpassUrl: async () => undefined };
  const helper = join(dir, 'credential.sh');
  writeFileSync(helper, HELPER, { mode: 0o700 });
  const entry = (name: string, match: string, username: string, secret: { password?: string; passwordFile?: string }) => {
    const d = join(dir, 'creds', name);
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileSync(join(d, 'match'), match);
    writeFileSync(join(d, 'username'), username);
    if (secret.passwordFile) writeFileSync(join(d, 'password-file'), secret.passwordFile);
    else writeFileSync(join(d, 'password'), secret.password ?? '', { mode: 0o600 });
  };
  o.credentials.forEach((c, i) => entry(`1${String(i).padStart(4, '0')}`, matchKey(c.url) as string, c.username, c));
  const repoKey = matchKey(o.repo);
  const url = o.askpassUrl;
  return {
    // The value is a shell command line ("!…"): quoted for the shell, then for git's config syntax.
    config: `[credential]\n\thelper = "!${shq(helper).replace(/["\\]/g, '\\$&')}"\n`,
    async refreshAskpassUrl(signal) {
      if (!url) return;
      let res;
      try {
        res = await httpRequest(url, { signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(1000)]) : AbortSignal.timeout(1000) });
      } catch (e) {
        throw new UpstreamError(`credential refresh failed: can't access auth URL: ${(e as Error).message}`, { cause: e });
      }
      if (res.status !== 200) throw new UpstreamError(`credential refresh failed: auth URL returned status ${res.status}, body: ${JSON.stringify(res.body.slice(0, 200))}`);
      let username = '';
      let password = '';
      for (const line of res.body.split('\n')) {
        const eq = line.indexOf('=');
        if (eq < 0) continue;
        const [k, v] = [line.slice(0, eq), line.slice(eq + 1)];
        if (k === 'username') username = v;
        else if (k === 'password') password = v;
      }
      addSecret(password);
      if (repoKey) entry('00000', repoKey, username, { password });
    },
  };
}
