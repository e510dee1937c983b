/** @module examples/redis-ambassador end to end: the app's writes through localhost:6379 land on the master, its reads on the replicas. */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePorts, pollUntil, run, stopAll } from './helpers/index.js';
import { renderExample, upExample } from './helpers/examples.js';

after(stopAll);

/** The podkit0 bridge address: where the redis pod's hostPorts are published (see the example's comments). */
const NODE_IP = '10.244.0.1';

async function info(port: number, section: string): Promise<Record<string, string>> {
  const r = await run('redis-cli', ['-h', NODE_IP, '-p', String(port), 'info', section]);
  return Object.fromEntries(r.stdout.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]));
}
const calls = (stats: Record<string, string>, cmd: string) => Number(/calls=(\d+)/.exec(stats[`cmdstat_${cmd}`] ?? '')?.[1] ?? 0);

test('the app pod reaches the redis pod through its ambassador: INCR on the master, GET on the replicas', async () => {
  const [master, r0, r1, s0, s1, s2] = await freePorts(6);
  const file = renderExample('redis-ambassador/pods.yaml', { 16379: master, 16380: r0, 16381: r1, 26379: s0, 26380: s1, 26381: s2 });
  const ex = await upExample([file]);

  // The app INCRs then GETs once a second, through 127.0.0.1:6379 in its own pod.
  await pollUntil(
    async () => {
      const [m, a, b] = await Promise.all([info(master, 'commandstats'), info(r0, 'commandstats'), info(r1, 'commandstats')]);
      return calls(m, 'incr') >= 3 && calls(a, 'get') + calls(b, 'get') >= 3;
    },
    { timeoutMs: 30_000, what: 'INCRs on the master and GETs on the replicas' },
  );
  const m = await info(master, 'commandstats');
  assert.equal(calls(m, 'get'), 0, 'no read reached the master');
  // Writes replicate: each replica holds the key the app wrote through the master.
  for (const port of [r0, r1]) {
    const repl = await info(port, 'replication');
    assert.equal(repl.role, 'slave');
    assert.equal(repl.master_link_status, 'up');
    assert.match((await info(port, 'keyspace')).db0 ?? '', /^keys=1,/);
  }
  // The app itself saw its counter (its stats endpoint listens on the pod's loopback only).
  const stats = JSON.parse(ex.exec('counter', 'curl', '-s', 'http://127.0.0.1:3000/stats')) as { visits: number };
  assert.ok(stats.visits >= 3, `app visits ${stats.visits}`);
  // The ambassador's own metrics, served on the pod IP for the kubelet and Prometheus.
  const metrics = ex.exec('counter', 'curl', '-s', 'http://127.0.0.1:9121/metrics');
  assert.match(metrics, /^podkit_/m);
  // The three sentinels watch the master through the same host-published address and find both replicas and
  // each other (their announced addresses are reachable across pods).
  await pollUntil(
    async () => {
      const out = (await run('redis-cli', ['-h', NODE_IP, '-p', String(s0), 'sentinel', 'master', 'mymaster'])).stdout;
      return /num-slaves\n2\n/.test(out) && /num-other-sentinels\n2\n/.test(out);
    },
    { timeoutMs: 30_000, what: 'sentinel-0 to see two replicas and two other sentinels' },
  );
  await ex.stop();
});
