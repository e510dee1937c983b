import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, describeError, exitCodeOf, PodkitError, ProtocolError, UsageError } from './errors.js';

test('catalogue: stable codes and exit codes', () => {
  const u = new UsageError('bad flag');
  assert.equal(u.code, 'PODKIT_ERR_USAGE');
  assert.equal(exitCodeOf(u), 2);
  const c = new ConfigError('spec.containers[0].name', 'required');
  assert.equal(c.message, 'spec.containers[0].name: required');
  assert.equal(c.path, 'spec.containers[0].name');
  assert.equal(exitCodeOf(c), 2);
  const p = new ProtocolError('unknown type byte', { cause: new Error('x') });
  assert.equal(p.code, 'PODKIT_ERR_PROTOCOL');
  assert.equal(exitCodeOf(p), 1);
  assert.ok(p instanceof PodkitError && p.cause instanceof Error);
  assert.equal(p.name, 'ProtocolError');
  assert.equal(exitCodeOf(new Error('plain')), 1);
  assert.equal(describeError('str'), 'str');
});
