import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { redactString } from './log.js';
import { firstLine, readSecretFile } from './secret-file.js';

function withFile(text: string, fn: (path: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'podkit-secret-'));
  try {
    const path = join(dir, 'pw');
    writeFileSync(path, text);
    fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('readSecretFile: the first line, whether the file ends in LF, CRLF or nothing (echo, Windows editors, kubectl --from-literal)', () => {
  for (const text of ['s3cret', 's3cret\n', 's3cret\r\n', 's3cret\n\n', 's3cret\r\nignored second line\n']) {
    withFile(text, (p) => assert.equal(readSecretFile(p, 'password-file'), 's3cret', JSON.stringify(text)));
  }
});

test('readSecretFile: spaces inside the line are part of the secret (a Redis password may hold them)', () => {
  withFile(' two words \n', (p) => assert.equal(readSecretFile(p, 'password-file'), ' two words '));
});

test('readSecretFile: the value is registered with the log redactor', () => {
  withFile('never-in-a-log-line\n', (p) => {
    readSecretFile(p, 'password-file');
    assert.equal(redactString('auth failed for never-in-a-log-line'), 'auth failed for [REDACTED]');
  });
});

test('readSecretFile: an empty file, or one whose first line is empty, is a ConfigError naming the flag and the file', () => {
  for (const text of ['', '\n', '\r\nsecret-on-line-two\n']) {
    withFile(text, (p) =>
      assert.throws(
        () => readSecretFile(p, 'password-file'),
        (e: unknown) => e instanceof ConfigError && e.path === '--password-file' && e.exitCode === 2 && e.message === `--password-file: ${p} is empty (the secret is its first line)`,
        JSON.stringify(text),
      ),
    );
  }
});

test('readSecretFile: a missing file is a ConfigError with the reason, not a stack trace', () => {
  assert.throws(
    () => readSecretFile('/nonexistent/podkit/pw', 'client-password-file'),
    (e: unknown) => e instanceof ConfigError && e.message === '--client-password-file: cannot read /nonexistent/podkit/pw: no such file or directory',
  );
});

test('firstLine: ends at the first CR or LF, as git reads an askpass answer', () => {
  assert.equal(firstLine('a\rb'), 'a');
  assert.equal(firstLine('a\nb'), 'a');
  assert.equal(firstLine('ab'), 'ab');
});
