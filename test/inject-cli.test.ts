/** @module `podkit inject` as a user runs it (the built CLI): stdin/stdout, -o, --uninject, --sidecar-mode, and exit 2 with the culprit named. */
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { injectText } from '../src/inject/index.js';
import { runPodkit, stopAll, tempDir } from './helpers/index.js';

after(stopAll);

const FIX = fileURLToPath(new URL('./fixtures/inject/', import.meta.url));
const IMAGE = 'ghcr.io/podkit/podkit:test';
const objects = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as unknown).filter((v) => v !== null);

describe('podkit inject (CLI)', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
  });

  test('stdin to stdout gives what the library gives', async () => {
    const input = readFileSync(join(FIX, 'deployment-all-three.yaml'), 'utf8');
    const r = await runPodkit(['inject', '-f', '-', '--image', IMAGE], { input });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, injectText(input, { source: '<stdin>', image: IMAGE }));
  });

  test('-f file -o out, then --uninject restores the input', async () => {
    const src = join(FIX, 'pod-git-sync.yaml');
    const out = join(dir, 'out.yaml');
    let r = await runPodkit(['inject', '-f', src, '-o', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    const injected = readFileSync(out, 'utf8');
    assert.match(injected, /restartPolicy: Always/);
    r = await runPodkit(['inject', '--uninject', '-f', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, readFileSync(src, 'utf8'));
  });

  test('--sidecar-mode classic adds regular containers', async () => {
    const r = await runPodkit(['inject', '--sidecar-mode', 'classic', '-f', join(FIX, 'pod-git-sync.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    const pod = parse(r.stdout);
    assert.equal(pod.spec.initContainers, undefined);
    assert.deepEqual(pod.spec.containers.map((c: { name: string }) => c.name), ['nginx', 'podkit-git-sync']);
    assert.equal(pod.spec.containers[1].restartPolicy, undefined);
  });

  test('several -f files make one stream', async () => {
    const r = await runPodkit(['inject', '-f', join(FIX, 'cronjob.yaml'), '-f', join(FIX, 'pod-git-sync.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(objects(r.stdout).map((o) => (o as { kind: string }).kind), ['CronJob', 'Pod']);
  });

  test('a bad annotation: exit 2, the annotation named, nothing on stdout', async () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, readFileSync(join(FIX, 'pod-git-sync.yaml'), 'utf8').replace('podkit.io/git-sync.period: 30s', 'podkit.io/git-sync.period: soon'));
    const r = await runPodkit(['inject', '-f', f]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /bad\.yaml: document 1: metadata\.annotations\["podkit\.io\/git-sync\.period"\]: expected a duration/);
  });

  test('a misspelled Kubernetes field is rejected by validation (exit 2), with a suggestion', async () => {
    const f = join(dir, 'typo.yaml');
    writeFileSync(f, readFileSync(join(FIX, 'pod-git-sync.yaml'), 'utf8').replace('image: nginx:1.27', 'image: nginx:1.27\n      imagePullPolicyy: Always'));
    const r = await runPodkit(['inject', '-f', f]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /typo\.yaml#1: spec\.containers\[0\]\.imagePullPolicyy: unknown field \(did you mean "imagePullPolicy"\?\)/);
    const off = await runPodkit(['inject', '--no-validate', '-f', f]);
    assert.equal(off.code, 0, off.stderr);
  });

  test('usage errors exit 2', async () => {
    for (const args of [['inject'], ['inject', '-f', join(dir, 'missing.yaml')], ['inject', '--bogus'], ['inject', '-f', '-', '--sidecar-mode', 'tandem']]) {
      const r = await runPodkit(args, { input: '' });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^podkit inject: /);
    }
  });

  test('--help lists the flags', async () => {
    const r = await runPodkit(['inject', '--help']);
    assert.equal(r.code, 0);
    for (const f of ['--filename', '--output', '--uninject', '--sidecar-mode', '--image', '--validate']) assert.ok(r.stdout.includes(f), f);
  });
});
