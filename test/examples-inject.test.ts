/** @module The same annotated file, injected by `podkit inject`, runs locally with `podkit up`: examples/metrics-adapter/annotated.yaml. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pollUntil, runPodkit, stopAll, tempDir } from './helpers/index.js';
import { EXAMPLES, upExample } from './helpers/examples.js';

after(stopAll);

test('podkit inject adds the adapter sidecar from one annotation, and podkit up runs the result; the adapter answers on the pod IP', async () => {
  const inj = await runPodkit(['inject', '-f', join(EXAMPLES, 'metrics-adapter/annotated.yaml')]);
  assert.equal(inj.code, 0, inj.stderr);
  assert.match(inj.stdout, /name: podkit-metrics-adapter/);
  assert.match(inj.stdout, /podkit\.io\/status:/);
  const file = join(tempDir('podkit-example-inject-'), 'web.injected.yaml');
  writeFileSync(file, inj.stdout);

  const ex = await upExample([file]);
  // As Prometheus on a cluster would: scrape the pod IP on the injected container's port (podkit-metrics, 9102).
  const url = `http://${ex.podIP('web')}:9102/metrics`;
  const body = await pollUntil(
    async () => {
      const text = await (await fetch(url)).text();
      return /^app_ticks_total \d/m.test(text) && /^nginx_http_requests_total \d/m.test(text) && /^app_queue_depth \d/m.test(text) ? text : undefined;
    },
    { timeoutMs: 30_000, what: `StatsD, nginx and JSON metrics on ${url}` },
  );
  assert.match(body, /^up\{source="nginx"\} 1$/m);
  await ex.stop();
});
