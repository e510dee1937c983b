import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../core/config.js';
import { UsageError } from '../core/errors.js';
import { spec } from './flags.js';
import { defaultLink, optionsFromFlags } from './options.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const p = parseConfig(spec, argv, { command: 'podkit git-sync', env });
  return optionsFromFlags(p.values, (n) => p.origin[n] !== 'default');
};

test('v4 defaults', () => {
  const o = parse(['--repo', 'https://example.com/org/site.git', '--root', '/tmp/r']);
  assert.equal(o.ref, 'HEAD');
  assert.equal(o.periodMs, 10_000);
  assert.equal(o.syncTimeoutMs, 120_000);
  assert.equal(o.depth, 1);
  assert.equal(o.maxFailures, 0);
  assert.equal(o.submodules, 'recursive');
  assert.equal(o.exechookTimeoutMs, 30_000);
  assert.equal(o.webhookMethod, 'POST');
  assert.equal(o.webhookSuccessStatus, 200);
  assert.equal(o.webhookTimeoutMs, 1000);
  assert.equal(o.webhookBackoffMs, 3000);
  assert.equal(o.sshKeyFile, undefined);
  assert.equal(o.git, 'git');
  assert.equal(defaultLink('https://example.com/org/site.git'), 'site.git');
  assert.equal(defaultLink('git@example.com:org/site'), 'site');
});

test('GITSYNC_* env and the legacy GIT_SYNC_* spellings; flags win', () => {
  const env = { GITSYNC_REPO: 'file:///r', GITSYNC_ROOT: '/tmp/x', GITSYNC_PERIOD: '250ms', GIT_SYNC_DEPTH: '3', GITSYNC_ONE_TIME: 'true', GIT_SYNC_MAX_FAILURES: '-1', GITSYNC_REF: 'main' };
  const o = parse([], env);
  assert.equal(o.repo, 'file:///r');
  assert.equal(o.periodMs, 250);
  assert.equal(o.depth, 3);
  assert.equal(o.oneTime, true);
  assert.equal(o.maxFailures, -1);
  assert.equal(o.ref, 'main');
  assert.equal(parse(['--period=2s'], env).periodMs, 2000);
  assert.equal(parse([], { GIT_SYNC_BRANCH: 'dev' }).ref, 'dev');
  assert.equal(parse(['--rev', 'v1']).ref, 'v1');
  assert.equal(parse(['--wait', '1.5']).periodMs, 1500);
  assert.equal(parse(['--timeout', '7']).syncTimeoutMs, 7000);
  assert.equal(parse(['-v', '5']).repo, '');
  assert.deepEqual(parse(['--ssh-key-file', '/k']).sshKeyFile, ['/k']);
  assert.deepEqual(parse(['--ssh']).sshKeyFile, ['/etc/git-secret/ssh']);
  assert.equal(parse(['--max-sync-failures', '4']).maxFailures, 4);
  assert.equal(parse(['--webhook-success-status', '-1']).webhookSuccessStatus, -1);
  assert.deepEqual(parse(['--git-config', 'a.b:c']).gitConfig, [['a.b', 'c']]);
});

test('bad usage is a UsageError (exit 2) naming the flag', () => {
  const bad = (argv: string[], re: RegExp, env: NodeJS.ProcessEnv = {}) =>
    assert.throws(() => parse(argv, env), (e: unknown) => e instanceof UsageError && e.exitCode === 2 && re.test(e.message));
  bad(['--no-such-flag'], /unknown flag --no-such-flag/);
  bad(['--period', '5ms'], /--period: must be at least 10ms/);
  bad(['--depth', '-1'], /--depth/);
  bad(['--submodules', 'some'], /--submodules/);
  bad(['--exechook-timeout', '500ms'], /at least 1s/);
  bad(['--git-config', 'x'], /--git-config/);
  bad(['--http-metrics'], /--http-bind must be specified/);
  bad(['--ssh', '--username', 'u'], /only one of --ssh/);
  bad([], /GITSYNC_PERIOD/, { GITSYNC_PERIOD: 'soon' });
  bad(['--sync-on-signal', 'SIGUSR1'], /only SIGHUP/);
});

test('v4 flags --filter, --init-period, --init-max-failures and their GITSYNC_* env forms', () => {
  const o = parse(['--filter=blob:none', '--init-period=50ms', '--init-max-failures=-1', '--period=5s', '--max-failures=2']);
  assert.equal(o.filter, 'blob:none');
  assert.equal(o.initPeriodMs, 50);
  assert.equal(o.initMaxFailures, -1);
  const e = parse([], { GITSYNC_FILTER: 'tree:0', GITSYNC_INIT_PERIOD: '2s', GITSYNC_INIT_MAX_FAILURES: '7' });
  assert.equal(e.filter, 'tree:0');
  assert.equal(e.initPeriodMs, 2000);
  assert.equal(e.initMaxFailures, 7);
  // Unset, they follow --period and --max-failures (v4).
  const d = parse(['--period=3s', '--max-failures=4']);
  assert.equal(d.initPeriodMs, 3000);
  assert.equal(d.initMaxFailures, 4);
  const bad = (argv: string[], re: RegExp, env: NodeJS.ProcessEnv = {}) =>
    assert.throws(() => parse(argv, env), (err: unknown) => err instanceof UsageError && err.exitCode === 2 && re.test(err.message));
  bad(['--filter=everything'], /--filter: must be a git object filter/);
  bad(['--init-period=1ms'], /--init-period: must be at least 10ms/);
  bad(['--init-max-failures=x'], /--init-max-failures: expected an integer/);
  bad([], /GITSYNC_INIT_PERIOD/, { GITSYNC_INIT_PERIOD: 'later' });
});

test('--ssh-key-file repeated keeps every key (env: colon-separated, as v4); --credential JSON and --askpass-url', () => {
  assert.deepEqual(parse(['--ssh-key-file=/a', '--ssh-key-file=/b']).sshKeyFile, ['/a', '/b']);
  assert.deepEqual(parse(['--ssh'], { GITSYNC_SSH_KEY_FILE: '/a:/b' }).sshKeyFile, ['/a', '/b']);
  const one = '{"url":"https://git.example.com","username":"u","password-file":"/p"}';
  assert.deepEqual(parse([`--credential=${one}`]).credentials, [{ url: 'https://git.example.com', username: 'u', password: undefined, passwordFile: '/p' }]);
  const list = '[{"url":"https://a.example","username":"a","password":"pa"},{"url":"http://b.example:8080/x","username":"b","password":"pb"}]';
  assert.deepEqual(
    parse([], { GITSYNC_CREDENTIAL: list }).credentials?.map((c) => c.username),
    ['a', 'b'],
  );
  assert.equal(parse([`--credential=${one}`, `--credential=${list}`]).credentials?.length, 3);
  assert.equal(parse(['--askpass-url=http://127.0.0.1:1/creds']).askpassUrl, 'http://127.0.0.1:1/creds');
  assert.equal(parse([], { GITSYNC_ASKPASS_URL: 'http://m/c' }).askpassUrl, 'http://m/c');
  const bad = (argv: string[], re: RegExp) => assert.throws(() => parse(argv), (err: unknown) => err instanceof UsageError && err.exitCode === 2 && re.test(err.message));
  bad(['--credential=nope'], /--credential: not a JSON object or list/);
  bad(['--credential={"username":"u","password":"p"}'], /--credential: URL must be specified/);
  bad(['--credential={"url":"https://h","password":"p"}'], /--credential: username must be specified/);
  bad(['--credential={"url":"https://h","username":"u"}'], /--credential: password or password-file must be specified/);
  bad(['--credential={"url":"https://h","username":"u","password":"p","password-file":"/f"}'], /only one of password and password-file/);
  bad(['--credential={"url":"https://h","username":"u","pass":"p"}'], /unknown field "pass"/);
  bad(['--credential=[1]'], /must be a JSON object/);
  bad(['--askpass-url=ftp://x'], /--askpass-url: must be an http\(s\) URL/);
});
