/** @module Container logs bounded as the kubelet bounds them: rotated at --log-max-size, --log-max-files kept; the detached runner's own log holds events, not container lines. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { downAllPods, podStateDir, pollUntil, runPodkit, stopAll, yamlFile } from './helpers/index.js';

after(async () => {
  await downAllPods();
  await stopAll();
});

test('a container writing 1.8 MB keeps --log-max-files files of at most --log-max-size, the newest lines in the current one; the runner log has none of its lines', async () => {
  const dir = podStateDir();
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: chatty }
spec:
  terminationGracePeriodSeconds: 1
  containers: [{ name: a, command: [sh, -c, "seq 1 200000 | sed 's/^/chatty line /'; echo last-line; exec sleep 1000"] }]
`);
  const up = await runPodkit(['up', '-d', '--status-bind', '', '--log-max-size', '64Ki', '--log-max-files', '3', '--state-dir', dir, file], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, up.stderr);
  const logs = join(dir, 'pods', 'chatty', 'logs');
  await pollUntil(() => readFileSync(join(logs, 'a.log'), 'utf8').includes('last-line') || undefined, { timeoutMs: 30_000, what: 'the last line logged' });
  assert.deepEqual(readdirSync(logs).sort(), ['a.log', 'a.log.1', 'a.log.2']);
  for (const f of readdirSync(logs)) assert.ok(statSync(join(logs, f)).size <= 64 * 1024, `${f}: ${statSync(join(logs, f)).size} bytes`);
  assert.match(readFileSync(join(logs, 'a.log.1'), 'utf8'), /chatty line 19\d{4}\n/);
  assert.match((await runPodkit(['logs', '--state-dir', dir, 'chatty'])).stdout, /last-line/);
  const runnerLog = readdirSync(dir).filter((f) => f.startsWith('runner-')).map((f) => readFileSync(join(dir, f), 'utf8')).join('');
  assert.match(runnerLog, /chatty\/a start/);
  assert.doesNotMatch(runnerLog, /chatty line/);
});

test('--log-max-size and --log-max-files are checked before anything starts (exit 2)', async () => {
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: { name: x }
spec: { containers: [{ name: a, command: ['true'] }] }
`);
  const files = await runPodkit(['up', '--dry-run', '--log-max-files', '1', file]);
  assert.equal(files.code, 2);
  assert.match(files.stderr, /--log-max-files: must be at least 2/);
  const size = await runPodkit(['up', '--dry-run', '--log-max-size', 'lots', file]);
  assert.equal(size.code, 2);
  assert.match(size.stderr, /--log-max-size: "lots" is not a size/);
});
