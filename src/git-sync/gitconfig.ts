/** @module Pure parser for git-sync's `--git-config` list: `key:val,"quoted.key":"quoted val"` with \n \t \" \, \\ escapes. */
import { UsageError } from '../core/errors.js';

const ESC: Record<string, string> = { n: '\n', t: '\t', '"': '"', ',': ',', '\\': '\\' };

/** Parse the list into [key, value] pairs; throws Error with a one-line message on bad syntax. */
export function parseGitConfig(text: string): [string, string][] {
  const out: [string, string][] = [];
  let i = 0;
  const n = text.length;

  const readEscape = (): string => {
    const c = text[i + 1];
    if (c === undefined || !(c in ESC)) throw new UsageError(`invalid escape sequence "\\${c ?? ''}" at offset ${i}`);
    i += 2;
    return ESC[c];
  };

  const readQuoted = (what: string): string => {
    i++; // opening quote
    let s = '';
    for (;;) {
      if (i >= n) throw new UsageError(`unterminated quoted ${what}`);
      const c = text[i];
      if (c === '"') {
        i++;
        return s;
      }
      if (c === '\\') s += readEscape();
      else {
        s += c;
        i++;
      }
    }
  };

  while (i < n) {
    // key
    let key = '';
    if (text[i] === '"') key = readQuoted('key');
    else {
      while (i < n && text[i] !== ':') {
        if (text[i] === ',') throw new UsageError(`key "${key}" has no value`);
        key += text[i++];
      }
    }
    if (text[i] !== ':') throw new UsageError(`key "${key}" has no value`);
    i++;
    if (key === '') throw new UsageError('empty key');
    // value
    let val = '';
    if (text[i] === '"') {
      val = readQuoted('value');
      if (i < n && text[i] !== ',') throw new UsageError(`unexpected "${text[i]}" after quoted value of "${key}"`);
    } else {
      while (i < n && text[i] !== ',') {
        if (text[i] === '\\') val += readEscape();
        else val += text[i++];
      }
    }
    out.push([key, val]);
    if (text[i] === ',') i++;
  }
  return out;
}
