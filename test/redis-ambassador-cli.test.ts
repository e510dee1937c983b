/** @module The built CLI: bad usage exits 2, secrets come from files, redis-benchmark and the HTTP endpoints work. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, pollUntil, run, runPodkit, startPodkit, startProcess, startRedis, stopAll, tempDir, waitForOutput, waitForPort, closeRedisClients, PODKIT_MAIN, type RedisNode } from './helpers/index.js';

let master: RedisNode;
let replica: RedisNode;
const PASS = 'upstream-pw-7f3a';
const CLIENT_PASS = 'client-pw-91c2';
let dir: string;

before(async () => {
  master = await startRedis({ password: PASS });
  replica = await startRedis({ password: PASS, replicaOf: { host: '127.0.0.1', port: master.port } });
  dir = tempDir('podkit-amb-cli-');
  writeFileSync(join(dir, 'pw'), `${PASS}\n`);
  writeFileSync(join(dir, 'client-pw'), `${CLIENT_PASS}\n`);
});

after(async () => {
  closeRedisClients();
  await stopAll();
});

const bad: [string, string[], RegExp][] = [
  ['no --master', [], /--master: required/],
  ['a bad --master', ['--master', 'nohost'], /--master: expected HOST:PORT/],
  ['a bad --read-policy', ['--master', '127.0.0.1:1', '--read-policy', 'sometimes'], /--read-policy: expected one of replica\|prefer-replica\|master/],
  ['an unknown flag', ['--master', '127.0.0.1:1', '--password', 'x'], /unknown flag --password/],
  ['a missing password file', ['--master', '127.0.0.1:1', '--password-file', '/nonexistent/pw'], /password-file: cannot read \/nonexistent\/pw/],
  ['a bad --max-bulk', ['--master', '127.0.0.1:1', '--max-bulk', 'lots'], /--max-bulk: expected a size/],
  ['no crash on lengths: a --max-bulk past what one buffer holds', ['--master', '127.0.0.1:1', '--max-bulk', '8gb'], /--max-bulk: at most \d+ bytes/],
  ['a bad --pool-size', ['--master', '127.0.0.1:1', '--pool-size', '0'], /--pool-size: must be 1\.\.64/],
  ['--sentinel and --master together', ['--sentinel', '127.0.0.1:1', '--master-name', 'm', '--master', '127.0.0.1:2'], /--sentinel: give either --sentinel .* or --master\/--replica, not both/],
  ['--sentinel and --replica together', ['--sentinel', '127.0.0.1:1', '--master-name', 'm', '--replica', '127.0.0.1:2'], /not both/],
  ['--sentinel without --master-name', ['--sentinel', '127.0.0.1:1'], /--master-name: required with --sentinel/],
  ['--master-name without --sentinel', ['--master', '127.0.0.1:1', '--master-name', 'm'], /--master-name: only with --sentinel/],
  ['a bad --sentinel', ['--sentinel', 'nohost', '--master-name', 'm'], /--sentinel: expected HOST:PORT/],
  ['a bad --consistency', ['--master', '127.0.0.1:1', '--consistency', 'strong'], /--consistency: expected one of eventual\|session/],
  ['--consistency session with --read-policy replica', ['--master', '127.0.0.1:1', '--replica', '127.0.0.1:2', '--consistency', 'session', '--read-policy', 'replica'], /--consistency: session needs --read-policy prefer-replica or master/],
  ['a too small --max-lag', ['--master', '127.0.0.1:1', '--max-lag', '500ms'], /--max-lag: must be at least 1s/],
  ['a bad --sched-policy', ['--master', '127.0.0.1:1', '--sched-policy', 'fifo'], /--sched-policy: expected one of normal\|batch/],
];
for (const [what, args, re] of bad) {
  test(`${what} → one line on stderr, exit 2`, async () => {
    const r = await runPodkit(['redis-ambassador', ...args], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
}

test('--help lists every flag with its env var', async () => {
  const r = await runPodkit(['redis-ambassador', '--help']);
  assert.equal(r.code, 0);
  for (const f of ['--listen', '--master', '--replica', '--read-policy', '--http-bind', '--password-file', '--username', '--client-password-file']) assert.ok(r.stdout.includes(f), f);
  assert.match(r.stdout, /PODKIT_REDIS_AMBASSADOR_READ_POLICY/);
});

test('the CLI with secrets from files: redis-benchmark through it, /readyz, /metrics, secrets never logged, SIGTERM exits 0', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const httpPort = await freePort();
  const p = startPodkit(
    ['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--master', master.addr, '--replica', replica.addr, '--http-bind', `127.0.0.1:${httpPort}`, '--password-file', join(dir, 'pw'), '--client-password-file', join(dir, 'client-pw'), '-v', '1'],
    { env: { ...process.env, PODKIT_LOG_FORMAT: 'json' } },
  );
  await waitForPort(port, '127.0.0.1', 20_000);
  await pollUntil(async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status === 200, { what: 'readyz' });
  const b = await run('redis-benchmark', ['-p', String(port), '-a', CLIENT_PASS, '-c', '10', '-n', '5000', '-P', '8', '-t', 'set,get,lpush,lpop', '--csv'], { timeoutMs: 60_000 });
  assert.match(b.stdout, /"SET","\d+/);
  assert.match(b.stdout, /"GET","\d+/);
  const noauth = await run('redis-cli', ['-p', String(port), 'GET', 'x']).catch((e: Error) => ({ stdout: e.message }));
  assert.match(noauth.stdout, /NOAUTH/);
  const m = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  for (const fam of ['podkit_ambassador_commands_total{command="get",route="replica"}', 'podkit_ambassador_commands_total{command="set",route="master"}', 'podkit_ambassador_command_duration_seconds_bucket', 'podkit_ambassador_connections{kind="client"}', 'podkit_ambassador_bytes_total{direction="client_in"}', 'podkit_ambassador_errors_total{kind="noauth"}'])
    assert.ok(m.includes(fam), `metrics include ${fam}`);
  p.signal('SIGTERM');
  assert.equal(await p.exited, 0);
  const logs = p.stdout() + p.stderr();
  assert.ok(logs.includes('redis ambassador listening'), logs.slice(0, 500));
  assert.ok(!logs.includes(PASS) && !logs.includes(CLIENT_PASS), 'no secret in the logs');
});

test('without the conn_io addon: one warning line and connections on net.Socket; forcing native is exit 2; a bad PODKIT_AMBASSADOR_CLIENT_IO is exit 2', { timeout: 60_000 }, async () => {
  const missing = { ...process.env, PODKIT_CONN_IO_ADDON: '/nonexistent/conn_io.node', PODKIT_LOG_FORMAT: 'json' };
  const port = await freePort();
  const args = ['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--master', `127.0.0.1:${master.port}`, '--password-file', join(dir, 'pw'), '--http-bind', '127.0.0.1:0'];
  const p = startPodkit(args, { env: missing });
  await waitForOutput(p, /redis ambassador listening/);
  const set = await run('redis-cli', ['-p', String(port), 'SET', 'fallback:k', 'v']);
  assert.equal(set.stdout.trim(), 'OK');
  const get = await run('redis-cli', ['-p', String(port), 'GET', 'fallback:k']);
  assert.equal(get.stdout.trim(), 'v');
  assert.equal(p.stderr().split('\n').filter((x) => x.includes('conn_io addon unavailable')).length, 1, p.stderr());
  assert.match(p.stderr(), /"clientIo":"socket"/);
  await p.stop();

  const forced = await runPodkit(['redis-ambassador', '--listen', '127.0.0.1:0', '--master', '127.0.0.1:1', '--http-bind', '127.0.0.1:0'], { env: { ...missing, PODKIT_AMBASSADOR_CLIENT_IO: 'native' }, timeoutMs: 20_000 });
  assert.equal(forced.code, 2, forced.stderr);
  assert.match(forced.stderr, /PODKIT_AMBASSADOR_CLIENT_IO: the conn_io addon did not load/);
  const bogus = await runPodkit(['redis-ambassador', '--listen', '127.0.0.1:0', '--master', '127.0.0.1:1', '--http-bind', '127.0.0.1:0'], { env: { ...process.env, PODKIT_AMBASSADOR_CLIENT_IO: 'epoll' }, timeoutMs: 20_000 });
  assert.equal(bogus.code, 2, bogus.stderr);
  assert.match(bogus.stderr, /must be auto, native or socket, got "epoll"/);
});

/** The scheduling policy of a process's main thread, as /proc reports it (stat field 41: 0 SCHED_OTHER, 3 SCHED_BATCH). */
const policyOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]); // the command name may itself hold ') '
};

test('--sched-policy batch: the event loop thread runs as SCHED_BATCH and serves; the default leaves the policy it was started with; without the addon batch is exit 2', { timeout: 60_000 }, async () => {
  const cases = [
    [[], {}, false, 0],
    [['--sched-policy', 'batch'], {}, false, 3],
    [[], { PODKIT_REDIS_AMBASSADOR_SCHED_POLICY: 'batch' }, false, 3],
    // Started under `chrt -b` (an operator's choice): the default does not undo it.
    [[], {}, true, 3],
  ] as const;
  for (const [extra, env, underChrt, policy] of cases) {
    const port = await freePort();
    const args = ['redis-ambassador', '--listen', `127.0.0.1:${port}`, '--master', `127.0.0.1:${master.port}`, '--password-file', join(dir, 'pw'), '--http-bind', '127.0.0.1:0', ...extra];
    const p = underChrt ? startProcess('chrt', ['-b', '0', process.execPath, PODKIT_MAIN, ...args], { name: 'chrt podkit' }) : startPodkit(args, { env: { ...process.env, ...env } });
    await waitForOutput(p, /redis ambassador listening/);
    assert.equal(policyOf(p.pid), policy, `${extra.join(' ')} ${JSON.stringify(env)} ${underChrt ? 'under chrt -b' : ''}`);
    assert.equal((await run('redis-cli', ['-p', String(port), 'SET', 'sched:k', String(policy)])).stdout.trim(), 'OK');
    assert.equal((await run('redis-cli', ['-p', String(port), 'GET', 'sched:k'])).stdout.trim(), String(policy));
    await p.stop();
  }
  const missing = { ...process.env, PODKIT_CONN_IO_ADDON: '/nonexistent/conn_io.node' };
  const r = await runPodkit(['redis-ambassador', '--listen', '127.0.0.1:0', '--master', '127.0.0.1:1', '--http-bind', '127.0.0.1:0', '--sched-policy', 'batch'], { env: missing, timeoutMs: 20_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /sched-policy: batch needs the conn_io addon, which did not load/);
});
