/** @module One contract suite that every pod sandbox implementation (namespaced, host) runs, with real processes. */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { pollUntil, stopAll, tempDir, withTimeout } from './helpers/index.js';
import type { ContainerProcess, Sandbox } from '../src/pod/runtime/sandbox.js';
import { NamespacedSandbox } from '../src/pod/runtime/sandbox-ns.js';
import { HostSandbox } from '../src/pod/runtime/sandbox-host.js';

after(stopAll);

function collect(p: ContainerProcess): () => string {
  let out = '';
  p.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  p.child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return () => out;
}

const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
let n = 0;
const impls: [string, () => Sandbox][] = [
  ['namespaced', () => new NamespacedSandbox({ id: `ct${process.pid.toString(16).slice(-4)}${n++}` })],
  ['namespaced+sharedpid', () => new NamespacedSandbox({ id: `cs${process.pid.toString(16).slice(-4)}${n++}`, shareProcessNamespace: true })],
  ['host', () => new HostSandbox()],
];

for (const [name, make] of impls) {
  describe(`sandbox contract: ${name}`, () => {
    test('runs argv with env from the environment and cwd; exit code propagates', async () => {
      const sb = make();
      await sb.setup();
      try {
        const p = sb.spawn({ name: 'a', argv: ['sh', '-c', 'echo "$GREETING from $(pwd)"; exit 7'], env: { ...env, GREETING: 'hello' }, cwd: '/tmp', mounts: [] });
        const out = collect(p);
        const r = await withTimeout(p.exited, 10_000, 'exit');
        assert.equal(r.code, 7);
        assert.equal(out().trim(), 'hello from /tmp');
      } finally {
        await sb.teardown();
      }
    });

    test('a volume appears at mountPath and is shared between containers at different paths', async () => {
      const sb = make();
      await sb.setup();
      const vol = tempDir('podkit-vol-');
      const base = `/tmp/podkit-contract-${process.pid}-${n++}`;
      try {
        const w = sb.spawn({ name: 'w', argv: ['sh', '-c', 'echo written > /dev/null; echo shared > "$1/file"', 'x', `${base}/a`], env, mounts: [{ source: vol, target: `${base}/a`, readOnly: false }] });
        assert.equal((await withTimeout(w.exited, 10_000, 'writer')).code, 0);
        const r = sb.spawn({ name: 'r', argv: ['cat', `${base}/b/file`], env, mounts: [{ source: vol, target: `${base}/b`, readOnly: false }] });
        const out = collect(r);
        assert.equal((await withTimeout(r.exited, 10_000, 'reader')).code, 0);
        assert.equal(out().trim(), 'shared');
      } finally {
        await sb.teardown();
      }
      assert.equal(existsSync(`${base}/a`), false, 'mount point removed at teardown');
    });

    test('signal() reaches the container; exec runs inside it', async () => {
      const sb = make();
      await sb.setup();
      try {
        const p = sb.spawn({ name: 'a', argv: ['sh', '-c', 'trap "echo term; exit 0" TERM; echo up; while :; do sleep 0.1; done'], env, mounts: [] });
        const out = collect(p);
        await pollUntil(() => out().includes('up'), { timeoutMs: 10_000, what: 'the container to print up' });
        const e = await sb.exec(p, ['sh', '-c', 'echo exec-ok'], env, undefined, 5000);
        assert.equal(e.code, 0);
        assert.equal(e.output.trim(), 'exec-ok');
        const slow = await sb.exec(p, ['sleep', '5'], env, undefined, 200);
        assert.equal(slow.timedOut, true);
        p.signal('SIGTERM');
        const r = await withTimeout(p.exited, 10_000, 'exit');
        assert.equal(r.code, 0);
        assert.match(out(), /term/);
      } finally {
        await sb.teardown();
      }
    });

    test('teardown twice is safe', async () => {
      const sb = make();
      await sb.setup();
      await sb.teardown();
      await sb.teardown();
    });
  });
}

describe('namespaced sandbox specifics', () => {
  test('each pod has its own loopback: two pods bind 127.0.0.1 on the same port; pod IP reachable from the host', async () => {
    const a = impls[0][1]() as NamespacedSandbox;
    const b = impls[0][1]() as NamespacedSandbox;
    await a.setup();
    await b.setup();
    try {
      assert.notEqual(a.podIP, b.podIP);
      const srv = (sb: Sandbox, text: string) => sb.spawn({ name: 's', argv: ['python3', '-c', `import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('0.0.0.0', 7777))\ns.listen()\nprint('listening', flush=True)\nwhile True:\n  c,_=s.accept(); c.sendall(b'${text}'); c.close()`], env, mounts: [] });
      const pa = srv(a, 'A');
      const pb = srv(b, 'B');
      const oa = collect(pa);
      const ob = collect(pb);
      await pollUntil(() => oa().includes('listening') && ob().includes('listening'), { timeoutMs: 10_000, what: 'both servers to listen' });
      assert.match(oa(), /listening/, oa());
      assert.match(ob(), /listening/, ob());
      const viaHost = (ip: string) => execFileSync('python3', ['-c', `import socket;s=socket.create_connection(('${ip}',7777),3);print(s.recv(10).decode())`]).toString().trim();
      assert.equal(viaHost(a.podIP), 'A');
      assert.equal(viaHost(b.podIP), 'B');
      pa.signal('SIGKILL');
      pb.signal('SIGKILL');
      await pa.exited;
      await pb.exited;
    } finally {
      await a.teardown();
      await b.teardown();
    }
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list']).toString(), new RegExp(a.netns));
  });

  test('readOnly mounts are read-only; shareProcessNamespace shows sibling processes', async () => {
    const sb = impls[1][1]();
    await sb.setup();
    const vol = tempDir('podkit-ro-');
    const target = `/tmp/podkit-ro-${process.pid}`;
    try {
      const sleeper = sb.spawn({ name: 's', argv: ['sh', '-c', 'exec sleep 30'], env, mounts: [] });
      const p = sb.spawn({ name: 'r', argv: ['sh', '-c', `touch ${target}/x 2>&1; i=0; until ps -e -o comm= | grep -qx sleep || [ $i -ge 200 ]; do i=$((i+1)); sleep 0.05; done; ps -e -o comm=`], env, mounts: [{ source: vol, target, readOnly: true }] });
      const out = collect(p);
      await withTimeout(p.exited, 10_000, 'reader');
      assert.match(out(), /Read-only file system/);
      assert.match(out(), /sleep/);
      assert.equal(existsSync(join(vol, 'x')), false);
      sleeper.signal('SIGKILL');
      await sleeper.exited;
    } finally {
      await sb.teardown();
    }
  });
});

