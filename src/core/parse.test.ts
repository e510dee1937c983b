import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHostPort, isGoInt64, parseBytes, parseDuration, parseHostPort } from './parse.js';

test('parseDuration: Go syntax, bare seconds, and garbage', () => {
  assert.equal(parseDuration('10s'), 10_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1h2m3.5s'), 3_723_500);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('250us'), 0.25);
  assert.equal(parseDuration('-1s'), -1000);
  assert.equal(parseDuration('15'), 15_000);
  assert.equal(parseDuration('0.5'), 500);
  for (const bad of ['', 'ten', '10x', 's', '1s2', '--1s', '1 s']) assert.equal(parseDuration(bad), undefined, bad);
});

test('parseHostPort: v4, v6, empty host, and malformed', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:6379'), { host: '127.0.0.1', port: 6379 });
  assert.deepEqual(parseHostPort('[::1]:9121'), { host: '::1', port: 9121 });
  assert.deepEqual(parseHostPort(':9102'), { host: '0.0.0.0', port: 9102 });
  assert.deepEqual(parseHostPort('redis-master:6379'), { host: 'redis-master', port: 6379 });
  for (const bad of ['6379', 'host:', 'host:99999', '::1:80', 'a:b', '[::1]']) assert.equal(parseHostPort(bad), undefined, bad);
  assert.equal(formatHostPort({ host: '::1', port: 1 }), '[::1]:1');
  assert.equal(formatHostPort({ host: 'a', port: 2 }), 'a:2');
});

test('parseBytes: Redis and Kubernetes units', () => {
  assert.equal(parseBytes('512mb'), 512 * 1024 * 1024);
  assert.equal(parseBytes('1k'), 1000);
  assert.equal(parseBytes('1kb'), 1024);
  assert.equal(parseBytes('64Mi'), 64 * 1024 * 1024);
  assert.equal(parseBytes('1000'), 1000);
  for (const bad of ['', 'mb', '1 zb', '-1']) assert.equal(parseBytes(bad), undefined, bad);
});

test("isGoInt64: what Go's strconv.ParseInt(s, 10, 64) accepts", () => {
  for (const ok of ['0', '-0', '+1', '007', '9223372036854775807', '-9223372036854775808']) assert.equal(isGoInt64(ok), true, ok);
  for (const bad of ['', '+', '1.5', '1e3', ' 1', '0x10', '9223372036854775808', '-9223372036854775809']) assert.equal(isGoInt64(bad), false, bad);
});
