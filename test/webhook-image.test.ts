/**
 * @module deploy/Dockerfile without a container engine: parse it and check its shape, then replay its install and
 * entrypoint steps on this machine — `npm pack`, the lockfile's production tree (`npm ci --omit=dev`, resolved
 * offline), the runtime stage's RUN line with paths moved under a temp root — and run `podkit` as the image's
 * non-root user from that copy.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runStatus, stopAll, tempDir } from './helpers/index.js';

after(stopAll);

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCKERFILE = join(ROOT, 'deploy', 'Dockerfile');

interface Instr {
  op: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instrs: Instr[];
}

/** Dockerfile → stages of instructions (comments dropped, `\` continuations joined, ARG defaults substituted). */
function parseDockerfile(text: string): Stage[] {
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    const op = m[1].toUpperCase();
    const rest = m[2].replace(/\$\{(\w+)\}/g, (_, n: string) => args.get(n) ?? '');
    if (op === 'ARG' && stages.length === 0) {
      const [k, v] = rest.split('=');
      args.set(k, v ?? '');
    } else if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      assert.ok(f, `bad FROM ${rest}`);
      stages.push({ from: f[1], name: f[2], instrs: [] });
    } else {
      assert.ok(stages.length > 0, `${op} before FROM`);
      stages[stages.length - 1].instrs.push({ op, args: rest });
    }
  }
  return stages;
}

const runs = (s: Stage) => s.instrs.filter((i) => i.op === 'RUN').map((i) => i.args);

describe('deploy/Dockerfile', () => {
  const stages = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
  const final = stages[stages.length - 1];

  test('multi-stage: build with npm ci && npm run build; production deps with npm ci --omit=dev; slim runtime', () => {
    assert.ok(stages.length >= 2);
    const build = stages.find((s) => s.name === 'build');
    assert.ok(build);
    assert.ok(runs(build).some((r) => /\bnpm ci\b/.test(r)));
    assert.ok(runs(build).some((r) => /\bnpm run build\b/.test(r) && /\bnpm pack\b/.test(r)));
    assert.ok(stages.some((s) => runs(s).some((r) => /\bnpm ci --omit=dev\b/.test(r))));
    assert.match(final.from, /^node:20[-\w.]*-slim$/);
    assert.equal(final.name, undefined);
  });

  test('runtime runs as a numeric non-root user with the podkit entrypoint', () => {
    const user = final.instrs.filter((i) => i.op === 'USER').pop();
    assert.ok(user, 'USER in the final stage');
    const uid = user.args.split(':')[0];
    assert.match(uid, /^\d+$/, 'numeric, so runAsNonRoot can be enforced');
    assert.notEqual(Number(uid), 0);
    const ep = final.instrs.filter((i) => i.op === 'ENTRYPOINT').pop();
    assert.ok(ep);
    assert.deepEqual(JSON.parse(ep.args), ['podkit']);
    const lastUser = final.instrs.lastIndexOf(user);
    assert.ok(final.instrs.slice(lastUser).every((i) => i.op !== 'RUN'), 'nothing runs as root after USER');
  });

  test('the install and entrypoint steps work from a packed copy, as the non-root user', async () => {
    const R = tempDir('podkit-image-');
    chmodSync(R, 0o755);
    const uid = Number(final.instrs.filter((i) => i.op === 'USER').pop()!.args.split(':')[0]);
    // Build stage: dist/ is built by the test run (npm run build); pack it as the stage does.
    const out = join(R, 'out');
    mkdirSync(out);
    // Pack a snapshot of the package: on a shared checkout another build may be rewriting dist/ meanwhile.
    const stage = join(R, 'pkg');
    for (let attempt = 1; ; attempt++) {
      try {
        mkdirSync(stage, { recursive: true });
        for (const f of ['package.json', 'README.md', 'LICENSE']) if (existsSync(join(ROOT, f))) copyFileSync(join(ROOT, f), join(stage, f));
        cpSync(join(ROOT, 'dist'), join(stage, 'dist'), { recursive: true });
        await run('npm', ['pack', '--pack-destination', out], { cwd: stage });
        break;
      } catch (err) {
        if (attempt >= 3) throw err;
      }
    }
    const tgz = readdirSync(out).find((f) => /^podkit-.*\.tgz$/.test(f));
    assert.ok(tgz, 'npm pack made a tarball');

    // Deps stage: npm resolves the production tree from the lockfile (offline); the machine has no registry, so
    // the resolved packages are copied from this checkout's node_modules after checking each locked version.
    const deps = join(R, 'deps');
    mkdirSync(deps);
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, f), join(deps, f));
    const dry = await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--offline', '--dry-run'], { cwd: deps });
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; optional?: boolean }> };
    const prod = Object.entries(lock.packages).filter(([p, v]) => p !== '' && !v.dev);
    assert.match(dry.stdout, new RegExp(`added ${prod.length} packages`));
    for (const [p, v] of prod) {
      const src = join(ROOT, p);
      if (!existsSync(src) && v.optional) continue;
      const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')) as { version: string };
      assert.equal(pkg.version, v.version, `${p} in node_modules matches the lockfile`);
      mkdirSync(dirname(join(deps, p)), { recursive: true });
      cpSync(src, join(deps, p), { recursive: true, dereference: true, filter: (s) => !s.slice(src.length).startsWith('/node_modules') });
    }

    // Runtime stage, instruction by instruction, with absolute paths moved under R.
    const move = (s: string) => s.replace(/(^|[\s=])\/(opt|tmp|usr\/local\/bin)\//g, `$1${R}/$2/`);
    let cwd = R;
    for (const i of final.instrs) {
      if (i.op === 'WORKDIR') {
        cwd = move(i.args.endsWith('/') ? i.args : `${i.args}/`).replace(/\/$/, '');
        mkdirSync(cwd, { recursive: true });
      } else if (i.op === 'COPY') {
        const m = /^--from=(\w+)\s+(\S+)\s+(\S+)$/.exec(i.args);
        assert.ok(m, `COPY ${i.args}`);
        const dest = m[3].startsWith('/') ? move(m[3]) : join(cwd, m[3]);
        if (m[1] === 'deps') cpSync(join(deps, 'node_modules'), dest, { recursive: true });
        else {
          mkdirSync(dirname(dest), { recursive: true });
          copyFileSync(join(out, tgz), dest);
        }
      } else if (i.op === 'RUN') {
        // Package installs from apt need root and a network; check what they provide instead.
        const steps = i.args.split('&&').map((s) => s.trim()).filter((s) => !/^(apt-get|rm -rf \/var\/lib\/apt)/.test(s));
        if (/apt-get install/.test(i.args)) await run('git', ['--version']);
        if (steps.length === 0) continue;
        mkdirSync(join(R, 'usr', 'local', 'bin'), { recursive: true });
        await run('bash', ['-euo', 'pipefail', '-c', move(steps.join(' && '))], { cwd, env: { ...process.env, PATH: `${R}/usr/local/bin:${process.env.PATH}` } });
      }
    }
    assert.ok(!existsSync(join(R, 'opt', 'podkit', 'node_modules', 'typescript')), 'no dev dependencies in the image');
    assert.ok(!existsSync(join(R, 'opt', 'podkit', 'src')), 'no sources in the image');

    // ENTRYPOINT ["podkit"], as the image's user when this test runs as root.
    await run('chmod', ['-R', 'a+rX', R]);
    const as = process.getuid?.() === 0 ? { uid, gid: uid } : {};
    const podkit = join(R, 'usr', 'local', 'bin', 'podkit');
    const env = { PATH: `${R}/usr/local/bin:/usr/bin:/bin`, NODE_ENV: 'production', HOME: '/nonexistent' };
    const v = await runStatus(podkit, ['--version'], { env, ...as, cwd: '/' });
    assert.equal(v.code, 0, v.stderr);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    assert.equal(v.stdout.trim(), `podkit ${version}`);
    const inj = await runStatus(podkit, ['inject', '-f', '-'], { env, ...as, cwd: '/', input: readFileSync(join(ROOT, 'test', 'fixtures', 'inject', 'pod-git-sync.yaml'), 'utf8') });
    assert.equal(inj.code, 0, inj.stderr);
    assert.match(inj.stdout, /name: podkit-git-sync/);
    for (const cmd of ['webhook', 'git-sync', 'redis-ambassador']) {
      const h = await runStatus(podkit, [cmd, '--help'], { env, ...as, cwd: '/' });
      assert.equal(h.code, 0, `${cmd} --help: ${h.stderr}`);
    }
  });
});
