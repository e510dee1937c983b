import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeRepo, pollUntil, PODKIT_MAIN, runStatus, startProcess, startSshd, stopAll, tempDir, requireBinary } from './helpers/index.js';

// git-sync run as an unprivileged user, as the v4 image and most pod securityContexts run it: the remote repository
// and the --root volume belong to root, the sidecar runs as nobody (65534) or as a uid with no passwd entry at all.
after(stopAll);

const NOBODY = 65534;
const SETPRIV = '/usr/bin/setpriv';

/** argv that runs `podkit git-sync ARGS` as uid:gid with no supplementary groups. */
function asUser(uid: number, gid: number, args: string[], home = '/nonexistent'): [string, string[]] {
  return [SETPRIV, [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '/usr/bin/env', `HOME=${home}`, process.execPath, PODKIT_MAIN, 'git-sync', ...args]];
}

/** A temp dir everyone may traverse (mkdtemp makes 0700 ones); `writable` makes it a 0777 volume owned by root. */
function sharedDir(prefix: string, writable = false): string {
  const d = tempDir(prefix);
  chmodSync(d, writable ? 0o777 : 0o755);
  return d;
}

/** A bare remote owned by root, readable by all. */
function rootRepo(files: Record<string, string>) {
  const repo = makeRepo(files);
  chmodSync(join(repo.bare, '..'), 0o755);
  return repo;
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : `<missing ${p}>`);

async function runOnce(uid: number, args: string[]) {
  requireBinary(SETPRIV);
  const [cmd, argv] = asUser(uid, uid, ['--one-time', ...args]);
  return runStatus(cmd, argv, { timeoutMs: 30_000 });
}

test('non-root: --one-time into a root-owned --root volume and into a fresh --root, from a root-owned remote', async () => {
  const repo = rootRepo({ file: 'one\n' });
  const vol = sharedDir('gs-nr-vol-', true);
  const r1 = await runOnce(NOBODY, [`--repo=${repo.url}`, `--root=${vol}`, '--link=link']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(read(join(vol, 'link', 'file')), 'one\n');
  assert.equal(lstatSync(join(vol, '.git')).uid, NOBODY);
  assert.equal(readlinkSync(join(vol, 'link')), `.worktrees/${repo.head()}`);

  const fresh = join(vol, 'sub', 'dir');
  const r2 = await runOnce(NOBODY, [`--repo=${repo.url}`, `--root=${fresh}`, '--link=link']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(read(join(fresh, 'link', 'file')), 'one\n');

  // A second run over the same --root (a restarted pod) adopts what the first left.
  const c2 = repo.commit({ file: 'two\n' });
  const r3 = await runOnce(NOBODY, [`--repo=${repo.url}`, `--root=${vol}`, '--link=link']);
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal(readlinkSync(join(vol, 'link')), `.worktrees/${c2}`);
});

test('non-root: a long-running sync follows the branch forward and backward, a tag, and reports a bad ref in the error file', async () => {
  requireBinary(SETPRIV);
  const repo = rootRepo({ file: 'v1\n' });
  const vol = sharedDir('gs-nr-run-', true);
  const [cmd, argv] = asUser(NOBODY, NOBODY, [`--repo=${repo.url}`, `--root=${vol}`, '--link=link', '--period=100ms', '--ref=main', '--error-file=error.json', '--max-failures=-1']);
  const p = startProcess(cmd, argv, { name: 'git-sync as nobody' });
  const linkIs = (hash: string, what: string) =>
    pollUntil(() => existsSync(join(vol, 'link')) && readlinkSync(join(vol, 'link')) === `.worktrees/${hash}`, { timeoutMs: 20_000, what: `${what}; stderr: ${p.stderr().slice(-800)}` });
  await linkIs(repo.head(), 'first sync');
  const c1 = repo.head();
  const c2 = repo.commit({ file: 'v2\n' });
  await linkIs(c2, 'branch moved forward');
  assert.equal(read(join(vol, 'link', 'file')), 'v2\n');
  execGit(repo.bare, 'update-ref', 'refs/heads/main', c1);
  await linkIs(c1, 'branch moved backward');
  assert.equal(read(join(vol, 'link', 'file')), 'v1\n');
  assert.equal(existsSync(join(vol, 'error.json')), false);
  await p.stop();

  execGit(repo.bare, 'tag', '-a', '-m', 'release', 'v1.0', c2);
  const tagged = await runOnce(NOBODY, [`--repo=${repo.url}`, `--root=${vol}`, '--link=link', '--ref=v1.0']);
  assert.equal(tagged.code, 0, tagged.stderr);
  assert.equal(readlinkSync(join(vol, 'link')), `.worktrees/${c2}`);

  const bad = await runOnce(NOBODY, [`--repo=${repo.url}`, `--root=${vol}`, '--link=link', '--ref=does-not-exist', '--error-file=error.json']);
  assert.equal(bad.code, 1);
  assert.match(read(join(vol, 'error.json')), /couldn't find remote ref/);
  assert.equal(readlinkSync(join(vol, 'link')), `.worktrees/${c2}`, 'the published tree stays');
});

function execGit(cwd: string, ...args: string[]) {
  return runStatus('git', args, { cwd }).then((r) => assert.equal(r.code, 0, r.stderr));
}

test('non-root --group-write: every directory and file git-sync makes is group-writable', async () => {
  const repo = rootRepo({ file: 'x\n', 'dir/nested': 'y\n' });
  const vol = sharedDir('gs-nr-gw-', true);
  const r = await runOnce(NOBODY, [`--repo=${repo.url}`, `--root=${vol}`, '--link=link', '--group-write']);
  assert.equal(r.code, 0, r.stderr);
  const notGroupWritable: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isSymbolicLink()) continue;
      // git makes loose objects and packs read-only for everyone; v4 leaves them so too.
      if (!(st.mode & 0o020) && !/\/objects\//.test(p)) notGroupWritable.push(p);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(vol);
  assert.deepEqual(notGroupWritable, []);
  assert.ok(lstatSync(join(vol, 'link', 'file')).mode & 0o020);
});

test('--add-user: a uid with no passwd entry syncs over ssh once the entry is added (and ssh refuses without it)', async () => {
  requireBinary('/usr/bin/unshare');
  requireBinary(SETPRIV);
  const sshd = await startSshd();
  const repo = rootRepo({ file: 'ssh\n' });
  const uid = 54321;
  const dir = sharedDir('gs-nr-ssh-', true);
  // The user's copy of the key and known_hosts, readable by the unprivileged uid (ssh wants the key private: podkit copies it).
  const key = join(dir, 'key');
  copyFileSync(sshd.userKey, key);
  chmodSync(key, 0o644);
  const known = join(dir, 'known_hosts');
  copyFileSync(sshd.knownHosts, known);
  chmodSync(known, 0o644);
  // /etc/passwd is replaced by a writable copy inside a private mount namespace: the machine's own stays untouched.
  const passwd = join(dir, 'passwd');
  copyFileSync('/etc/passwd', passwd);
  chmodSync(passwd, 0o666);
  const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${repo.bare}`;
  const run = (root: string, extra: string[]) => {
    const [cmd, argv] = asUser(uid, uid, ['--one-time', `--repo=${url}`, `--root=${root}`, '--link=link', `--ssh-key-file=${key}`, `--ssh-known-hosts-file=${known}`, ...extra], dir);
    return runStatus('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /etc/passwd && exec "$@"', passwd, cmd, ...argv], { timeoutMs: 30_000 });
  };
  const without = await run(join(dir, 'r1'), []);
  assert.equal(without.code, 1, 'ssh cannot run for a uid it cannot look up');
  assert.match(without.stderr + without.stdout, /No user exists for uid|user.*uid/i);
  assert.doesNotMatch(readFileSync(passwd, 'utf8'), new RegExp(`:${uid}:`));

  const withUser = await run(join(dir, 'r2'), ['--add-user']);
  assert.equal(withUser.code, 0, withUser.stderr + withUser.stdout);
  assert.equal(read(join(dir, 'r2', 'link', 'file')), 'ssh\n');
  const lines = readFileSync(passwd, 'utf8').split('\n').filter((l) => l.includes(`:${uid}:`));
  assert.deepEqual(lines, [`git-sync:x:${uid}:${uid}::${dir}:/sbin/nologin`]);
  assert.ok(!readFileSync('/etc/passwd', 'utf8').includes(`:${uid}:${uid}:`), "the machine's /etc/passwd is untouched");

  // Run again: the entry exists, nothing is added twice.
  const again = await run(join(dir, 'r2'), ['--add-user']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(readFileSync(passwd, 'utf8').split('\n').filter((l) => l.includes(`:${uid}:`)).length, 1);
});
