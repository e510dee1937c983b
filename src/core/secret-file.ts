/** @module The one reader of secret files (passwords, webhook keys): every component's `--…-file` secret goes through it. */
import { readFileSync } from 'node:fs';
import { ConfigError, fileErrorReason } from './errors.js';
import { addSecret } from './log.js';

/**
 * The secret a file holds: its first line. The line ends at the first CR or LF, which is how git reads an askpass
 * answer (git-sync's `--password-file` reaches git that way), so `echo pw > f`, a CRLF file and a file without a
 * newline (`kubectl create secret --from-literal`) all give `pw`. Spaces are kept: a Redis password may hold them.
 * The value is registered with the log redactor. Throws ConfigError naming `--<flag>` when the file cannot be read
 * or its first line is empty, so a mounted-but-empty Secret fails at start instead of authenticating with "".
 */
export function readSecretFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`--${flag}`, `cannot read ${path}: ${fileErrorReason(err)}`, { cause: err });
  }
  const secret = firstLine(text);
  if (secret === '') throw new ConfigError(`--${flag}`, `${path} is empty (the secret is its first line)`);
  addSecret(secret);
  return secret;
}

/** The text up to the first CR or LF. */
export function firstLine(text: string): string {
  const end = text.search(/[\r\n]/);
  return end < 0 ? text : text.slice(0, end);
}
