import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { addSecret, createLogger, levelFromVerbosity, redactString } from './log.js';

function sink(isTTY = false) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  stream.isTTY = isTTY;
  return { stream, lines };
}
const now = () => new Date('2026-01-02T03:04:05.678Z');

test('JSON lines when not on a TTY, with component, level and fields', () => {
  const { stream, lines } = sink();
  const log = createLogger({ name: 'git-sync', stream, now, format: 'auto' });
  log.info('synced', { hash: 'abc', ms: 12 });
  log.debug('hidden at info level');
  assert.equal(lines.length, 1);
  assert.deepEqual(JSON.parse(lines[0]), { ts: '2026-01-02T03:04:05.678Z', level: 'info', msg: 'synced', component: 'git-sync', hash: 'abc', ms: 12 });
});

test('readable text on a TTY', () => {
  const { stream, lines } = sink(true);
  const log = createLogger({ name: 'ambassador', stream, now, format: 'text' });
  log.warn('master down', { addr: '127.0.0.1:6379', reason: 'connection refused' });
  assert.match(lines[0], /^03:04:05\.678 .*WARN.* \[ambassador\] master down addr=127\.0\.0\.1:6379 reason="connection refused"\n$/);
});

test('secrets are redacted: by key name, in URLs, and registered values', () => {
  const { stream, lines } = sink();
  const log = createLogger({ name: 't', stream, now, format: 'json' });
  addSecret('s3cr3t-value');
  log.error('fetch https://bob:hunter2@git.example/repo.git failed: auth s3cr3t-value', {
    password: 'p4ss',
    nested: { apiToken: 'tok', url: 'https://u:pw@h/x', ok: 'fine' },
    err: new Error('bad s3cr3t-value'),
  });
  const out = lines.join('');
  for (const s of ['hunter2', 's3cr3t-value', 'p4ss', '"tok"', ':pw@']) assert.ok(!out.includes(s), `leaked ${s}: ${out}`);
  const rec = JSON.parse(out);
  assert.equal(rec.password, '[REDACTED]');
  assert.equal(rec.nested.ok, 'fine');
  assert.match(rec.msg, /https:\/\/bob:\[REDACTED\]@git\.example/);
  assert.equal(rec.err.message, 'bad [REDACTED]');
});

test('child loggers carry fields; levels filter', () => {
  const { stream, lines } = sink();
  const log = createLogger({ name: 't', stream, now, format: 'json', level: 'debug' }).child({ pod: 'web' });
  log.trace('no');
  log.debug('yes');
  assert.equal(lines.length, 1);
  assert.equal(JSON.parse(lines[0]).pod, 'web');
  assert.equal(log.enabled('trace'), false);
});

test('verbosity maps like git-sync -v', () => {
  assert.equal(levelFromVerbosity(0), 'info');
  assert.equal(levelFromVerbosity(2), 'debug');
  assert.equal(levelFromVerbosity(6), 'trace');
  assert.equal(redactString('ssh://git@host/repo'), 'ssh://git@host/repo');
});

test('URL secrets are redacted: user:password@ and credential query parameters', () => {
  const url = 'http://u:pw@127.0.0.1:1/x?token=T1&access_token=T2&apikey=T3&api_key=T4&X-Amz-Signature=T5&private_token=T6&page=2#frag';
  const shown = redactString(`GET ${url}: ECONNREFUSED`);
  for (const secret of ['pw@', 'T1', 'T2', 'T3', 'T4', 'T5', 'T6']) assert.ok(!shown.includes(secret), `${secret} in ${shown}`);
  assert.match(shown, /u:\[REDACTED\]@127\.0\.0\.1:1\/x\?token=\[REDACTED\]&access_token=\[REDACTED\]/);
  assert.match(shown, /&page=2#frag: ECONNREFUSED$/, 'other parameters stay readable');
});
