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

test('ConfigError: path and detail are fields; within() names an outer place without re-reading the message', () => {
  const e = new ConfigError('mappings[0].match', 'is required');
  assert.equal(e.detail, 'is required');
  const inFile = e.within('mapping.yaml');
  assert.equal(inFile.message, 'mapping.yaml: mappings[0].match: is required');
  assert.equal(inFile.path, 'mapping.yaml: mappings[0].match');
  assert.equal(inFile.detail, 'is required');
  assert.equal(inFile.cause, e);
  assert.ok(inFile.isWithin('mapping.yaml') && !e.isWithin('mapping.yaml'));
  assert.equal(e.within('items[2]', '.').message, 'items[2].mappings[0].match: is required');
  // A path-less error gets the outer place as its path (slicing the message would have eaten its first letters).
  const bare = new ConfigError('', 'two errors');
  assert.equal(bare.within('adapter.yaml').message, 'adapter.yaml: two errors');
  // A detail that itself holds ": " survives.
  assert.equal(new ConfigError('a', 'b: c').within('f').detail, 'b: c');
});
