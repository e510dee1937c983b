/** @module podkit's own containers inside `podkit up` log readable lines when the runner's output is meant for a person. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, podStateDir, startPodkit, stopAll, waitForOutput, withTimeout, yamlFile } from './helpers/index.js';

after(() => stopAll());

async function adapterLine(env: NodeJS.ProcessEnv): Promise<string> {
  const file = yamlFile(`apiVersion: v1
kind: Pod
metadata: {name: adapter}
spec:
  containers:
    - name: metrics-adapter
      image: ghcr.io/podkit/podkit:0.1.0
      command: ["podkit", "metrics-adapter"]
      args: ["--http-bind=127.0.0.1:${await freePort()}", "--statsd.listen-udp=127.0.0.1:${await freePort()}", "--statsd.listen-tcp="]
`, 'adapter.yaml');
  const p = startPodkit(['up', '--sandbox=host', '--state-dir', podStateDir(), file], { env });
  const m = await waitForOutput(p, /^adapter\/metrics-adapter \| (.*metrics-adapter started.*)$/m, 30_000);
  p.signal('SIGTERM');
  assert.equal(await withTimeout(p.exited, 30_000, 'runner exit'), 0);
  return m[1];
}

test('PODKIT_LOG_FORMAT on the runner reaches podkit containers (a terminal sets text); without it they log JSON into the pipe', async () => {
  const env = { ...process.env };
  delete env.PODKIT_LOG_FORMAT;
  const json = await adapterLine(env);
  assert.match(json, /^\{"ts":"[^"]+","level":"info","msg":"metrics-adapter started"/);
  const text = await adapterLine({ ...env, PODKIT_LOG_FORMAT: 'text' });
  assert.match(text, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}\[metrics-adapter\] metrics-adapter started /);
});
