/** @module One runner per pod name, and a state folder that stray entries or unreaped runners cannot confuse: concurrent `up -d`, `down --all`, `ps` Orphaned, pod-name length. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, psJson, PODKIT_MAIN, podStateDir, pollUntil, runPodkit, startProcess, stopAll, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

const ps = psJson;
const runnerOf = (dir: string, pod: string): number => (JSON.parse(readFileSync(join(dir, 'pods', pod, 'state.json'), 'utf8')) as { runner: { pid: number } }).runner.pid;
/** The detached runners of one state folder, from the process table. */
const runners = (dir: string): string[] =>
  execFileSync('ps', ['-eo', 'pid=,stat=,args='])
    .toString()
    .split('\n')
    .filter((l) => l.includes('--detached-child') && l.includes(dir) && !/^\s*\d+\s+Z/.test(l));
const sleeper = (name: string, secs: number) =>
  yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: ${name} }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: a, command: [sleep, '${secs}'] }]
`, `${name.slice(0, 40)}.yaml`);

test('podkit down --all skips stray files and folders in the state dir, cleans half-written pods, and stops the real one', async () => {
  const dir = podStateDir();
  const up = await runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, sleeper('real', 1201)], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const pods = join(dir, 'pods');
  writeFileSync(join(pods, 'notes.txt'), 'not a pod');
  writeFileSync(join(pods, 'state.json.123.tmp'), '{"half');
  mkdirSync(join(pods, 'Not_A_Pod'));
  mkdirSync(join(pods, 'half'));
  writeFileSync(join(pods, 'half', 'state.json'), '{"name": "half", "runn');
  mkdirSync(join(pods, 'empty'));
  assert.deepEqual((await ps(dir)).map((p) => [p.name, p.orphaned]), [['empty', true], ['half', true], ['real', false]]);
  const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /real: stopped/);
  assert.match(down.stdout, /half: cleaned up/);
  assert.match(down.stdout, /empty: cleaned up/);
  for (const kept of ['notes.txt', 'state.json.123.tmp', 'Not_A_Pod']) assert.ok(existsSync(join(pods, kept)), `${kept} was touched`);
  for (const gone of ['real', 'half', 'empty']) assert.ok(!existsSync(join(pods, gone)), `${gone} is left`);
  assert.deepEqual(await ps(dir), []);
});

test('six concurrent podkit up -d of one pod name start exactly one runner; the others exit non-zero saying it is already running', async () => {
  const dir = podStateDir();
  const file = sleeper('once', 1202);
  const ups = await Promise.all(Array.from({ length: 6 }, () => runPodkit(['up', '-d', '--status-bind', '', '--state-dir', dir, file], { timeoutMs: 90_000 })));
  const won = ups.filter((u) => u.code === 0);
  assert.equal(won.length, 1, ups.map((u) => `${u.code}: ${u.stderr}`).join('\n'));
  for (const u of ups.filter((x) => x.code !== 0)) assert.match(u.stderr, /pod "once" is already running/);
  // Losers' daemons (if any got that far) exit on their own; one runner stays, and it is the one the state names.
  await pollUntil(() => runners(dir).length === 1 || undefined, { timeoutMs: 20_000, what: `one runner (${runners(dir).join('; ')})` });
  assert.match(runners(dir)[0], new RegExp(`^\\s*${runnerOf(dir, 'once')}\\s`));
  const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  await pollUntil(() => runners(dir).length === 0 || undefined, { timeoutMs: 20_000, what: 'no runner left' });
  assert.equal(execFileSync('ps', ['-eo', 'args=']).toString().split('\n').filter((l) => l === 'sleep 1202').length, 0);
});

test('a pod name longer than Kubernetes allows (253) is refused by --dry-run validation, exit 2', async () => {
  const long = `p${'a'.repeat(253)}`;
  const r = await runPodkit(['up', '--dry-run', sleeper(long, 1)]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /254 characters; Kubernetes allows at most 253/);
  const deploy = yamlFile(`apiVersion: apps/v1
kind: Deployment
metadata: { name: ${'d'.repeat(252)} }
spec:
  selector: { matchLabels: { app: x } }
  template:
    metadata: { labels: { app: x } }
    spec: { containers: [{ name: a, command: [sleep, '1'] }] }
`);
  const d = await runPodkit(['up', '--dry-run', deploy]);
  assert.equal(d.code, 2, d.stderr);
  assert.match(d.stderr, /Kubernetes allows at most 253/);
});

test('podkit ps says Orphaned for a SIGKILLed runner that its parent never reaps (a zombie), and down --all cleans up after it', async () => {
  const dir = podStateDir();
  const file = sleeper('unreaped', 1203);
  // sh starts the runner in the background, then becomes a sleep that never waits: the killed runner stays a zombie.
  const parent = startProcess('sh', ['-c', `"${process.execPath}" "${PODKIT_MAIN}" up --status-bind '' --state-dir "${dir}" "${file}" >/dev/null 2>&1 & exec sleep 1000`], {
    env: { ...process.env, PODKIT_HOST_PROCESSES: '1' },
  });
  await pollUntil(async () => (await ps(dir))[0]?.phase === 'Running' || undefined, { timeoutMs: 30_000, what: 'pod running' });
  assert.equal((await ps(dir))[0].orphaned, false);
  const pid = runnerOf(dir, 'unreaped');
  process.kill(pid, 'SIGKILL');
  await pollUntil(() => /^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) || undefined, { timeoutMs: 10_000, what: 'runner a zombie' });
  assert.equal((await ps(dir))[0].orphaned, true);
  const table = await runPodkit(['ps', '--state-dir', dir]);
  assert.match(table.stdout, /unreaped .*Orphaned/);
  const down = await runPodkit(['down', '--all', '--state-dir', dir], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  assert.match(down.stdout, /unreaped: cleaned up/);
  assert.equal(execFileSync('ps', ['-eo', 'args=']).toString().split('\n').filter((l) => l === 'sleep 1203').length, 0);
  await parent.stop();
});
