// The podkit demo: `podkit up examples/all-three/pods.yaml` — one pod with nginx + the app + all three podkit
// containers (git-sync, redis-ambassador, metrics-adapter as native sidecars), and a Redis master + replica pod.
//   a bare git repo (the "remote", mounted into the pod as a hostPath) with a post-receive hook that fires
//   git-sync's signed trigger; nginx serves what git-sync published; the app INCRs a counter through the
//   ambassador on its localhost:6379 and sends StatsD; the adapter serves everything on /metrics.
// It pushes one commit itself to show the page change, then waits for you (Ctrl-C stops the pods and checks that
// no netns or process is left). Needs root (podkit up makes network and mount namespaces).
// Flags: --self-test  push, check the page, a Redis write on the master and /metrics, stop, check cleanup.
// Env: PODKIT_DEMO_DIR (default .podkit/demo), PODKIT_DEMO_PORT (site, 8080), PODKIT_DEMO_SYNC_PORT (git-sync
// trigger, 8729), PODKIT_DEMO_METRICS_PORT (9102), PODKIT_DEMO_REDIS_PORT (master, 16379),
// PODKIT_DEMO_REDIS_REPLICA_PORT (the next one), PODKIT_STATE_DIR (default: podkit's, /run/podkit; <dir>/state in --self-test).
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const selfTest = process.argv.includes('--self-test');
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
const fail = (s) => {
  process.stderr.write(`demo: ${s}\n`);
  process.exit(1);
};

if (process.getuid?.() !== 0) fail('podkit up needs root for its network and mount namespaces: run `sudo npm run demo`');
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

// 1. The "remote": a bare repo with one commit, and a post-receive hook that triggers git-sync at once.
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const bare = join(dir, 'site.git');
const work = join(dir, 'site');
const secret = 'change-me-all-three'; // the example's Secret shop-git-trigger
git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
git(dir, 'clone', '-q', bare, work);
const pageV = (n) => `<!doctype html>\n<title>podkit demo</title>\n<h1>Hello from podkit</h1>\n<p>version ${n}</p>\n`;
writeFileSync(join(work, 'index.html'), pageV(1));
git(work, 'add', '-A');
git(work, 'commit', '-q', '-m', 'version 1');
git(work, 'push', '-q', 'origin', 'HEAD:main');
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

// 3. podkit up, in the foreground: its log is the pods' log.
const statusPort = await new Promise((res) => {
  import('node:net').then(({ createServer }) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
});
const env = { ...process.env, ...(stateDir ? { PODKIT_STATE_DIR: stateDir } : {}) };
const up = spawn(process.execPath, [podkitMain, 'up', `--status-bind=127.0.0.1:${statusPort}`, podsFile], {
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
  // Its own process group: a terminal Ctrl-C reaches only this script, which forwards exactly one SIGINT (a second
  // one would make podkit up kill the containers at once instead of stopping them the Kubernetes way).
  detached: true,
});
let upLog = '';
for (const s of [up.stdout, up.stderr]) {
  s.on('data', (d) => {
    upLog = (upLog + d).slice(-20_000);
    if (!selfTest || process.env.PODKIT_DEMO_VERBOSE) process.stdout.write(d);
  });
}
let stopping = false;
const exited = new Promise((r) => up.once('exit', (code, sig) => r(code ?? sig)));
void exited.then((code) => {
  if (!stopping) fail(`podkit up exited (${code}) before the demo stopped it:\n${upLog.slice(-3000)}`);
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
process.on('SIGINT', () => void stop().then(() => process.exit(0)));
// If this script dies some other way, still let the runner stop its pods (it is in its own process group).
process.on('exit', () => up.exitCode === null && up.signalCode === null && up.kill('SIGTERM'));
process.on('SIGTERM', () => void stop().then(() => process.exit(0)));

try {
  await until('every pod to be Ready', async () => (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).ok, 120_000);
  const page = async () => (await fetch(`http://127.0.0.1:${web}/`)).text();
  await until('the first page', async () => (await page()).includes('version 1'));
  say(`pods shop and redis are Ready; http://127.0.0.1:${web}/ serves "version 1" (published by git-sync)`);

  // Push-to-deploy once: the hook's signed trigger makes git-sync fetch at once (it polls only every 30 s).
  writeFileSync(join(work, 'index.html'), pageV(2));
  git(work, 'commit', '-q', '-am', 'version 2');
  const t0 = Date.now();
  git(work, 'push', '-q', 'origin', 'HEAD:main');
  await until('the pushed page', async () => (await page()).includes('version 2'));
  say(`pushed "version 2": visible through nginx ${Date.now() - t0} ms after git push`);

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
say('try it:');
say(`  cd ${work} && $EDITOR index.html && git commit -am "my change" && git push`);
say(`  curl http://127.0.0.1:${web}/                  # the new page, moments after the push`);
say(`  sudo ip netns exec ${shopNs} redis-cli -p 6379 get app:visits   # Redis "on localhost" inside the pod: the ambassador`);
say(`  redis-cli -h ${NODE_IP} -p ${redisMaster} monitor        # watch the app's writes land on the master (${redisReplica}: the replica's reads)`);
say(`  curl http://127.0.0.1:${metrics}/metrics            # nginx, Redis, the app's StatsD and JSON stats, normalized`);
say(`  sudo ${sd}podkit ps -c; sudo ${sd}podkit logs shop app   # (podkit is node ${podkitMain})`);
say(`  status page: http://127.0.0.1:${statusPort}/`);
say('Ctrl-C stops both pods.');
