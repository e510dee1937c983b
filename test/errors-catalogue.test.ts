/** @module Every error src/ throws comes from the catalogue (src/core/errors.ts), and docs/errors.md lists every code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as errors from '../src/core/errors.js';

const root = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

test('no plain `new Error(` in src/ (tests excluded): errors come from the catalogue', () => {
  const offenders = sources(join(root, 'src')).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (/\bnew (Type|Range)?Error\(/.test(line) ? [`${relative(root, f)}:${i + 1}: ${line.trim()}`] : [])),
  );
  assert.deepEqual(offenders, []);
});

test('every catalogue class has a default message and a code listed in docs/errors.md and the catalogue header', () => {
  const doc = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  const header = readFileSync(join(root, 'src/core/errors.ts'), 'utf8').split('*/')[0];
  const classes = Object.values(errors).filter((v): v is typeof errors.PodkitError => typeof v === 'function' && v.prototype instanceof errors.PodkitError);
  assert.ok(classes.length >= 17);
  for (const C of classes) {
    const e: errors.PodkitError =
      C === (errors.ImageError as unknown) ? new errors.ImageError('ErrImagePull')
      : C === (errors.ConfigError as unknown) || C === (errors.FileError as unknown) ? new (C as unknown as new (p: string) => errors.PodkitError)('x.y')
      : C === (errors.SystemError as unknown) ? new errors.SystemError('write', 'EPIPE')
      : new (C as unknown as new () => errors.PodkitError)();
    assert.match(e.code, /^PODKIT_ERR_[A-Z]+$/, C.name);
    assert.ok(e.message.length > 0, `${C.name} has a default message`);
    assert.ok(doc.includes(e.code), `docs/errors.md lists ${e.code}`);
    assert.ok(header.includes(e.code) && header.includes(C.name), `the catalogue header lists ${C.name}`);
  }
});

test('a bind failure is a BindError; a system call failure keeps its errno name', () => {
  const s = new errors.SystemError('write', 'EPIPE');
  assert.equal(s.message, 'write EPIPE');
  assert.equal(s.errno, 'EPIPE');
  assert.equal(errors.exitCodeOf(new errors.BindError()), 1);
  assert.equal(errors.exitCodeOf(new errors.UsageError()), 2);
});
