import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flag, helpText, parseConfig } from './config.js';
import { UsageError } from './errors.js';

const spec = {
  repo: flag.string({ help: 'repository URL', env: ['GITSYNC_REPO', 'GIT_SYNC_REPO'] }),
  period: flag.duration({ help: 'how often to poll', default: 10_000 }),
  depth: flag.int({ help: 'clone depth', default: 1, check: (v: number) => (v < 0 ? 'must be >= 0' : undefined) }),
  'one-time': flag.bool({ help: 'sync once and exit', default: false }),
  replica: flag.hostport({ help: 'a replica', repeatable: true }),
  policy: flag.enum({ help: 'read policy', values: ['replica', 'master'], default: 'replica' }),
  verbose: flag.int({ help: 'verbosity', short: 'v', default: 0, env: [] }),
  listen: flag.hostport({ help: 'listen address', aliases: ['statsd.listen-udp'], default: { host: '127.0.0.1', port: 9125 } }),
  password: flag.string({ help: 'password', secret: true }),
};
const cmd = { command: 'podkit test', env: {} };

test('defaults apply when nothing is set', () => {
  const { values, origin } = parseConfig(spec, [], cmd);
  assert.equal(values.period, 10_000);
  assert.equal(values.depth, 1);
  assert.equal(values['one-time'], false);
  assert.deepEqual(values.replica, []);
  assert.equal(values.repo, undefined);
  assert.equal(origin.period, 'default');
  assert.ok(Object.isFrozen(values));
});

test('flags beat env, env beats file, file beats defaults', () => {
  const file = { values: { depth: 3, period: '1m', repo: 'file-repo' }, source: 'cfg.yaml' };
  const env = { GIT_SYNC_REPO: 'legacy', PODKIT_DEPTH: '5' };
  const a = parseConfig(spec, [], { ...cmd, env, file });
  assert.equal(a.values.repo, 'legacy');
  assert.equal(a.values.depth, 5);
  assert.equal(a.values.period, 60_000);
  assert.equal(a.origin.period, 'file');
  const b = parseConfig(spec, ['--depth', '7', '--repo=flag-repo'], { ...cmd, env, file });
  assert.equal(b.values.depth, 7);
  assert.equal(b.values.repo, 'flag-repo');
  assert.equal(b.origin.repo, 'flag');
});

test('first env name wins; repeatable env is comma-separated', () => {
  const { values } = parseConfig(spec, [], { ...cmd, env: { GITSYNC_REPO: 'new', GIT_SYNC_REPO: 'old', PODKIT_REPLICA: 'a:1, b:2' } });
  assert.equal(values.repo, 'new');
  assert.deepEqual(values.replica, [{ host: 'a', port: 1 }, { host: 'b', port: 2 }]);
});

test('spellings: --x v, --x=v, -x, -v N, --no-bool, aliases, repeatable flags', () => {
  const { values } = parseConfig(
    spec,
    ['-repo', 'r', '-v', '5', '--one-time', '--no-one-time', '--replica', 'h:1', '--replica=[::1]:2', '--statsd.listen-udp=:9999'],
    cmd,
  );
  assert.equal(values.repo, 'r');
  assert.equal(values.verbose, 5);
  assert.equal(values['one-time'], false);
  assert.deepEqual(values.replica, [{ host: 'h', port: 1 }, { host: '::1', port: 2 }]);
  assert.deepEqual(values.listen, { host: '0.0.0.0', port: 9999 });
  assert.equal(parseConfig(spec, ['--one-time=true'], cmd).values['one-time'], true);
  assert.equal(parseConfig(spec, ['-v=2'], cmd).values.verbose, 2);
});

test('flags on argv replace repeatable values from env', () => {
  const { values } = parseConfig(spec, ['--replica', 'x:3'], { ...cmd, env: { PODKIT_REPLICA: 'a:1' } });
  assert.deepEqual(values.replica, [{ host: 'x', port: 3 }]);
});

test('bad usage: one line naming the flag or env var, exit code 2', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['--nope'], {}, /unknown flag --nope \(see podkit test --help\)/],
    [['--deph=3'], {}, /unknown flag --deph \(did you mean --depth\?\)/],
    [['--depth', 'x'], {}, /flag --depth: expected an integer \(got "x"\)/],
    [['--depth', '-1'], {}, /flag --depth: must be >= 0/],
    [['--period', '10 parsecs'], {}, /flag --period: expected a duration/],
    [['--policy', 'nearest'], {}, /flag --policy: expected one of replica\|master/],
    [['--replica', 'nohost'], {}, /flag --replica: expected HOST:PORT/],
    // Named as typed: a compatibility spelling in the error, not the flag's own name the user never wrote.
    [['--statsd.listen-udp=:abc'], {}, /flag --statsd\.listen-udp: expected HOST:PORT \(got ":abc"\)/],
    [['-depth', 'x'], {}, /flag --depth: expected an integer/],
    [['--repo'], {}, /flag --repo: needs a value/],
    [['stray'], {}, /unexpected argument "stray"/],
    [[], { PODKIT_DEPTH: 'deep' }, /env PODKIT_DEPTH: expected an integer/],
    [[], { PODKIT_ONE_TIME: 'maybe' }, /env PODKIT_ONE_TIME: expected true or false/],
  ];
  for (const [argv, env, re] of cases) {
    assert.throws(
      () => parseConfig(spec, argv, { ...cmd, env }),
      (e: unknown) => e instanceof UsageError && e.exitCode === 2 && re.test(e.message) && !e.message.includes('\n'),
      `${argv.join(' ')} ${JSON.stringify(env)}`,
    );
  }
});

test('secret values are never echoed in errors', () => {
  const s = { token: flag.int({ help: 'a numeric secret', secret: true }) };
  assert.throws(() => parseConfig(s, ['--token', 'hunter2'], cmd), (e: Error) => !e.message.includes('hunter2') && /REDACTED/.test(e.message));
});

test('unknown key in a config file names the file and key', () => {
  assert.throws(() => parseConfig(spec, [], { ...cmd, file: { values: { colour: 'red' }, source: 'cfg.yaml' } }), /cfg.yaml: unknown setting "colour"/);
});

test('positionals only when allowed, and after --', () => {
  const p = parseConfig(spec, ['a.yaml', '--depth', '2', '--', '--not-a-flag'], { ...cmd, positionals: true });
  assert.deepEqual(p.positionals, ['a.yaml', '--not-a-flag']);
});

test('help lists every visible flag with env and default', () => {
  const h = helpText(spec, 'podkit test [flags]', 'A test command.');
  // Every help line in sentence case, whatever the flag's author wrote.
  assert.match(h, /--repo STRING\s+Repository URL \[env GITSYNC_REPO, GIT_SYNC_REPO\]/);
  assert.match(h, /--period DURATION\s+How often to poll \(default 10s\) \[env PODKIT_PERIOD\]/);
  assert.match(h, /-v, --verbose INT/);
  assert.match(h, /--listen, --statsd.listen-udp HOSTPORT/);
  assert.match(h, /\(default 127.0.0.1:9125\)/);
  assert.match(h, /replica.*repeatable/);
  assert.doesNotMatch(h, /default undefined/);
});

test('sentence case keeps the podkit: mark of flags a peer lacks', async () => {
  const { sentence } = await import('./config.js');
  assert.equal(sentence('sync once'), 'Sync once');
  assert.equal(sentence('podkit: enable POST /webhook'), 'podkit: Enable POST /webhook');
  assert.equal(sentence('HTTPS bind address'), 'HTTPS bind address');
});

test('withEnvPrefix gives unnamed flags a component prefix and keeps explicit env names', async () => {
  const { withEnvPrefix } = await import('./config.js');
  const s = withEnvPrefix('PODKIT_X_', { 'read-policy': flag.string({ help: 'p' }), fmt: flag.string({ help: 'f', env: ['PODKIT_LOG_FORMAT'] }) });
  const { values } = parseConfig(s, [], { command: 'x', env: { PODKIT_X_READ_POLICY: 'master', PODKIT_READ_POLICY: 'ignored', PODKIT_LOG_FORMAT: 'json' } });
  assert.equal(values['read-policy'], 'master');
  assert.equal(values.fmt, 'json');
  assert.match(helpText(s, 'x', 'x'), /env PODKIT_X_READ_POLICY/);
});
