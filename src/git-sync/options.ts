/** @module The git-sync `Options` (every field with its default) and the conversion from parsed flags. */
import { isAbsolute, join, resolve } from 'node:path';
import type { Values } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import type { HostPort } from '../core/parse.js';
import type { Logger } from '../core/log.js';
import { parseGitConfig } from './gitconfig.js';
import type { Spec } from './flags.js';
import { parseCredentials, type Credential } from './credentials.js';

export interface Options {
  /** Remote URL (required). */
  repo: string;
  /** Branch, tag, HEAD or a commit hash. Default `HEAD`. */
  ref?: string;
  /** Root directory: `.git` and `.worktrees/<hash>` live here (required). */
  root: string;
  /** Link path, absolute or relative to root. Default: the leaf dir of `repo`. */
  link?: string;
  /** Poll period, ms. Default 10 000. */
  periodMs?: number;
  /** Poll period until the first successful sync, ms. Default: `periodMs`. */
  initPeriodMs?: number;
  /** Timeout for one sync, ms. Default 120 000. */
  syncTimeoutMs?: number;
  /** Shallow depth; 0 = full history. Default 1. */
  depth?: number;
  /** Partial-clone object filter (`git fetch --filter`), e.g. `blob:none`. Default none. */
  filter?: string;
  /** Default `recursive`. */
  submodules?: 'recursive' | 'shallow' | 'off';
  /** Sparse-checkout pattern file. Default none. */
  sparseCheckoutFile?: string;
  /** Exit (resolve `done`) after the first sync. Default false. */
  oneTime?: boolean;
  /** v4's failure budget: `done` resolves 1 at the Nth consecutive failure (0 and 1: the first); negative = never. Default 0. */
  maxFailures?: number;
  /** The same budget until the first success; negative = never. Default: `maxFailures`. */
  initMaxFailures?: number;
  /** How each sync checks the published tree: `quick` (its .git file and HEAD) or `full` (v4's rev-parse + fsck). Default `quick`. */
  worktreeCheck?: 'quick' | 'full';
  /** How long unpublished trees are kept, ms. Default 30 000. */
  staleWorktreeTimeoutMs?: number;
  /** Error file path (absolute or relative to root). Default none. */
  errorFile?: string;
  /** Touch file path (absolute or relative to root). Default none. */
  touchFile?: string;
  /** Add an /etc/passwd entry for this uid when it has none (ssh needs one). Default false. */
  addUser?: boolean;
  /** Group-writable data. Default false. */
  groupWrite?: boolean;
  /** git executable. Default `git`. */
  git?: string;
  /** Extra git config pairs (applied through GIT_CONFIG_* env, never argv). Default none. */
  gitConfig?: [string, string][];
  /** git gc mode after old trees are removed. Default `auto`. */
  gitGc?: 'auto' | 'always' | 'aggressive' | 'off';
  /** HTTP(S) username. */
  username?: string;
  /** Password (kept in memory, handed to git through an askpass helper's env). */
  password?: string;
  /** Password file, re-read by every git auth prompt. */
  passwordFile?: string;
  /** SSH private key(s); SSH auth is off when unset. Several are all offered (v4's repeated --ssh-key-file). */
  sshKeyFile?: string | string[];
  /** v4's --credential entries (per-URL username and password or password file). */
  credentials?: Credential[];
  /** A URL fetched before every sync for `username=`/`password=` lines (v4's --askpass-url). */
  askpassUrl?: string;
  /** Verify host keys. Default true. */
  sshKnownHosts?: boolean;
  /** known_hosts file. Default `/etc/git-secret/known_hosts`. */
  sshKnownHostsFile?: string;
  /** Exechook command (no args). */
  exechookCommand?: string;
  /** Default 30 000 ms. */
  exechookTimeoutMs?: number;
  /** Default 3000 ms. */
  exechookBackoffMs?: number;
  /** Outbound webhook URL. */
  webhookUrl?: string;
  /** Default POST. */
  webhookMethod?: string;
  /** 0 = any status is success. Default 200. */
  webhookSuccessStatus?: number;
  /** Default 1000 ms. */
  webhookTimeoutMs?: number;
  /** Default 3000 ms. */
  webhookBackoffMs?: number;
  /** Secret file for signing the outbound webhook body. Default none (unsigned). */
  webhookSignatureSecretFile?: string;
  /** HTTP server bind; no server when unset. */
  httpBind?: HostPort;
  /** Serve /metrics. Default true. */
  httpMetrics?: boolean;
  /** Secret file enabling the inbound trigger endpoint. Default none (endpoint off). */
  triggerSecretFile?: string;
  /** Default `/webhook`. */
  triggerPath?: string;
  /** Largest request body read, bytes (413 above it). Default 1 MiB. */
  triggerMaxBody?: number;
  /** /readyz fails when the last success is older than this many periods; 0 = never. Default 6. */
  readyStalePeriods?: number;
  log?: Logger;
}

/** Options with every default filled in and paths made absolute. */
export type Resolved = Required<Omit<Options, 'httpBind' | 'filter' | 'sparseCheckoutFile' | 'errorFile' | 'touchFile' | 'username' | 'password' | 'passwordFile' | 'sshKeyFile' | 'credentials' | 'askpassUrl' | 'exechookCommand' | 'webhookUrl' | 'webhookSignatureSecretFile' | 'triggerSecretFile'>> &
  Pick<Options, 'httpBind' | 'filter' | 'sparseCheckoutFile' | 'errorFile' | 'touchFile' | 'username' | 'password' | 'passwordFile' | 'sshKeyFile' | 'credentials' | 'askpassUrl' | 'exechookCommand' | 'webhookUrl' | 'webhookSignatureSecretFile' | 'triggerSecretFile'>;

/** The default link name: the last path element of the repo URL (as v4 does: `.git` is kept). */
export function defaultLink(repo: string): string {
  const parts = repo.replace(/^\/+|\/+$/g, '').split(/[/:]/);
  return parts[parts.length - 1] || 'repo';
}

function under(root: string, p: string | undefined): string | undefined {
  if (!p) return undefined;
  return isAbsolute(p) ? p : join(root, p);
}

export function resolveOptions(o: Options, log: Logger): Resolved {
  if (!o.repo) throw new UsageError('--repo must be specified');
  if (!o.root) throw new UsageError('--root must be specified');
  const root = resolve(o.root);
  if (o.password && o.passwordFile) throw new UsageError('only one of --password and --password-file may be specified');
  if (o.username && !o.password && !o.passwordFile) throw new UsageError('--password or --password-file must be set when --username is specified');
  return {
    ...o,
    repo: o.repo,
    ref: o.ref || 'HEAD',
    root,
    link: under(root, o.link || defaultLink(o.repo)) as string,
    periodMs: o.periodMs ?? 10_000,
    initPeriodMs: o.initPeriodMs ?? o.periodMs ?? 10_000,
    syncTimeoutMs: o.syncTimeoutMs ?? 120_000,
    depth: o.depth ?? 1,
    submodules: o.submodules ?? 'recursive',
    oneTime: o.oneTime ?? false,
    maxFailures: o.maxFailures ?? 0,
    initMaxFailures: o.initMaxFailures ?? o.maxFailures ?? 0,
    staleWorktreeTimeoutMs: o.staleWorktreeTimeoutMs ?? 30_000,
    worktreeCheck: o.worktreeCheck ?? 'quick',
    errorFile: under(root, o.errorFile),
    touchFile: under(root, o.touchFile),
    groupWrite: o.groupWrite ?? false,
    addUser: o.addUser ?? false,
    git: o.git ?? 'git',
    gitConfig: o.gitConfig ?? [],
    gitGc: o.gitGc ?? 'auto',
    sshKnownHosts: o.sshKnownHosts ?? true,
    sshKnownHostsFile: o.sshKnownHostsFile ?? '/etc/git-secret/known_hosts',
    exechookTimeoutMs: o.exechookTimeoutMs ?? 30_000,
    exechookBackoffMs: o.exechookBackoffMs ?? 3000,
    webhookMethod: o.webhookMethod ?? 'POST',
    webhookSuccessStatus: o.webhookSuccessStatus === -1 ? 0 : (o.webhookSuccessStatus ?? 200),
    webhookTimeoutMs: o.webhookTimeoutMs ?? 1000,
    webhookBackoffMs: o.webhookBackoffMs ?? 3000,
    httpMetrics: o.httpMetrics ?? true,
    triggerPath: o.triggerPath ?? '/webhook',
    triggerMaxBody: o.triggerMaxBody ?? 1 << 20,
    readyStalePeriods: o.readyStalePeriods ?? 6,
    log,
  };
}

/** Parsed flags → Options, applying v4's deprecated-flag precedence rules. Throws UsageError (exit 2). */
export function optionsFromFlags(v: Values<Spec>, explicit: (name: keyof Spec) => boolean): Options {
  let ref: string = v.ref;
  if (v.branch && v.rev && v.rev !== 'HEAD') throw new UsageError("can't set --ref from deprecated --branch and --rev");
  if (v.rev) ref = v.rev;
  else if (v.branch) ref = v.branch;
  let periodMs: number = v.period;
  if (v.wait) periodMs = Math.round(v.wait * 1000);
  let syncTimeoutMs: number = v['sync-timeout'];
  if (v.timeout) syncTimeoutMs = v.timeout * 1000;
  if (v['http-metrics'] && explicit('http-metrics') && !v['http-bind']) throw new UsageError('--http-bind must be specified when --http-metrics is set');
  if (v['trigger-secret-file'] && !v['http-bind']) throw new UsageError('--http-bind must be specified when --trigger-secret-file is set');
  if (v.ssh && (v.username || v.password || v['password-file'])) throw new UsageError('only one of --ssh and --username/--password/--password-file may be specified');
  if (v['sync-on-signal'] && !/^(SIG)?HUP$|^1$/i.test(v['sync-on-signal'])) {
    throw new UsageError('--sync-on-signal: only SIGHUP is supported (it always triggers a sync)');
  }
  let gitConfig: [string, string][] = [];
  if (v['git-config']) {
    try {
      gitConfig = parseGitConfig(v['git-config']);
    } catch (e) {
      throw new UsageError(`flag --git-config: ${(e as Error).message}`);
    }
  }
  const useSsh = v.ssh || explicit('ssh-key-file');
  return {
    repo: v.repo ?? '',
    ref,
    root: v.root ?? '',
    link: v.link,
    periodMs,
    initPeriodMs: v['init-period'] ?? periodMs,
    syncTimeoutMs,
    depth: v.depth,
    filter: v.filter,
    submodules: v.submodules as Options['submodules'],
    sparseCheckoutFile: v['sparse-checkout-file'],
    oneTime: v['one-time'],
    maxFailures: v['max-failures'],
    initMaxFailures: v['init-max-failures'] ?? v['max-failures'],
    staleWorktreeTimeoutMs: v['stale-worktree-timeout'],
    worktreeCheck: v['worktree-check'] as Options['worktreeCheck'],
    errorFile: v['error-file'],
    touchFile: v['touch-file'],
    groupWrite: v['group-write'],
    addUser: v['add-user'],
    git: v.git,
    gitConfig,
    gitGc: v['git-gc'] as Options['gitGc'],
    username: v.username,
    password: v.password,
    passwordFile: v['password-file'],
    sshKeyFile: useSsh ? (v['ssh-key-file'].length ? [...v['ssh-key-file']] : ['/etc/git-secret/ssh']) : undefined,
    credentials: parseCredentials(v.credential),
    askpassUrl: v['askpass-url'],
    sshKnownHosts: v['ssh-known-hosts'],
    sshKnownHostsFile: v['ssh-known-hosts-file'],
    exechookCommand: v['exechook-command'],
    exechookTimeoutMs: v['exechook-timeout'],
    exechookBackoffMs: v['exechook-backoff'],
    webhookUrl: v['webhook-url'],
    webhookMethod: v['webhook-method'],
    webhookSuccessStatus: v['webhook-success-status'],
    webhookTimeoutMs: v['webhook-timeout'],
    webhookBackoffMs: v['webhook-backoff'],
    webhookSignatureSecretFile: v['webhook-signature-secret-file'],
    httpBind: v['http-bind'],
    httpMetrics: v['http-metrics'],
    triggerSecretFile: v['trigger-secret-file'],
    triggerPath: v['trigger-path'],
    triggerMaxBody: v['trigger-max-body'],
    readyStalePeriods: v['ready-stale-periods'],
  };
}
