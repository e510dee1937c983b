/** @module Temporary git repositories: a bare "remote" and a working clone with a commit-and-push helper. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tempDir } from './proc.js';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'podkit test',
  GIT_AUTHOR_EMAIL: 'test@podkit.invalid',
  GIT_COMMITTER_NAME: 'podkit test',
  GIT_COMMITTER_EMAIL: 'test@podkit.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
}

export interface TestRepo {
  /** Path of the bare repository (the "remote"). */
  readonly bare: string;
  /** `file://` URL of the bare repository. */
  readonly url: string;
  /** Path of the working clone. */
  readonly work: string;
  /** Write (string) or delete (null) files, commit, push to `branch`; returns the new commit hash. */
  commit(files: Record<string, string | null>, message?: string): string;
  /** Current hash of a ref in the bare repo. */
  head(ref?: string): string;
  readonly branch: string;
}

/** A bare repo with one initial commit of `files` (default README.md) on `branch` (default main). */
export function makeRepo(files: Record<string, string> = { 'README.md': 'hello\n' }, branch = 'main'): TestRepo {
  const root = tempDir('podkit-git-');
  const bare = join(root, 'remote.git');
  const work = join(root, 'work');
  git(root, 'init', '-q', '--bare', `--initial-branch=${branch}`, bare);
  git(root, 'init', '-q', `--initial-branch=${branch}`, work);
  git(work, 'remote', 'add', 'origin', bare);
  const repo: TestRepo = {
    bare,
    url: `file://${bare}`,
    work,
    branch,
    commit(changes, message = 'change') {
      for (const [path, content] of Object.entries(changes)) {
        const full = join(work, path);
        if (content === null) rmSync(full, { force: true, recursive: true });
        else {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, content);
        }
      }
      git(work, 'add', '-A');
      git(work, 'commit', '-q', '--allow-empty', '-m', message);
      git(work, 'push', '-q', 'origin', `HEAD:refs/heads/${branch}`);
      return git(work, 'rev-parse', 'HEAD');
    },
    head(ref = branch) {
      return git(bare, 'rev-parse', ref);
    },
  };
  repo.commit(files, 'initial');
  return repo;
}
