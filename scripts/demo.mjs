// The podkit demo: git push-to-deploy with the git-sync sidecar beside a real nginx.
//   a bare git repo (the "remote") with a post-receive hook that fires podkit's signed webhook,
//   podkit git-sync publishing it under .podkit/demo/root/html, and nginx serving that link.
// It pushes one commit itself to show the page change, then waits for you (Ctrl-C stops everything).
// Flags: --self-test  push, check the page changed, stop (used by the test suite).
// Env: PODKIT_DEMO_PORT (nginx, default 8080), PODKIT_DEMO_SYNC_PORT (git-sync, default 8081), PODKIT_DEMO_DIR.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const dir = process.env.PODKIT_DEMO_DIR ?? join(root, '.podkit', 'demo');
const webPort = Number(process.env.PODKIT_DEMO_PORT ?? 8080);
const syncPort = Number(process.env.PODKIT_DEMO_SYNC_PORT ?? 8081);
const selfTest = process.argv.includes('--self-test');
const children = [];
const say = (s) => process.stdout.write(`demo: ${s}\n`);

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@podkit.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@podkit.invalid' };
const git = (cwd, ...args) => execFileSync('git', args, { cwd, env: gitEnv, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();

function start(name, cmd, args) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = (line) => line && process.stdout.write(`[${name}] ${line}\n`);
  for (const s of [child.stdout, child.stderr]) {
    let buf = '';
    s.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop();
      if (!selfTest || process.env.PODKIT_DEMO_VERBOSE) lines.forEach(prefix);
    });
  }
  child.on('exit', (code, sig) => {
    if (!stopping) {
      say(`${name} exited (${code ?? sig}); stopping`);
      void stop(1);
    }
  });
  children.push(child);
  return child;
}

let stopping = false;
async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => c.once('exit', r)))));
  process.exitCode = code;
}
process.on('SIGINT', () => void stop(0).then(() => say('stopped')));
process.on('SIGTERM', () => void stop(0));

async function until(what, fn, ms = 15_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const page = async () => (await fetch(`http://127.0.0.1:${webPort}/`)).text();

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const bare = join(dir, 'site.git');
const work = join(dir, 'site');
const secretFile = join(dir, 'webhook-secret');
writeFileSync(secretFile, `demo-${Math.random().toString(36).slice(2)}\n`, { mode: 0o600 });
git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
git(dir, 'clone', '-q', bare, work);
writeFileSync(join(work, 'index.html'), '<h1>Hello from podkit</h1>\n<p>version 1</p>\n');
git(work, 'add', '-A');
git(work, 'commit', '-q', '-m', 'version 1');
git(work, 'push', '-q', 'origin', 'HEAD:main');

// post-receive: tell git-sync at once (HMAC-signed), instead of waiting for the next poll.
const hook = join(bare, 'hooks', 'post-receive');
writeFileSync(
  hook,
  `#!/bin/sh
exec node -e '
const { createHmac } = require("node:crypto");
const secret = require("node:fs").readFileSync(process.argv[1], "utf8").trim();
const body = JSON.stringify({ ref: "refs/heads/main" });
const sig = "sha256=" + createHmac("sha256", secret).update(body).digest("hex");
fetch("http://127.0.0.1:${syncPort}/webhook", { method: "POST", body, headers: { "content-type": "application/json", "x-podkit-signature-256": sig } })
  .then((r) => console.log("podkit git-sync webhook:", r.status), (e) => console.log("webhook failed:", e.message));
' ${JSON.stringify(secretFile)}
`,
);
chmodSync(hook, 0o755);

const podkit = join(root, 'dist', 'cli', 'main.js');
const syncRoot = join(dir, 'root');
start('git-sync', process.execPath, [podkit, 'git-sync', `--repo=file://${bare}`, '--ref=main', `--root=${syncRoot}`, '--link=html', '--period=10s', `--http-bind=127.0.0.1:${syncPort}`, `--trigger-secret-file=${secretFile}`]);
await until('the first sync', async () => (await fetch(`http://127.0.0.1:${syncPort}/readyz`)).ok);

mkdirSync(join(dir, 'nginx'), { recursive: true });
const conf = join(dir, 'nginx', 'nginx.conf');
writeFileSync(
  conf,
  `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx/nginx.pid; error_log stderr warn;
events { worker_connections 64; }
http { access_log off; default_type text/html; client_body_temp_path ${dir}/nginx/body; proxy_temp_path ${dir}/nginx/proxy;
  fastcgi_temp_path ${dir}/nginx/fcgi; uwsgi_temp_path ${dir}/nginx/uwsgi; scgi_temp_path ${dir}/nginx/scgi;
  server { listen 127.0.0.1:${webPort}; root ${syncRoot}/html; add_header Cache-Control no-store; location = /stub_status { stub_status; } } }
`,
);
start('nginx', '/usr/sbin/nginx', ['-p', join(dir, 'nginx'), '-c', conf]);
await until('nginx', async () => (await page()).includes('version 1'));
say(`nginx serves the synced tree: http://127.0.0.1:${webPort}/ → version 1`);

// Show push-to-deploy once.
writeFileSync(join(work, 'index.html'), '<h1>Hello from podkit</h1>\n<p>version 2</p>\n');
git(work, 'commit', '-q', '-am', 'version 2');
const t0 = Date.now();
git(work, 'push', '-q', 'origin', 'HEAD:main');
await until('the pushed page', async () => (await page()).includes('version 2'));
say(`pushed "version 2": visible through nginx ${Date.now() - t0} ms after git push`);

if (selfTest) {
  await stop(0);
  say('self-test passed');
} else {
  say('try it:');
  say(`  cd ${work} && $EDITOR index.html && git commit -am "my change" && git push`);
  say(`  curl http://127.0.0.1:${webPort}/            # the new page, moments after the push`);
  say(`  curl http://127.0.0.1:${syncPort}/metrics     # git-sync's metrics; /readyz for readiness`);
  say('Ctrl-C stops everything.');
}
