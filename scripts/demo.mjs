// The podkit demo: `podkit up examples/all-three/pods.yaml` — one pod with nginx + the app + all three podkit
// containers (git-sync, redis-ambassador, metrics-adapter as native sidecars), and a Redis master + replica pod.
//   a bare git repo (the "remote", mounted into the pod as a hostPath) with a post-receive hook that fires
//   git-sync's signed trigger; nginx serves what git-sync published; the app INCRs a counter through the
//   ambassador on its localhost:6379 and sends StatsD; the adapter serves everything on /metrics.
// It pushes one commit itself to show the page change, then waits for you (Ctrl-C stops the pods and checks that
// no netns or process is left). Needs root (podkit up makes network and mount namespaces).
// Flags: --self-test  push, check the page, a Redis write on the master and /metrics, stop, check cleanup.
//        --reset      start from a new site repository (otherwise a re-run keeps the previous run's, and your pushes).
// Env: PODKIT_DEMO_DIR (default .podkit/demo), PODKIT_DEMO_PORT (site, 8080), PODKIT_DEMO_SYNC_PORT (git-sync
// trigger, 8729), PODKIT_DEMO_METRICS_PORT (9102), PODKIT_DEMO_REDIS_PORT (master, 16379),
// PODKIT_DEMO_REDIS_REPLICA_PORT (the next one), PODKIT_STATE_DIR (default: podkit's, /run/podkit; <dir>/state in --self-test),
// PODKIT_DEMO_RESET=1 (as --reset).
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const selfTest = process.argv.includes('--self-test');
const reset = process.argv.includes('--reset') || process.env.PODKIT_DEMO_RESET === '1';
const tty = !!process.stdout.isTTY;
const t0 = Number(process.env.PODKIT_DEMO_T0_MS) || Date.now();
const dir = resolve(process.env.PODKIT_DEMO_DIR ?? join(root, '.podkit', 'demo'));
const port = (name, dflt) => Number(process.env[name] ?? dflt);
const web = port('PODKIT_DEMO_PORT', 8080);
const sync = port('PODKIT_DEMO_SYNC_PORT', 8729);
const metrics = port('PODKIT_DEMO_METRICS_PORT', 9102);
const redisMaster = port('PODKIT_DEMO_REDIS_PORT', 16379);
const redisReplica = port('PODKIT_DEMO_REDIS_REPLICA_PORT', redisMaster + 1);
const NODE_IP = '10.244.0.1'; // the podkit0 bridge: where the redis pod's hostPorts are published
const stateDir = process.env.PODKIT_STATE_DIR ?? (selfTest ? join(dir, 'state') : undefined);
const podkitMain = join(root, 'dist', 'cli', 'main.js');
const say = (s) => process.stdout.write(`demo: ${s}\n`);
// `npm run demo | tee log` and Ctrl-C: tee is gone first. Never crash on it: stop the pods as Ctrl-C would.
process.stdout.on('error', (e) => {
  if (e.code !== 'EPIPE') throw e;
  process.stdout.write = () => true;
  process.kill(process.pid, 'SIGTERM');
});
const fail = (s) => {
  process.stderr.write(`demo: ${s}\n`);
  process.exit(1);
};

if (process.getuid?.() !== 0) fail('podkit up needs root for its network and mount namespaces: run npm run demo as root');
if (!existsSync(podkitMain)) fail('dist/ is missing: run `npm run build` (npm run demo does it for you)');

const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'demo', GIT_AUTHOR_EMAIL: 'demo@podkit.invalid', GIT_COMMITTER_NAME: 'demo', GIT_COMMITTER_EMAIL: 'demo@podkit.invalid' };
const git = (cwd, ...args) => execFileSync('git', args, { cwd, env: gitEnv, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();
const redisCli = (p, ...args) => execFileSync('redis-cli', ['-h', NODE_IP, '-p', String(p), ...args], { encoding: 'utf8' });

async function until(what, fn, ms = 60_000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      /* not yet */
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// 1. The "remote": a bare repo, and a post-receive hook that triggers git-sync at once. A re-run keeps it (and what
// you pushed to it) unless --reset; the first run commits version 1.
const bare = join(dir, 'site.git');
const work = join(dir, 'site');
const secret = 'change-me-all-three'; // the example's Secret shop-git-trigger
// The page shows the commit git-sync published (nginx's SSI reads it from the link), so each push shows on it.
const pageV = (n) => `<!doctype html>\n<html><head><meta charset="utf-8"><title>podkit demo</title></head>\n<body><h1>Hello from podkit</h1>\n<p>version ${n}</p>\n<p>published commit <code><!--# echo var="published_commit" --></code> — git push, reload, and it changes.</p></body></html>\n`;
if (reset) rmSync(dir, { recursive: true, force: true });
const kept = existsSync(join(bare, 'HEAD')) && existsSync(join(work, '.git'));
if (!kept) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
  git(dir, 'clone', '-q', bare, work);
  writeFileSync(join(work, 'index.html'), pageV(1));
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '-m', 'version 1');
  git(work, 'push', '-q', 'origin', 'HEAD:main');
} else say(`keeping the site repository from the last run (${bare}; --reset or PODKIT_DEMO_RESET=1 starts afresh)`);
const hook = readFileSync(join(root, 'examples', 'push-to-deploy', 'post-receive'), 'utf8')
  .replace('http://127.0.0.1:8729/webhook', `http://127.0.0.1:${sync}/webhook`)
  .replace('change-me-push-to-deploy', secret);
writeFileSync(join(bare, 'hooks', 'post-receive'), hook);
chmodSync(join(bare, 'hooks', 'post-receive'), 0o755);

// 2. The all-three pod file with this demo's repository and ports.
let pods = readFileSync(join(root, 'examples', 'all-three', 'pods.yaml'), 'utf8').split('/srv/podkit/site.git').join(bare);
for (const [from, to] of [[8080, web], [8729, sync], [9102, metrics], [16379, redisMaster], [16380, redisReplica]]) {
  pods = pods.replace(new RegExp(`(?<![\\d.])${from}(?!\\d)`, 'g'), String(to));
}
const podsFile = join(dir, 'pods.yaml');
writeFileSync(podsFile, pods);

// 3. podkit up, in the foreground: its log is the pods' log. First, every port it will publish must be free: a busy one
// is named with the variable that moves it.
const { createServer } = await import('node:net');
const tryBind = (p, host) =>
  new Promise((res) => {
    const s = createServer();
    s.once('error', (e) => res(e.code === 'EADDRNOTAVAIL' ? 0 : -1));
    s.listen(p, host, () => {
      const got = s.address().port;
      s.close(() => res(got));
    });
  });
const PORT_VARS = [['PODKIT_DEMO_PORT', web, 'the site'], ['PODKIT_DEMO_SYNC_PORT', sync, "git-sync's push trigger"], ['PODKIT_DEMO_METRICS_PORT', metrics, '/metrics'], ['PODKIT_DEMO_REDIS_PORT', redisMaster, 'the Redis master'], ['PODKIT_DEMO_REDIS_REPLICA_PORT', redisReplica, 'the Redis replica']];
const busyMessage = (p) => {
  const v = PORT_VARS.find(([, port]) => port === p);
  return v ? `port ${p} (${v[2]}) is already in use on this machine: stop what holds it, or move it, e.g. ${v[0]}=${p + 10000} npm run demo` : undefined;
};
for (const [, p] of PORT_VARS) {
  // The Redis ports are published on the pod network's bridge address (10.244.0.1), the others on loopback.
  const host = p === redisMaster || p === redisReplica ? NODE_IP : '127.0.0.1';
  if ((await tryBind(p, host)) === -1) fail(busyMessage(p));
}
const statusPort = await tryBind(0, '127.0.0.1');
// On a terminal, podkit's own sidecars log readable lines and the prefixes are coloured, as when you run podkit up.
const env = { ...process.env, ...(stateDir ? { PODKIT_STATE_DIR: stateDir } : {}), ...(tty && !process.env.PODKIT_LOG_FORMAT ? { PODKIT_LOG_FORMAT: 'text' } : {}) };
const up = spawn(process.execPath, [podkitMain, 'up', `--status-bind=127.0.0.1:${statusPort}`, ...(tty ? ['--color=always'] : []), podsFile], {
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
  // Its own process group: a terminal Ctrl-C reaches only this script, which forwards exactly one SIGINT (a second
  // one would make podkit up kill the containers at once instead of stopping them the Kubernetes way).
  detached: true,
});
let upLog = '';
const fold = redisFolder();
for (const s of [up.stdout, up.stderr]) {
  let part = '';
  s.on('data', (d) => {
    upLog = (upLog + d).slice(-20_000);
    if (selfTest && !process.env.PODKIT_DEMO_VERBOSE) return;
    const lines = (part + d).split('\n');
    part = lines.pop();
    for (const l of lines) {
      const shown = fold(l);
      if (shown !== undefined) process.stdout.write(shown + '\n');
    }
  });
}

/**
 * Redis's start-up banner (ASCII art, version, "Server initialized") is folded into one line per server, its
 * memory-overcommit warning into one note (on a development machine it is noise, not a problem), and the replication
 * handshake into one line.
 */
const REPL_CHATTER = /MASTER <-> REPLICA sync|Connecting to MASTER|Master replied to PING|Partial resynchronization|Full resync|Replication backlog created|Delay next BGSAVE|Starting BGSAVE for SYNC|Background RDB transfer|Fork CoW|Diskless rdb transfer|Loading RDB produced|RDB age|RDB memory usage|Done loading RDB|Streamed RDB transfer|Synchronization with replica|asks for synchronization|Non blocking connect for SYNC|Discarding previously cached master|Before turning into a replica|Ready to accept connections tcp/;
function redisFolder() {
  const booting = new Set();
  let warned = false;
  const plain = (l) => l.replace(/\x1b\[[0-9;]*m/g, '');
  return (line) => {
    const m = /^(redis\/[\w-]+) \| (.*)$/.exec(plain(line));
    if (!m) return line;
    const [, who, text] = m;
    if (/WARNING Memory overcommit must be enabled/.test(text)) {
      if (warned) return undefined;
      warned = true;
      return `${who} | (Redis warns that vm.overcommit_memory is 0: harmless for the demo; sysctl vm.overcommit_memory=1 silences it)`;
    }
    if (/oO0OoO0OoO0Oo Redis is starting/.test(text)) {
      booting.add(who);
      return undefined;
    }
    // The replication handshake (a dozen lines on each side) becomes one line when the replica has its copy.
    if (/MASTER <-> REPLICA sync: Finished with success/.test(text)) return `${line.slice(0, line.length - text.length)}in sync with the master (replication handshake folded)`;
    if (REPL_CHATTER.test(text)) return undefined;
    if (booting.has(who)) {
      if (!/Ready to accept connections/.test(text)) return undefined;
      booting.delete(who);
      return `${line.slice(0, line.length - text.length)}Redis started (start-up banner folded), ready to accept connections`;
    }
    return line;
  };
}
let stopping = false;
const exited = new Promise((r) => up.once('exit', (code, sig) => r(code ?? sig)));
void exited.then((code) => {
  if (stopping) return;
  const busy = /EADDRINUSE[^\n]*?:(\d+)\b/.exec(upLog);
  fail(`podkit up exited (${code}) before the demo stopped it${busy && busyMessage(Number(busy[1])) ? `: ${busyMessage(Number(busy[1]))}` : ''}:\n${upLog.slice(-3000)}`);
});

const podState = (name) => {
  const f = join(stateDir ?? '/run/podkit', 'pods', name, 'state.json');
  return existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : undefined;
};

/** Ctrl-C the runner (it stops the pods the Kubernetes way), then check nothing is left. Idempotent. */
let stopped = null;
function stop() {
  stopped ??= doStop();
  return stopped;
}
async function doStop() {
  stopping = true;
  const seen = ['shop', 'redis'].map(podState).filter(Boolean);
  if (up.exitCode === null && up.signalCode === null) up.kill('SIGINT');
  await exited;
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  const left = [];
  for (const st of seen) {
    if (st.netns && netns.includes(st.netns)) left.push(`netns ${st.netns}`);
    for (const { pid } of st.pids ?? []) {
      if (existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')) left.push(`pid ${pid}`);
    }
  }
  const podsDir = join(stateDir ?? '/run/podkit', 'pods');
  for (const name of ['shop', 'redis']) if (existsSync(podsDir) && readdirSync(podsDir).includes(name)) left.push(`state of pod ${name}`);
  if (left.length) fail(`left behind after stopping: ${left.join(', ')}`);
  say('stopped: no pod process, namespace or state left');
}
// The first Ctrl-C stops the pods the Kubernetes way; a second is passed on, and podkit up kills them at once.
let interrupts = 0;
process.on('SIGINT', () => {
  if (++interrupts === 2 && up.exitCode === null && up.signalCode === null) up.kill('SIGINT');
  void stop().then(() => process.exit(0));
});
// If this script dies some other way, still let the runner stop its pods (it is in its own process group).
process.on('exit', () => up.exitCode === null && up.signalCode === null && up.kill('SIGTERM'));
process.on('SIGTERM', () => void stop().then(() => process.exit(0)));

try {
  await until('every pod to be Ready', async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).ok, 120_000);
  say(`pods shop and redis are Ready, ${((Date.now() - t0) / 1000).toFixed(1)} s after the demo started${process.env.PODKIT_DEMO_T0_MS ? ' (set-up and build included)' : ''}`);
  const page = async () => (await fetch(`http://127.0.0.1:${web}/`)).text();
  const published = () => git(bare, 'rev-parse', 'main').slice(0, 7);
  await until('the first page', async () => (await page()).includes(`<code>${published()}</code>`));
  const type = (await fetch(`http://127.0.0.1:${web}/`)).headers.get('content-type');
  if (selfTest && type !== 'text/html; charset=utf-8') throw new Error(`the page's content-type is ${type}, not text/html; charset=utf-8`);
  say(`http://127.0.0.1:${web}/ serves commit ${published()} (published by git-sync)`);

  // Push-to-deploy once: the hook's signed trigger makes git-sync fetch at once (it polls only every 30 s). A first
  // run changes the page; a re-run pushes an empty commit, so your own edits to the page stay as they are.
  let pushed = true;
  if (!kept) {
    writeFileSync(join(work, 'index.html'), pageV(2));
    git(work, 'commit', '-q', '-am', 'version 2');
  } else {
    try {
      git(work, 'pull', '-q', '--ff-only', 'origin', 'main');
      execFileSync('git', ['diff', '--cached', '--quiet'], { cwd: work });
      git(work, 'commit', '-q', '--allow-empty', '-m', 'demo: re-deploy');
    } catch {
      pushed = false;
      say(`${work} has staged changes or has diverged from the repository: not pushing a commit for you`);
    }
  }
  if (pushed) {
    const t1 = Date.now();
    // The hook's own complaint (remote: post-receive: …) would otherwise vanish, and the page wait for git-sync's poll.
    const push = spawnSync('git', ['push', '-q', 'origin', 'HEAD:main'], { cwd: work, env: gitEnv, encoding: 'utf8' });
    if (push.status !== 0) throw new Error(`git push failed: ${push.stderr.trim()}`);
    const hookSaid = push.stderr.split('\n').filter((l) => /post-receive|curl|openssl/.test(l));
    if (hookSaid.length) {
      if (selfTest) throw new Error(`the push hook did not reach git-sync:\n${hookSaid.join('\n')}`);
      say(`the push hook did not reach git-sync (it will still poll): ${hookSaid.join(' / ')}`);
    }
    const hash = published();
    await until('the pushed page', async () => (await page()).includes(`<code>${hash}</code>`));
    say(`pushed commit ${hash}: the page shows it through nginx ${Date.now() - t1} ms after git push`);
  }

  // The app's INCRs went through the ambassador to the master (and replicated to the replica).
  const incr = await until('the app\'s INCRs on the master', () => /cmdstat_incr:calls=(\d+)/.exec(redisCli(redisMaster, 'info', 'commandstats'))?.[1]);
  const visits = await until('app:visits on the replica', () => redisCli(redisReplica, 'get', 'app:visits').trim());
  say(`Redis master ${NODE_IP}:${redisMaster} has executed ${incr} INCRs from the app; the replica has app:visits=${visits}`);

  const names = ['app_ticks_total', 'app_tick_duration_seconds_bucket', 'nginx_http_requests_total', 'redis_commands_total', 'app_stats_ticks_total'];
  const body = await until('the metrics of all sources', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    return names.every((n) => new RegExp(`^${n}[{ ]`, 'm').test(text)) && text;
  });
  say(`http://127.0.0.1:${metrics}/metrics: ${body.split('\n').filter((l) => l && !l.startsWith('#')).length} series, e.g.`);
  for (const n of ['app_ticks_total', 'nginx_http_requests_total', 'redis_connected_clients']) {
    const line = body.split('\n').find((l) => l.startsWith(n));
    if (line) say(`  ${line}`);
  }
} catch (e) {
  process.stderr.write(`demo: ${e.message}\n${upLog.slice(-3000)}\n`);
  await stop().catch(() => {});
  process.exit(1);
}

if (selfTest) {
  await stop();
  say('self-test passed');
  process.exit(0);
}
const shopNs = podState('shop')?.netns;
const sd = stateDir ? `PODKIT_STATE_DIR=${stateDir} ` : '';
// scripts/setup.sh links podkit onto the PATH; say how to reach it when that could not be done.
let onPath = false;
try {
  onPath = execFileSync('sh', ['-c', 'command -v podkit'], { encoding: 'utf8' }).trim() !== '';
} catch {
  /* not on the PATH */
}
const podkitCmd = onPath ? 'podkit' : `node ${podkitMain}`;
say('try it:');
say(`  cd ${work} && $EDITOR index.html && git commit -am "my change" && git push`);
say(`  curl http://127.0.0.1:${web}/                  # the new page, moments after the push`);
say(`  ip netns exec ${shopNs} redis-cli -p 6379 get app:visits   # Redis "on localhost" inside the pod: the ambassador`);
say(`  redis-cli -h ${NODE_IP} -p ${redisMaster} monitor        # watch the app's writes land on the master (${redisReplica}: the replica's reads)`);
say(`  curl http://127.0.0.1:${metrics}/metrics            # nginx, Redis, the app's StatsD and JSON stats, normalized`);
say(`  ${sd}${podkitCmd} ps -c; ${sd}${podkitCmd} logs shop app; ${podkitCmd} --help`);
say(`  status page: http://127.0.0.1:${statusPort}/   landing pages: http://127.0.0.1:${metrics}/ (the adapter), http://127.0.0.1:${sync}/ (git-sync)`);
say('Ctrl-C stops both pods.');
