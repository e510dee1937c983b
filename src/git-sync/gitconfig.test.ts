import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseGitConfig } from './gitconfig.js';

test('unquoted and quoted keys and values, with escapes', () => {
  assert.deepEqual(parseGitConfig('core.foo:bar'), [['core.foo', 'bar']]);
  assert.deepEqual(parseGitConfig('a.b:1,c.d:two'), [['a.b', '1'], ['c.d', 'two']]);
  assert.deepEqual(parseGitConfig('"http.https://x.example/.extraHeader":"a, b"'), [['http.https://x.example/.extraHeader', 'a, b']]);
  assert.deepEqual(parseGitConfig('a.b:x\\,y,c.d:\\n\\t\\"\\\\'), [['a.b', 'x,y'], ['c.d', '\n\t"\\']]);
  assert.deepEqual(parseGitConfig('a.b:'), [['a.b', '']]);
  assert.deepEqual(parseGitConfig(''), []);
});

test('bad syntax is a clear error', () => {
  assert.throws(() => parseGitConfig('nocolon'), /has no value/);
  assert.throws(() => parseGitConfig('a.b:x\\q'), /invalid escape/);
  assert.throws(() => parseGitConfig('"a.b:x'), /unterminated/);
  assert.throws(() => parseGitConfig('a.b:"x"y'), /unexpected/);
  assert.throws(() => parseGitConfig(':v'), /empty key/);
});
