/** @module The `podkit git-sync` flag spec: kubernetes/git-sync v4 spellings, GITSYNC_* env (and the legacy GIT_SYNC_* forms v4 still reads), plus podkit's own. */
import { flag } from '../core/config.js';
import { logFormatFlag } from '../core/command.js';

/** `GITSYNC_X` first, then the legacy spellings v4 still accepts. */
const env = (name: string, ...legacy: string[]) => [`GITSYNC_${name}`, ...legacy];
const both = (name: string) => env(name, `GIT_SYNC_${name}`);

const atLeast10ms = (v: number) => (v < 10 ? 'must be at least 10ms' : undefined);
const atLeast1s = (v: number) => (v < 1000 ? 'must be at least 1s' : undefined);

/**
 * Every flag. `podkit inject` reads this to map annotations such as `podkit.io/git-sync.repo`
 * to `--repo`, so keys are the canonical long flag names.
 */
export const spec = {
  repo: flag.string({ help: 'the git repository to sync (required)', env: both('REPO'), metavar: 'URL' }),
  ref: flag.string({ help: 'the git revision (branch, tag, or hash) to sync', env: env('REF'), default: 'HEAD' }),
  branch: flag.string({ help: 'DEPRECATED: use --ref', env: ['GIT_SYNC_BRANCH'], hidden: true }),
  rev: flag.string({ help: 'DEPRECATED: use --ref', env: ['GIT_SYNC_REV'], hidden: true }),
  depth: flag.int({
    help: 'shallow clone with history truncated to this many commits (0 = full history)',
    env: both('DEPTH'),
    default: 1,
    check: (v) => (v < 0 ? 'must be greater than or equal to 0' : undefined),
  }),
  filter: flag.string({
    help: "partial clone with this object filter (e.g. 'blob:none', 'tree:0'); missing objects are fetched when a tree needs them",
    env: env('FILTER'),
    metavar: 'SPEC',
    check: (v) => (/^(blob:none|blob:limit=\d+[kmg]?|tree:\d+|object:type=(blob|tree|commit|tag)|sparse:oid=\S+|combine:\S+)$/.test(v) ? undefined : "must be a git object filter such as 'blob:none', 'blob:limit=1m' or 'tree:0'"),
  }),
  submodules: flag.enum({ help: 'git submodule behaviour', values: ['recursive', 'shallow', 'off'], env: both('SUBMODULES'), default: 'recursive' }),
  'sparse-checkout-file': flag.string({ help: 'path to a git sparse-checkout file', env: both('SPARSE_CHECKOUT_FILE'), metavar: 'PATH' }),
  root: flag.string({ help: 'the root directory for git-sync operations (required)', env: both('ROOT'), metavar: 'PATH' }),
  link: flag.string({
    help: 'path (absolute or relative to --root) of the symlink to the published tree (default: the leaf dir of --repo)',
    env: both('LINK'),
    aliases: ['dest'],
    metavar: 'PATH',
  }),
  'error-file': flag.string({ help: 'path (absolute or relative to --root) of a file holding the last error; removed on success', env: both('ERROR_FILE'), metavar: 'PATH' }),
  period: flag.duration({ help: 'how long to wait between syncs, at least 10ms', env: both('PERIOD'), default: 10_000, check: atLeast10ms }),
  'init-period': flag.duration({
    help: 'how long to wait between syncs until the first one succeeds, at least 10ms (default: --period)',
    env: env('INIT_PERIOD'),
    check: atLeast10ms,
  }),
  wait: flag.number({ help: 'DEPRECATED: use --period (seconds)', env: ['GIT_SYNC_WAIT'], hidden: true }),
  'sync-timeout': flag.duration({ help: 'the total time allowed for one complete sync, at least 10ms', env: both('SYNC_TIMEOUT'), default: 120_000, check: atLeast10ms }),
  timeout: flag.int({ help: 'DEPRECATED: use --sync-timeout (seconds)', env: ['GIT_SYNC_TIMEOUT'], hidden: true }),
  'one-time': flag.bool({ help: 'exit after the first sync', env: both('ONE_TIME'), default: false }),
  'sync-on-signal': flag.string({ help: 'also sync on this signal (SIGHUP always triggers a sync)', env: both('SYNC_ON_SIGNAL'), metavar: 'SIGNAL' }),
  'max-failures': flag.int({
    help: 'exit 1 at this many consecutive failures, counted as v4 does (0 and 1: at the first; negative = retry forever)',
    env: both('MAX_FAILURES'),
    aliases: ['max-sync-failures'],
    default: 0,
  }),
  'init-max-failures': flag.int({
    help: 'the same budget until the first successful sync (negative = retry forever; default: --max-failures)',
    env: env('INIT_MAX_FAILURES'),
  }),
  'touch-file': flag.string({ help: 'path (absolute or relative to --root) of a file touched after each sync that changed the tree', env: both('TOUCH_FILE'), metavar: 'PATH' }),
  'add-user': flag.bool({ help: 'add an /etc/passwd entry for the current uid/gid if it has none (ssh needs one; /etc/passwd must be writable)', env: both('ADD_USER'), default: false }),
  'group-write': flag.bool({ help: 'make all data (repo, worktrees, link) group-writable', env: both('GROUP_WRITE'), default: false }),
  'stale-worktree-timeout': flag.duration({
    help: 'how long to keep trees that are no longer published, so pinned readers never see files vanish',
    env: env('STALE_WORKTREE_TIMEOUT'),
    default: 30_000,
  }),
  'worktree-check': flag.enum({
    help: "podkit: how each sync checks the published tree before trusting it: 'quick' (its .git file and HEAD: a few file reads) or 'full' (v4's: also git rev-parse HEAD and git fsck --connectivity-only in it); a tree that fails is rebuilt and published again",
    values: ['quick', 'full'],
    env: env('WORKTREE_CHECK'),
    default: 'quick',
  }),
  'exechook-command': flag.string({ help: 'command run (no args, cwd = the new tree, $GITSYNC_HASH set) after each publish', env: both('EXECHOOK_COMMAND'), aliases: ['sync-hook-command'], metavar: 'CMD' }),
  'exechook-timeout': flag.duration({ help: 'timeout for the exechook', env: both('EXECHOOK_TIMEOUT'), default: 30_000, check: atLeast1s }),
  'exechook-backoff': flag.duration({ help: 'wait before retrying a failed exechook', env: both('EXECHOOK_BACKOFF'), default: 3000, check: atLeast1s }),
  'webhook-url': flag.string({ help: 'URL called (header Gitsync-Hash) after each publish', env: both('WEBHOOK_URL'), metavar: 'URL' }),
  'webhook-method': flag.string({ help: 'HTTP method for --webhook-url', env: both('WEBHOOK_METHOD'), default: 'POST' }),
  'webhook-success-status': flag.int({ help: 'HTTP status meaning success (0 or -1: fire and forget)', env: both('WEBHOOK_SUCCESS_STATUS'), default: 200 }),
  'webhook-timeout': flag.duration({ help: 'timeout for --webhook-url', env: both('WEBHOOK_TIMEOUT'), default: 1000, check: atLeast1s }),
  'webhook-backoff': flag.duration({ help: 'wait before retrying a failed --webhook-url', env: both('WEBHOOK_BACKOFF'), default: 3000, check: atLeast1s }),
  'webhook-signature-secret-file': flag.string({
    help: 'podkit: sign the outbound webhook body with HMAC-SHA256 (header X-Podkit-Signature-256) using the secret in this file',
    env: env('WEBHOOK_SIGNATURE_SECRET_FILE'),
    metavar: 'PATH',
  }),
  'trigger-secret-file': flag.string({
    help: 'podkit: enable POST /webhook on --http-bind; GitHub, Gitea, GitLab or generic HMAC signatures are checked with the secret in this file',
    env: env('TRIGGER_SECRET_FILE'),
    metavar: 'PATH',
  }),
  'trigger-max-body': flag.int({
    help: 'podkit: largest request body the HTTP server reads, bytes; a bigger trigger is refused with 413 before its signature is checked',
    env: env('TRIGGER_MAX_BODY'),
    default: 1 << 20,
    check: (v) => (v < 1 ? 'must be at least 1' : undefined),
  }),
  'trigger-path': flag.string({ help: 'podkit: path of the inbound trigger endpoint', env: env('TRIGGER_PATH'), default: '/webhook' }),
  username: flag.string({ help: 'username for git auth over HTTP(S)', env: both('USERNAME') }),
  password: flag.string({ help: 'password or token for git auth (prefer --password-file)', env: both('PASSWORD'), secret: true }),
  'password-file': flag.string({ help: 'file holding the password or token; re-read on every sync', env: both('PASSWORD_FILE'), metavar: 'PATH' }),
  ssh: flag.bool({ help: 'use SSH auth (implied when --ssh-key-file is set)', env: both('SSH'), default: false }),
  'ssh-key-file': flag.string({
    help: 'an SSH private key to use (default /etc/git-secret/ssh); repeatable, every key is offered (env: a colon-separated list)',
    env: env('SSH_KEY_FILE', 'GIT_SYNC_SSH_KEY_FILE', 'GIT_SSH_KEY_FILE'),
    repeatable: true,
    envSeparator: ':',
    metavar: 'PATH',
  }),
  credential: flag.string({
    help: 'credentials for URLs (e.g. submodules\' hosts): a JSON object {"url","username","password"|"password-file"} or a list of them; repeatable',
    env: env('CREDENTIAL'),
    repeatable: true,
    envSeparator: '',
    secret: true,
    metavar: 'JSON',
  }),
  'askpass-url': flag.string({
    help: 'a URL fetched before every sync for the credentials (a 200 answer with username=… and password=… lines)',
    env: env('ASKPASS_URL', 'GIT_SYNC_ASKPASS_URL', 'GIT_ASKPASS_URL'),
    metavar: 'URL',
    check: (v) => (/^https?:\/\/[^/]/i.test(v) ? undefined : 'must be an http(s) URL'),
  }),
  'ssh-known-hosts': flag.bool({ help: 'verify the server against --ssh-known-hosts-file', env: env('SSH_KNOWN_HOSTS', 'GIT_SYNC_KNOWN_HOSTS', 'GIT_KNOWN_HOSTS'), default: true }),
  'ssh-known-hosts-file': flag.string({
    help: 'the known_hosts file to use',
    env: env('SSH_KNOWN_HOSTS_FILE', 'GIT_SYNC_SSH_KNOWN_HOSTS_FILE', 'GIT_SSH_KNOWN_HOSTS_FILE'),
    default: '/etc/git-secret/known_hosts',
    metavar: 'PATH',
  }),
  git: flag.string({ help: 'the git command to run', env: both('GIT'), default: 'git' }),
  'git-config': flag.string({ help: "extra git config as 'key:val,\"key\":\"val\"'", env: both('GIT_CONFIG'), metavar: 'LIST' }),
  'git-gc': flag.enum({ help: 'git gc after old trees are removed', values: ['auto', 'always', 'aggressive', 'off'], env: both('GIT_GC'), default: 'auto' }),
  'http-bind': flag.hostport({ help: 'bind address for /, /healthz, /readyz, /metrics and the trigger endpoint', env: both('HTTP_BIND') }),
  'http-metrics': flag.bool({ help: 'serve /metrics on --http-bind', env: both('HTTP_METRICS'), default: true }),
  'http-pprof': flag.bool({ help: 'accepted for compatibility; ignored', env: both('HTTP_PPROF'), default: false }),
  'ready-stale-periods': flag.int({
    help: 'podkit: /readyz fails when the last successful sync is older than this many periods (0 = never)',
    env: env('READY_STALE_PERIODS'),
    default: 6,
    check: (v) => (v < 0 ? 'must be >= 0' : undefined),
  }),
  'exit-codes': flag.enum({
    help: "podkit: exit codes for bad usage: 'podkit' (2 for any bad flag, value or combination) or 'v4' (kubernetes/git-sync v4's: 2 when its flag parser refuses the command line, 1 for what it validates itself)",
    values: ['podkit', 'v4'],
    env: env('EXIT_CODES'),
    default: 'podkit',
  }),
  verbose: flag.int({ help: 'log verbosity: 0 info, 1-4 debug, 5+ trace', short: 'v', env: env('VERBOSE'), default: 0 }),
  'log-format': logFormatFlag,
};

export type Spec = typeof spec;
