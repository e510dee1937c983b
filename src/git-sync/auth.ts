/** @module Git credentials without argv: an askpass helper reading env/a file at each prompt, a credential helper for per-URL ones, and an ssh command with private key copies. */
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../core/errors.js';
import { addSecret } from '../core/log.js';
import { readSecretFile } from '../core/secret-file.js';
import { setupCredentials, type Credential } from './credentials.js';

export interface AuthSetup {
  /** Env for git children. */
  env: NodeJS.ProcessEnv;
  /** Re-read rotating secrets (the password file) so logs keep redacting them. Called before each sync. */
  refresh(): void;
  /** --askpass-url: fetch the credentials again (before every sync, as v4); rejects when the URL fails. */
  refreshAskpassUrl(signal?: AbortSignal): Promise<void>;
  /** Remove the private temp dir. */
  dispose(): void;
}

export interface AuthOptions {
  repo: string;
  /** v4's --credential entries, served by a credential helper. */
  credentials?: readonly Credential[];
  askpassUrl?: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  /** One key or several (v4's repeated --ssh-key-file: each is offered, e.g. for submodules on other hosts). */
  sshKeyFile?: string | readonly string[];
  sshKnownHosts: boolean;
  sshKnownHostsFile: string;
}

// The helper gets the prompt as $1 ("Username for ...", "Password for ..."); the secret comes from env or
// the file, read at every prompt, so a rotated password file needs no restart.
const ASKPASS = `#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "$PODKIT_GIT_USERNAME" ;;
  *) if [ -n "$PODKIT_GIT_PASSWORD_FILE" ]; then cat "$PODKIT_GIT_PASSWORD_FILE"; else printf '%s\\n' "$PODKIT_GIT_PASSWORD"; fi ;;
esac
`;

/**
 * Split `scheme://user:secret@host/…` into the URL git is given and the credentials, so git's remote-http children
 * (which get the URL on their argv, readable by every user in /proc) never see the secret: it goes through askpass.
 * Explicit --username/--password/--password-file win over what the URL carries.
 */
export function splitUrlCredentials<T extends { repo: string; username?: string; password?: string; passwordFile?: string }>(o: T): T {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/@]*)@/i.exec(o.repo);
  if (!m || !/^https?:/i.test(m[1])) return o;
  const colon = m[2].indexOf(':');
  const dec = (x: string) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  };
  const user = dec(colon < 0 ? m[2] : m[2].slice(0, colon));
  const secret = colon < 0 ? undefined : dec(m[2].slice(colon + 1));
  const out = { ...o, repo: m[1] + o.repo.slice(m[0].length), username: o.username || user };
  if (secret !== undefined && !o.password && !o.passwordFile) out.password = secret;
  return out;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * git's own global config, private to this process (as v4 keeps one). Only a file reaches every git: the GIT_CONFIG_*
 * pairs are dropped from the environment of the `git-upload-pack` a local (file://) fetch starts, so a repository
 * owned by another uid would fail there as "dubious ownership" when podkit runs as a non-root user.
 */
const GLOBAL_CONFIG = `[safe]
\tdirectory = *
`;

export function setupAuth(o: AuthOptions): AuthSetup {
  const dir = mkdtempSync(join(tmpdir(), 'podkit-git-sync-'));
  chmodSync(dir, 0o700);
  const creds = setupCredentials(dir, { repo: o.repo, credentials: o.credentials ?? [], askpassUrl: o.askpassUrl });
  const globalConfig = join(dir, 'gitconfig');
  writeFileSync(globalConfig, GLOBAL_CONFIG + creds.config, { mode: 0o600 });
  const env: NodeJS.ProcessEnv = { GIT_CONFIG_GLOBAL: globalConfig };
  const refresh = () => {
    if (o.passwordFile) {
      try {
        readSecretFile(o.passwordFile, 'password-file'); // registers it with the log redactor
      } catch {
        /* git will fail with a clear auth error; nothing to redact */
      }
    }
  };
  if (o.username || o.password || o.passwordFile) {
    const helper = join(dir, 'askpass.sh');
    writeFileSync(helper, ASKPASS, { mode: 0o700 });
    env.GIT_ASKPASS = helper;
    env.PODKIT_GIT_USERNAME = o.username ?? '';
    if (o.passwordFile) env.PODKIT_GIT_PASSWORD_FILE = o.passwordFile;
    else {
      env.PODKIT_GIT_PASSWORD = o.password ?? '';
      addSecret(o.password);
    }
    refresh();
  }
  const keys = o.sshKeyFile === undefined ? [] : typeof o.sshKeyFile === 'string' ? [o.sshKeyFile] : o.sshKeyFile;
  if (keys.length) {
    const parts = ['ssh'];
    keys.forEach((file, i) => {
      if (!existsSync(file)) throw new ConfigError('--ssh-key-file', `can't access SSH key file ${file}`);
      // ssh refuses keys readable by others (Kubernetes secrets are often 0644), so use a private copy.
      const key = join(dir, `id${i}`);
      copyFileSync(file, key);
      chmodSync(key, 0o600);
      parts.push('-i', shq(key));
    });
    parts.push('-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes');
    if (o.sshKnownHosts) {
      if (!existsSync(o.sshKnownHostsFile)) throw new ConfigError('--ssh-known-hosts-file', `can't access SSH known_hosts file ${o.sshKnownHostsFile}`);
      parts.push('-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${shq(o.sshKnownHostsFile)}`);
    } else parts.push('-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null');
    env.GIT_SSH_COMMAND = parts.join(' ');
  }
  return { env, refresh, refreshAskpassUrl: creds.refreshAskpassUrl, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
