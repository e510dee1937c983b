/**
 * @module Composition end to end: `podkit inject` adds git-sync to a plain web-server pod, `podkit up` runs the
 * injected file locally (native sidecar first, app after its startup probe), and a push changes the served page.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, makeRepo, pollUntil, requireBinary, runPodkit, startPodkit, stopAll, tempDir, type Proc } from './helpers/index.js';

after(stopAll);

async function page(port: number): Promise<string | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(2000) });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

describe('inject → podkit up', () => {
  test('a push to the repo changes the page the app container serves', async () => {
    requireBinary('python3');
    const repo = makeRepo({ 'index.html': 'version one\n' });
    const dir = tempDir();
    const port = await freePort();
    const pod = `apiVersion: v1
kind: Pod
metadata:
  name: site
  annotations:
    podkit.io/git-sync.repo: ${repo.url}
    podkit.io/git-sync.ref: main
    podkit.io/git-sync.link: current
    podkit.io/git-sync.period: 200ms
    podkit.io/git-sync.mount-path: /srv/site
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: web
      image: python:3.12
      command: [python3, -m, http.server, "8080", --bind, 0.0.0.0, --directory, /srv/site/current]
      ports:
        - containerPort: 8080
          hostPort: ${port}
`;
    writeFileSync(join(dir, 'pod.yaml'), pod);
    const inj = await runPodkit(['inject', '-f', join(dir, 'pod.yaml'), '-o', join(dir, 'pod.injected.yaml')]);
    assert.equal(inj.code, 0, inj.stderr);
    let up: Proc | undefined;
    try {
      up = startPodkit(['up', '--state-dir', join(dir, 'state'), '--status-bind', '', '--color', 'never', join(dir, 'pod.injected.yaml')]);
      const first = await pollUntil(() => page(port), { timeoutMs: 30_000, what: `the first page (podkit up output:\n${up?.stderr() ?? ''})` });
      assert.equal(first, 'version one\n');
      // The sidecar started first and the app only after its startup probe passed.
      const out = up.stdout() + up.stderr();
      assert.ok(out.indexOf('site/podkit-git-sync start') < out.indexOf('site/web start'), out);
      repo.commit({ 'index.html': 'version two\n' });
      await pollUntil(async () => (await page(port)) === 'version two\n', { timeoutMs: 30_000, what: 'the pushed page' });
    } finally {
      if (up) {
        up.signal('SIGINT');
        await up.exited;
      }
    }
    assert.equal(await page(port), undefined, 'the pod is gone after Ctrl-C');
  });
});
