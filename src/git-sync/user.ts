/** @module `--add-user`: give an arbitrary uid a passwd entry (as kubernetes/git-sync v4 does), because ssh refuses to run for a uid it cannot look up. */
import { appendFileSync, readFileSync } from 'node:fs';
import { FileError } from '../core/errors.js';

/** True when `passwd` (the file's text) has an entry for `uid`. */
export function hasPasswdEntry(passwd: string, uid: number): boolean {
  return passwd.split('\n').some((line) => line.split(':')[2] === String(uid));
}

/**
 * Append `git-sync:x:<uid>:<gid>::<home>:/sbin/nologin` to `file` unless the uid already has an entry. Home is
 * $HOME, else the working directory, as v4 writes it. Returns whether a line was added.
 */
export function addUser(file = '/etc/passwd'): boolean {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileError(file, `--add-user: can't read ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (hasPasswdEntry(text, uid)) return false;
  const home = process.env.HOME || process.cwd();
  try {
    appendFileSync(file, `${text === '' || text.endsWith('\n') ? '' : '\n'}git-sync:x:${uid}:${gid}::${home}:/sbin/nologin\n`);
  } catch (e) {
    throw new FileError(file, `--add-user: can't add uid ${uid} to ${file} (it must be writable by this user): ${(e as Error).message}`, { cause: e });
  }
  return true;
}
