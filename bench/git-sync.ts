/** @module `npm run bench -- git-sync`: push→visible latency (webhook, polling), idle-poll CPU incl. children, one-file publish in a big repo. */
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './run.js';
import { median, percentile, table } from './_table.js';
import { procCpu } from './_machine.js';
import { freePort, git, makeRepo, pollUntil, startPodkit, stopAll, tempDir, waitForPort, type Proc } from '../test/helpers/index.js';
import { versionedHistory } from '../test/fixtures/git-sync/history.js';

const SECRET = 'bench-secret';

/** CPU ms of a process: its own plus every child it has waited for (git, upload-pack…). */
function cpuMs(pid: number | 'self'): number {
  const c = procCpu(pid);
  return (c.user + c.sys + c.children) * 1000;
}

const linkTarget = (link: string) => {
  try {
    return readlinkSync(link);
  } catch {
    return '';
  }
};

async function metric(port: number, re: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = re.exec(text);
  return m ? Number(m[1]) : 0;
}

interface Sidecar {
  proc: Proc;
  port: number;
  root: string;
  link: string;
  trigger(): Promise<void>;
}

async function sidecar(url: string, extra: string[]): Promise<Sidecar> {
  const dir = tempDir('gs-bench-');
  const root = join(dir, 'root');
  const secret = join(dir, 'secret');
  writeFileSync(secret, SECRET);
  const port = await freePort();
  const proc = startPodkit(['git-sync', `--repo=${url}`, `--root=${root}`, '--link=site', `--http-bind=127.0.0.1:${port}`, `--trigger-secret-file=${secret}`, ...extra], {
    env: { ...process.env, PODKIT_LOG_FORMAT: 'json' },
  });
  await waitForPort(port, '127.0.0.1', 20_000);
  const link = join(root, 'site');
  await pollUntil(() => linkTarget(link) !== '', { timeoutMs: 120_000, what: 'first sync' });
  const body = '{"ref":"refs/heads/main"}';
  const sig = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  const trigger = async () => {
    const r = await fetch(`http://127.0.0.1:${port}/webhook`, { method: 'POST', headers: { 'X-Hub-Signature-256': sig }, body });
    if (r.status !== 202) throw new Error(`webhook: ${r.status}`);
  };
  return { proc, port, root, link, trigger };
}

/** Wait (tight poll, 1 ms) until the link points at `hash`; returns ms since `t0`. */
async function visibleAfter(link: string, hash: string, t0: number, timeoutMs = 60_000): Promise<number> {
  for (;;) {
    if (linkTarget(link).endsWith(hash)) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${hash} not visible after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function latency(smoke: boolean, out: (l: string) => void) {
  const repo = makeRepo({ 'index.html': 'v0\n' });
  const rows: (string | number)[][] = [];
  // Webhook: push, fire the webhook, time until the link moves.
  const hook = await sidecar(repo.url, ['--period=1h']);
  const wh: number[] = [];
  for (let i = 0; i < (smoke ? 3 : 60); i++) {
    const c = repo.commit({ 'index.html': `w${i}\n` });
    const t0 = performance.now();
    await hook.trigger();
    wh.push(await visibleAfter(hook.link, c, t0));
    await new Promise((r) => setTimeout(r, 250)); // pushes a quarter second apart, not back to back
  }
  await hook.proc.stop();
  rows.push(['podkit, webhook trigger', String(wh.length), median(wh), percentile(wh, 99), Math.max(...wh)]);
  // Polling fallback at 1 s (git-sync's default is 10 s: expect ~5 s median there).
  const poll = await sidecar(repo.url, ['--period=1s']);
  const pl: number[] = [];
  for (let i = 0; i < (smoke ? 1 : 12); i++) {
    const c = repo.commit({ 'index.html': `p${i}\n` });
    const t0 = performance.now();
    pl.push(await visibleAfter(poll.link, c, t0));
    await new Promise((r) => setTimeout(r, Math.random() * 300)); // decorrelate pushes from the poll phase
  }
  await poll.proc.stop();
  rows.push(['podkit, --period=1s polling', String(pl.length), median(pl), percentile(pl, 99), Math.max(...pl)]);
  rows.push(['git-sync v4, --period=10s (not runnable here; expected ≈ period/2)', '-', 5000, 10_000, '-']);
  out('\nPush → visible through the link (ms, from the end of `git push`)');
  out(table(['mode', 'n', 'p50', 'p99', 'max'], rows));
  return { p50: median(wh), p99: percentile(wh, 99), pollP50: median(pl) };
}

/** CPU per idle poll of the real podkit process (own + children), over `seconds`. */
async function idleCpu(url: string, seconds: number): Promise<{ perPoll: number; polls: number; procs: string }> {
  const s = await sidecar(url, ['--period=100ms']);
  await new Promise((r) => setTimeout(r, 500));
  const noop = /git_sync_count_total\{status="noop"\} (\d+)/;
  const p0 = await metric(s.port, noop);
  const c0 = cpuMs(s.proc.pid);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuMs(s.proc.pid);
  const p1 = await metric(s.port, noop);
  await s.proc.stop();
  return { perPoll: (c1 - c0) / Math.max(1, p1 - p0), polls: p1 - p0, procs: '1 (git ls-remote)' };
}

/** The git commands kubernetes/git-sync v4 runs on an idle poll (read from its main.go), run in a loop; CPU per poll incl. children. */
function v4IdleEmulated(url: string, polls: number): number {
  const root = tempDir('gs-v4-');
  git(root, 'init', '-q', '-b', 'git-sync');
  git(root, 'remote', 'add', 'origin', url);
  git(root, 'fetch', '-q', '--depth', '1', 'origin', 'HEAD');
  git(root, 'worktree', 'add', '-q', '--detach', join(root, '.worktrees', 'wt'), 'FETCH_HEAD');
  const script = `for i in $(seq ${polls}); do
    git rev-parse --show-toplevel >/dev/null
    git fsck --no-progress --connectivity-only >/dev/null 2>&1
    git remote get-url origin >/dev/null
    git ls-remote -q ${url} HEAD 'HEAD^{}' >/dev/null
    git -C .worktrees/wt fsck --no-progress --connectivity-only >/dev/null 2>&1
  done`;
  const c0 = cpuMs('self');
  execFileSync('sh', ['-c', script], { cwd: root });
  return (cpuMs('self') - c0) / polls;
}

async function idle(smoke: boolean, out: (l: string) => void) {
  const small = makeRepo({ 'index.html': 'x\n' });
  const big = makeRepo({ 'README.md': 'x\n' });
  const n = smoke ? 300 : 5000;
  const hashes = versionedHistory(big.bare, 'all', n, 20, 500);
  git(big.bare, 'update-ref', 'refs/heads/main', hashes[hashes.length - 1]);
  const secs = smoke ? 1 : 15;
  const a = await idleCpu(small.url, secs);
  const b = await idleCpu(big.url, secs);
  const va = v4IdleEmulated(small.url, smoke ? 5 : 40);
  const vb = v4IdleEmulated(big.url, smoke ? 5 : 40);
  out(`\nIdle poll CPU (ms per poll, process + children incl. the local upload-pack of file:// remotes)`);
  out(
    table(
      ['repository', 'podkit polls', 'podkit ms/poll', 'git procs', 'v4 sequence ms/poll (emulated)', 'v4 git procs', 'ratio'],
      [
        ['1 commit', String(a.polls), a.perPoll, a.procs, va, '5', `${(va / a.perPoll).toFixed(1)}×`],
        [`${n} commits, 520 files`, String(b.polls), b.perPoll, b.procs, vb, '5', `${(vb / b.perPoll).toFixed(1)}×`],
      ],
    ),
  );
  return { small: a.perPoll, big: b.perPoll, v4big: vb };
}

async function bigPublish(smoke: boolean, out: (l: string) => void) {
  const files = smoke ? 2000 : 20_000;
  const repo = makeRepo({ 'README.md': 'x\n' });
  // One commit with `files` files in 100-file directories, then one-file changes.
  const t = Math.floor(Date.now() / 1000);
  let stream = `commit refs/heads/main\ncommitter t <t@t> ${t} +0000\ndata 3\nbig\nfrom refs/heads/main^0\n`;
  for (let i = 0; i < files; i++) {
    const c = `file ${i}\n${'x'.repeat(200)}\n`;
    stream += `M 100644 inline d${Math.floor(i / 100)}/f${i}.txt\ndata ${c.length}\n${c}\n`;
  }
  execFileSync('git', ['--git-dir', repo.bare, 'fast-import', '--quiet'], { input: stream + '\n', maxBuffer: 256 << 20 });
  git(repo.work, 'pull', '-q', 'origin', 'main');
  const s = await sidecar(repo.url, ['--period=1h']);
  const publishOne = async (i: number) => {
    const c = repo.commit({ [`d${i % 10}/f${i}.txt`]: `changed ${i}\n` });
    const t0 = performance.now();
    await s.trigger();
    return visibleAfter(s.link, c, t0);
  };
  // Paced pushes (the spare tree is ready when the push lands), then back-to-back pushes (it is not).
  const times: number[] = [];
  for (let i = 0; i < (smoke ? 3 : 20); i++) {
    await new Promise((r) => setTimeout(r, smoke ? 400 : 2500));
    times.push(await publishOne(i));
  }
  const burst: number[] = [];
  for (let i = 100; i < (smoke ? 102 : 108); i++) burst.push(await publishOne(i));
  await s.proc.stop();
  // What git-sync v4 does per commit: a fresh worktree and a full checkout (`reset --hard`) of every file.
  const full: number[] = [];
  const v4root = tempDir('gs-v4big-');
  git(v4root, 'init', '-q', '-b', 'git-sync');
  git(v4root, 'fetch', '-q', '--depth', '1', repo.url, 'main');
  const head = git(v4root, 'rev-parse', 'FETCH_HEAD');
  for (let i = 0; i < (smoke ? 2 : 5); i++) {
    const t0 = performance.now();
    const wt = join(v4root, '.worktrees', `w${i}`);
    await new Promise<void>((res, rej) => {
      const p = spawn('sh', ['-c', `git worktree add -q --detach --no-checkout ${wt} ${head} && git -C ${wt} reset -q --hard ${head}`], { cwd: v4root, stdio: 'ignore' });
      p.once('exit', (code) => (code === 0 ? res() : rej(new Error(`v4 emulation exited ${code}`))));
    });
    full.push(performance.now() - t0);
  }
  out(`\nOne-file change published in a ${files.toLocaleString('en-US')}-file repository (ms, webhook → link moved)`);
  out(
    table(
      ['mode', 'n', 'p50', 'p95', 'max'],
      [
        ['podkit, paced pushes (spare tree ready: checkout of the diff + rename)', String(times.length), median(times), percentile(times, 95), Math.max(...times)],
        ['podkit, back-to-back pushes (waits for the spare tree)', String(burst.length), median(burst), percentile(burst, 95), Math.max(...burst)],
        ['full checkout per commit, as v4 does (worktree add + reset --hard; fetch excluded)', String(full.length), median(full), percentile(full, 95), Math.max(...full)],
      ],
    ),
  );
  return { p95: percentile(times, 95), fullP50: median(full) };
}

export default async function gitSyncBench({ smoke, out }: BenchOptions): Promise<void> {
  out(`git-sync benchmark${smoke ? ' (smoke)' : ''}: kubernetes/git-sync is not installable here (no Go toolchain or image), so its`);
  out('costs are emulated by running the git commands its v4 main.go runs; see docs/git-sync.md.');
  try {
    const l = await latency(smoke, out);
    const i = await idle(smoke, out);
    const b = await bigPublish(smoke, out);
    out('\nTargets: webhook p50 ≤ 250 ms, p99 ≤ 1 s; idle poll ≤ 10 ms CPU, flat in history; one-file publish p95 ≤ 1 s.');
    out(`Measured: webhook p50 ${l.p50.toFixed(0)} ms, p99 ${l.p99.toFixed(0)} ms; idle ${i.small.toFixed(1)} / ${i.big.toFixed(1)} ms per poll; publish p95 ${b.p95.toFixed(0)} ms.`);
  } finally {
    await stopAll();
  }
}
