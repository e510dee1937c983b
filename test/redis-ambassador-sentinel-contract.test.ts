/** @module The Topology contract: StaticTopology and SentinelTopology run the same suite against real redis-server/redis-sentinel processes. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, startRedis, startTopology, stopAll, type RedisNode, type Topology as Servers } from './helpers/index.js';
import { SentinelTopology, StaticTopology, type NodeState, type Topology, type TopologySnapshot } from '../src/redis-ambassador/topology/index.js';

after(stopAll);

/** Resolve when the snapshot satisfies `pred` (checked now and on every change event). */
export function waitSnapshot(t: Topology, pred: (s: TopologySnapshot) => boolean, what: string, timeoutMs = 15_000): Promise<TopologySnapshot> {
  return new Promise((resolve, reject) => {
    const done = (s: TopologySnapshot) => {
      clearTimeout(timer);
      off();
      resolve(s);
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; now ${JSON.stringify(t.current())}`));
    }, timeoutMs);
    const off = t.on('change', (s) => pred(s) && done(s));
    const now = t.current();
    if (pred(now)) done(now);
  });
}

const at = (n: { port: number }) => (r: NodeState) => r.port === n.port;
const allHealthy = (s: TopologySnapshot, servers: Servers) => s.master?.port === servers.master.port && servers.replicas.every((n) => s.replicas.find(at(n))?.healthy);

let servers: Servers;
const figures: Record<string, number[]> = {};
const record = (name: string, ms: number) => (figures[name] ??= []).push(ms);

before(async () => {
  servers = await startTopology({ replicas: 2, sentinels: 3, downAfterMs: 1000 }); // helpers set repl-diskless-sync-delay 0
});
after(async () => {
  console.log('# topology figures (ms):', JSON.stringify(figures));
});

const impls: [string, () => Topology][] = [
  ['StaticTopology', () => new StaticTopology(servers.master, servers.replicas, { maxLagSeconds: 5 })],
  ['SentinelTopology', () => new SentinelTopology(servers.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })), servers.masterName, { maxLagSeconds: 5 })],
];

for (const [name, make] of impls) {
  describe(`Topology contract: ${name}`, () => {
    let topo: Topology;
    let firstSwitch: Promise<[NodeState | null, NodeState]>;
    before(() => {
      topo = make();
      firstSwitch = new Promise((r) => topo.on('switch-master', (from, to) => r([from, to])));
    });
    after(() => topo.close());

    test('discovers the ROLE-confirmed master and healthy replicas', async () => {
      const s = await waitSnapshot(topo, (x) => allHealthy(x, servers), 'master and both replicas healthy');
      assert.equal(s.master?.role, 'master');
      assert.equal(s.replicas.length, 2);
      for (const r of s.replicas) {
        assert.equal(r.role, 'replica');
        assert.equal(r.linkUp, true);
        assert.equal(typeof r.ackOffset, 'number');
      }
      const [from, to] = await firstSwitch;
      assert.equal(from, null);
      assert.equal(to.port, servers.master.port);
      assert.ok(topo.current().epoch >= 1);
    });

    test('a replica that stops answering (SIGSTOP) leaves and rejoins after SIGCONT', async () => {
      const r = servers.replicas[0];
      const t0 = Date.now();
      r.proc.signal('SIGSTOP');
      try {
        const s = await waitSnapshot(topo, (x) => x.replicas.find(at(r))?.healthy === false, 'stopped replica unhealthy');
        record(`${name}: SIGSTOP → unhealthy`, Date.now() - t0);
        assert.match(s.replicas.find(at(r))?.reason ?? '', /no reply/);
      } finally {
        r.proc.signal('SIGCONT');
      }
      const t1 = Date.now();
      await waitSnapshot(topo, (x) => x.replicas.find(at(r))?.healthy === true, 'replica healthy after SIGCONT');
      record(`${name}: SIGCONT → healthy`, Date.now() - t1);
    });

    test('a replica killed with SIGKILL leaves, and rejoins when restarted', async () => {
      const r = servers.replicas[1];
      const t0 = Date.now();
      r.proc.signal('SIGKILL');
      const s = await waitSnapshot(topo, (x) => x.replicas.find(at(r))?.healthy === false, 'killed replica unhealthy');
      record(`${name}: kill -9 → unhealthy`, Date.now() - t0);
      assert.ok(s.master, 'the master stays');
      await r.proc.exited;
      const again: RedisNode = await startRedis({ port: r.port, replicaOf: servers.master });
      servers.replicas[1] = again;
      const t1 = Date.now();
      await waitSnapshot(topo, (x) => x.replicas.find(at(r))?.healthy === true, 'restarted replica healthy');
      record(`${name}: restart → healthy`, Date.now() - t1);
    });

    test('a replica reporting master_link_status:down leaves, and rejoins when the link is back', async () => {
      const r = servers.replicas[0];
      const rc = r.client();
      try {
        // A wrong masterauth makes every resync attempt fail: the link stays down while the replica still answers.
        await rc.config('SET', 'masterauth', 'wrong-password');
        const t0 = Date.now();
        await rc.call('CLIENT', 'KILL', 'TYPE', 'master');
        const s = await waitSnapshot(topo, (x) => x.replicas.find(at(r))?.healthy === false, 'link-down replica unhealthy');
        record(`${name}: link down → unhealthy`, Date.now() - t0);
        assert.match(s.replicas.find(at(r))?.reason ?? '', /master_link_status:down/);
        assert.equal(s.replicas.find(at(r))?.linkUp, false);
      } finally {
        await rc.config('SET', 'masterauth', '');
      }
      await waitSnapshot(topo, (x) => x.replicas.find(at(r))?.healthy === true, 'replica healthy after the link is back');
      rc.disconnect();
    });

    test('caughtUp: once true, the replica serves the write', async () => {
      await waitSnapshot(topo, (x) => allHealthy(x, servers), 'all healthy');
      const m = servers.master.client();
      const value = `v-${name}-${Date.now()}`;
      await m.set('contract:k', value);
      const since = Date.now();
      const r = servers.replicas[0];
      await pollUntil(() => topo.caughtUp(r, since), { timeoutMs: 10_000, what: 'replica caught up' });
      const rc = r.client();
      assert.equal(await rc.get('contract:k'), value);
      rc.disconnect();
      m.disconnect();
    });

    test('caughtUp stays false while the replica cannot have applied the write (SIGSTOP), true after', async () => {
      await waitSnapshot(topo, (x) => allHealthy(x, servers), 'all healthy');
      const r = servers.replicas[1];
      const m = servers.master.client();
      r.proc.signal('SIGSTOP');
      try {
        const value = `paused-${name}-${Date.now()}`;
        await m.set('contract:paused', value);
        const since = Date.now();
        // A master offset sampled after the write exists: from here on caughtUp can only be false by the replica's offset.
        await pollUntil(() => (topo.current().master?.sampledAt ?? 0) > since, { timeoutMs: 5_000, what: 'a master sample after the write' });
        assert.equal(topo.caughtUp(r, since), false);
        r.proc.signal('SIGCONT');
        await pollUntil(() => topo.caughtUp(r, since), { timeoutMs: 10_000, what: 'replica caught up after SIGCONT' });
        const rc = r.client();
        assert.equal(await rc.get('contract:paused'), value);
        rc.disconnect();
      } finally {
        r.proc.signal('SIGCONT');
        m.disconnect();
      }
    });
  });
}

describe('StaticTopology with upstream passwords', () => {
  test('probes AUTH with the password; a wrong one is reported as the reason', async () => {
    const pw = 'topology-secret';
    const master = await startRedis({ password: pw });
    const replica = await startRedis({ password: pw, replicaOf: master });
    const good = new StaticTopology(master, [replica], { password: pw });
    const bad = new StaticTopology(master, [replica], { password: 'wrong' });
    try {
      await waitSnapshot(good, (x) => x.master?.port === master.port && x.replicas[0]?.healthy === true, 'authenticated topology healthy');
      const s = await waitSnapshot(bad, (x) => /WRONGPASS|invalid/i.test(x.replicas[0]?.reason ?? ''), 'wrong password reported');
      assert.equal(s.master, null);
    } finally {
      await good.close();
      await bad.close();
    }
  });
});

describe('StaticTopology never reports a node that says it is a replica as master', () => {
  test('a --master that ROLE says is a replica gives master: null', async () => {
    const topo = new StaticTopology(servers.replicas[0], [servers.replicas[1]]);
    try {
      const s = await waitSnapshot(topo, (x) => x.replicas[0]?.reason !== undefined && !/not probed|connecting/.test(x.replicas[0].reason) && x.epoch > 0, 'probed');
      assert.equal(s.master, null);
      assert.equal(topo.current().master, null);
      assert.match(s.replicas[0].reason ?? '', /no confirmed master/);
    } finally {
      await topo.close();
    }
  });
});

describe('why there is no master, and reloads', () => {
  test('SentinelTopology with a name no Sentinel monitors: master null, the reason says so', async () => {
    const topo = new SentinelTopology([{ host: '127.0.0.1', port: servers.sentinels[0].port }], 'no-such-master');
    try {
      const s = await waitSnapshot(topo, (x) => /No such master/i.test(x.reason ?? ''), 'reason for no master');
      assert.equal(s.master, null);
      assert.match(s.reason ?? '', /no-such-master/);
    } finally {
      await topo.close();
    }
  });

  test('SentinelTopology with no reachable Sentinel: master null with a reason', async () => {
    const dead = await startRedis();
    const port = dead.port;
    await dead.stop();
    const topo = new SentinelTopology([{ host: '127.0.0.1', port }], servers.masterName, { recheckMs: 100 });
    try {
      const s = await waitSnapshot(topo, (x) => /no Sentinel answered/.test(x.reason ?? ''), 'reason for no master');
      assert.match(s.reason ?? '', /not connected/);
    } finally {
      await topo.close();
    }
  });

  test('StaticTopology.setReplicas (SIGHUP reload) changes the replica list', async () => {
    const topo = new StaticTopology(servers.master, servers.replicas);
    try {
      await waitSnapshot(topo, (x) => allHealthy(x, servers), 'all healthy');
      topo.setReplicas([servers.replicas[0]]);
      const s = topo.current();
      assert.deepEqual(
        s.replicas.map((r) => r.port),
        [servers.replicas[0].port],
      );
      assert.equal(s.replicas[0].healthy, true);
    } finally {
      await topo.close();
    }
  });
});
