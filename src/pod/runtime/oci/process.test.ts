/** @module Kubernetes' process rules for a container from an image: the command/args table, env order, users, capabilities, quantities. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capabilitySet, DEFAULT_CAPS, limitsOf, mergeEnv, nonRootRefusal, processArgs, resolveUser } from './process.js';
import { quantity } from '../../spec/resources.js';
import { ociConfig } from './spec.js';

const image = { Entrypoint: ['/ep'], Cmd: ['cmd-arg'] };

test('the four rows of "Define a Command and Arguments for a Container"', () => {
  assert.deepEqual(processArgs(undefined, undefined, image), ['/ep', 'cmd-arg'], 'neither: ENTRYPOINT + CMD');
  assert.deepEqual(processArgs(['/c'], undefined, image), ['/c'], 'command only: CMD dropped');
  assert.deepEqual(processArgs(undefined, ['a1'], image), ['/ep', 'a1'], 'args only: ENTRYPOINT + args');
  assert.deepEqual(processArgs(['/c'], ['a1'], image), ['/c', 'a1'], 'both: command + args');
  assert.deepEqual(processArgs(undefined, [], image), ['/ep'], 'empty args replace CMD');
  assert.deepEqual(processArgs(undefined, undefined, {}), []);
});

test('image Env first, the container env wins', () => {
  assert.deepEqual(mergeEnv(['PATH=/img', 'A=1', 'B=x=y', 'bad'], { A: '2' }), { PATH: '/img', A: '2', B: 'x=y' });
});

const passwd = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n';
const group = 'root:x:0:\napp:x:1001:\nwheel:x:10:app\n';

test('users: image User by name, uid, name:group; securityContext wins; groups added', () => {
  assert.deepEqual(resolveUser(undefined, {}, passwd, group), { uid: 0, gid: 0, additionalGids: [], home: '/root', name: undefined });
  assert.deepEqual(resolveUser('app', {}, passwd, group), { uid: 1000, gid: 1001, additionalGids: [10], home: '/home/app', name: 'app' });
  assert.equal(resolveUser('1000:wheel', {}, passwd, group).gid, 10);
  assert.deepEqual(resolveUser('app', { runAsUser: 5, runAsGroup: 6, supplementalGroups: [7], fsGroup: 8 }, passwd, group), { uid: 5, gid: 6, additionalGids: [7, 8], home: '/', name: undefined });
  assert.throws(() => resolveUser('ghost', {}, passwd, group), /unable to find user ghost/);
});

test('runAsNonRoot: refused for root and for a user name, with the kubelet messages', () => {
  assert.equal(nonRootRefusal({ runAsNonRoot: true }, resolveUser(undefined, {}, passwd)), 'container has runAsNonRoot and image will run as root');
  assert.match(nonRootRefusal({ runAsNonRoot: true }, resolveUser('app', {}, passwd))!, /non-numeric user \(app\), cannot verify user is non-root/);
  assert.equal(nonRootRefusal({ runAsNonRoot: true, runAsUser: 1000 }, resolveUser('app', { runAsUser: 1000 }, passwd)), undefined);
  assert.equal(nonRootRefusal({}, resolveUser(undefined, {}, passwd)), undefined);
});

test('capabilities: the default set, add/drop (with or without CAP_, ALL), privileged = all', () => {
  assert.deepEqual(capabilitySet({}), DEFAULT_CAPS);
  assert.deepEqual(capabilitySet({ capabilities: { drop: ['ALL'], add: ['net_bind_service'] } }), ['CAP_NET_BIND_SERVICE']);
  const s = capabilitySet({ capabilities: { add: ['SYS_ADMIN'], drop: ['CAP_NET_RAW'] } });
  assert.ok(s.includes('CAP_SYS_ADMIN') && !s.includes('CAP_NET_RAW'));
  assert.ok(capabilitySet({ privileged: true }).includes('CAP_SYS_MODULE'));
});

test('quantities and limits', () => {
  assert.equal(quantity('128Mi'), 128 * 2 ** 20);
  assert.equal(quantity('1G'), 1e9);
  assert.equal(quantity('500m'), 0.5);
  assert.deepEqual(limitsOf({ limits: { memory: '64Mi', cpu: '250m', pids: 50 } }), { memory: 64 * 2 ** 20, cpuMillis: 250, pids: 50 });
  assert.throws(() => quantity('lots'), /bad quantity/);
});

test('a non-root process keeps the bounding set and starts with no effective capabilities', () => {
  const base = { rootfs: '/r', args: ['x'], env: { A: '1' }, cwd: '/', namespaces: [], mounts: [], capabilities: ['CAP_KILL'], privileged: false, readOnlyRoot: true, noNewPrivileges: true, limits: { cpuMillis: 500 }, cgroupsPath: '/p', runtimeMemory: true };
  const c = ociConfig({ ...base, user: { uid: 1000, gid: 1000, additionalGids: [], home: '/' } }) as { process: { capabilities: Record<string, string[]>; env: string[] }; root: { readonly: boolean }; linux: { resources: { cpu: unknown } } };
  assert.deepEqual(c.process.capabilities.bounding, ['CAP_KILL']);
  assert.deepEqual(c.process.capabilities.effective, []);
  assert.deepEqual(c.process.env, ['A=1']);
  assert.equal(c.root.readonly, true);
  assert.deepEqual(c.linux.resources.cpu, { quota: 50_000, period: 100_000 });
});
