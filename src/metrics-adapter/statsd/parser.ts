/** @module Pure byte-level StatsD parser: packets → lines → samples (DogStatsD, InfluxDB, Librato, SignalFX tags). No I/O. */
import { isUtf8 } from 'node:buffer';
import { isGoInt64 } from '../../core/parse.js';

export type StatType = 'c' | 'g' | 'ms' | 'h' | 'd' | 's';

/** Why a line or sample was dropped; the values are the `reason` label of the parse-error counter. */
export type ParseErrorReason =
  | 'malformed_line'
  | 'invalid_utf8'
  | 'mixed_tagging_styles'
  | 'not_enough_parts_after_colon'
  | 'invalid_extended_aggregate_type'
  | 'malformed_component'
  | 'malformed_value'
  | 'invalid_sample_factor'
  | 'illegal_stat_type'
  | 'malformed_container_id'
  | 'malformed_timestamp'
  | 'line_too_long'
  /** A UDP datagram longer than the receiver's slot (dropped whole: a cut line could carry a wrong value). */
  | 'datagram_truncated';

export type Tags = Array<[string, string]>;

/** Receives what the parser finds. Kept as an interface of two methods so the hot path allocates nothing else. */
export interface SampleSink {
  /** `value` is already in the exported unit (ms timers are divided by 1000); `member` is set for `s`. */
  sample(name: string, type: StatType, value: number, rate: number, relative: boolean, tags: Tags | null, member: string | undefined): void;
  /** A dropped line or sample. */
  error(reason: ParseErrorReason): void;
  /** A malformed tag (skipped; the sample is kept, as statsd_exporter does). */
  tagError?(): void;
}

export interface TagStyles {
  dogstatsd: boolean;
  influxdb: boolean;
  librato: boolean;
  signalfx: boolean;
}

export const ALL_TAG_STYLES: TagStyles = { dogstatsd: true, influxdb: true, librato: true, signalfx: true };

/** Longest line considered; longer lines are dropped (a datagram is at most 64 KiB anyway). */
export const MAX_LINE = 65_536;

/**
 * A copy of a string cut from a packet. V8 keeps slices of 13+ characters as views into the whole packet text, so
 * a long-lived series holding one would pin every packet it came from.
 */
export function own(s: string): string {
  return s.length < 13 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

const VALUE_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseNumber(s: string): number | undefined {
  if (!VALUE_RE.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Parse one packet (a datagram, or a run of complete lines from a stream). Lines end in `\n` (a trailing `\r`
 * is ignored); the last line needs no terminator. Returns the number of non-empty lines seen. Never throws.
 */
export function parsePacket(buf: Uint8Array, sink: SampleSink, styles: TagStyles = ALL_TAG_STYLES, start = 0, end = buf.length): number {
  // Fast path: an all-ASCII packet is decoded once and split as a string (the common case by far).
  // Fastest path: one plain line (`name:123|c`, the common single-metric datagram) parsed from the bytes. It gives
  // up within a few bytes on anything else (a batched packet's first line has more after its type).
  if (plainLine(buf, start, end, sink)) return 1;
  let ascii = true;
  for (let k = start; k < end; k++) {
    if (buf[k] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const text = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
    let lines = 0;
    let i = 0;
    const n = text.length;
    while (i < n) {
      let j = text.indexOf('\n', i);
      if (j === -1) j = n;
      let e = j;
      if (e > i && text.charCodeAt(e - 1) === 13) e--;
      if (e > i) {
        lines++;
        if (e - i > MAX_LINE) sink.error('line_too_long');
        else parseLine(e - i === n ? text : text.slice(i, e), sink, styles);
      }
      i = j + 1;
    }
    return lines;
  }
  let lines = 0;
  let i = start;
  while (i < end) {
    let j = i;
    let lineAscii = true;
    while (j < end && buf[j] !== 10) {
      if (buf[j] >= 0x80) lineAscii = false;
      j++;
    }
    let e = j;
    if (e > i && buf[e - 1] === 13) e--;
    if (e > i) {
      lines++;
      parseLineBytes(buf, i, e, lineAscii, sink, styles);
    }
    i = j + 1;
  }
  return lines;
}

/** Type letters of a plain line, by the byte after `|` (`m` stands for `ms`). */
const PLAIN_TYPE: Record<number, StatType> = { 99: 'c', 103: 'g', 104: 'h', 100: 'd', 109: 'ms' };

/**
 * A packet that is one ASCII line `name:digits|type` (optionally ending in `\n` or `\r\n`) with no tags, sign,
 * fraction, rate or other parts: handled from the bytes with the name as the only string made. Returns false
 * (nothing reported) for anything else, which then takes the general path, so the two always agree.
 */
function plainLine(buf: Uint8Array, start: number, end: number, sink: SampleSink): boolean {
  if (end > start && buf[end - 1] === 10) end--;
  if (end > start && buf[end - 1] === 13) end--;
  if (end - start > MAX_LINE) return false;
  let colon = start;
  for (; colon < end; colon++) {
    const c = buf[colon];
    if (c === 58) break;
    if (c === 35 || c === 44 || c === 91 || c === 93 || c === 124 || c === 10 || c >= 0x80) return false;
  }
  if (colon === start || colon >= end) return false;
  let value = 0;
  let k = colon + 1;
  // At most 15 digits: exact as a double, so the result equals Number() of the text.
  for (; k < end && k - colon <= 15; k++) {
    const c = buf[k] - 48;
    if (c < 0 || c > 9) break;
    value = value * 10 + c;
  }
  if (k === colon + 1 || k >= end || buf[k] !== 124) return false;
  const type = PLAIN_TYPE[buf[k + 1]];
  if (type === undefined) return false;
  if (type === 'ms' ? !(k + 3 === end && buf[k + 2] === 115) : k + 2 !== end) return false;
  const name = Buffer.prototype.latin1Slice.call(buf, start, colon) as string;
  sink.sample(name, type, type === 'ms' ? value / 1000 : value, 1, false, null, undefined);
  return true;
}

/** Parse the line in buf[start, end) (no terminator). `ascii` says whether every byte is < 0x80. */
export function parseLineBytes(buf: Uint8Array, start: number, end: number, ascii: boolean, sink: SampleSink, styles: TagStyles = ALL_TAG_STYLES): void {
  if (end - start > MAX_LINE) return sink.error('line_too_long');
  let line: string;
  if (ascii) line = Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
  else {
    const slice = buf.subarray(start, end);
    if (!isUtf8(slice)) return sink.error('invalid_utf8');
    line = Buffer.from(slice.buffer, slice.byteOffset, slice.length).toString('utf8');
  }
  parseLine(line, sink, styles);
}

const LABEL_OK = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const NAME_OK = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A StatsD name (or tag key) made a valid Prometheus name exactly as statsd_exporter escapes it: each invalid code
 * point becomes one `_` (a run of `-` only one), and a leading digit gets a `_` in front. `:` is escaped too.
 */
export function escapeMetricName(name: string): string {
  if (name === '' || NAME_OK.test(name)) return name;
  let out = name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57 ? '_' : '';
  let prev = '';
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if ((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95) out += ch;
    else if (!(ch === '-' && prev === '-')) out += '_';
    prev = ch;
  }
  return out;
}

/** Tags `k<sep>v` separated by commas in text[from, to), scanned by index (the hot path for tagged lines). */
function addTagList(text: string, sep: string, tags: Tags, sink: SampleSink, dog: boolean, from = 0, to = text.length): void {
  if (from >= to) {
    sink.tagError?.();
    return;
  }
  let i = from;
  while (i <= to) {
    let j = text.indexOf(',', i);
    if (j === -1 || j > to) j = to;
    let s = i;
    if (dog && text.charCodeAt(s) === 35) s++;
    const k = text.indexOf(sep, s);
    if (k === -1 || k >= j || k === s || k === j - 1) sink.tagError?.();
    else {
      const key = text.slice(s, k);
      tags.push([LABEL_OK.test(key) ? key : escapeMetricName(key), text.slice(k + 1, j)]);
    }
    i = j + 1;
  }
}

/** Strip SignalFX / Librato / InfluxDB tags from the name part, collecting them. */
function nameAndTags(raw: string, tags: Tags, styles: TagStyles, sink: SampleSink): string {
  if (styles.signalfx) {
    const a = raw.indexOf('[');
    const b = raw.indexOf(']');
    if (a !== -1 && b !== -1 && b > a) {
      addTagList(raw.slice(a + 1, b), '=', tags, sink, false);
      return raw.slice(0, a) + raw.slice(b + 1);
    }
    if ((a === -1) !== (b === -1) || (a !== -1 && b < a)) {
      sink.tagError?.();
      return raw;
    }
  }
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c === 35 /* # */ && styles.librato) || (c === 44 /* , */ && styles.influxdb)) {
      addTagList(raw.slice(i + 1), '=', tags, sink, false);
      return raw.slice(0, i);
    }
  }
  return raw;
}

/** Parse one decoded line. Exposed for tests and the reference model; `parsePacket` is the entry point. */
export function parseLine(line: string, sink: SampleSink, styles: TagStyles = ALL_TAG_STYLES): void {
  const colon = line.indexOf(':');
  if (colon <= 0) return sink.error('malformed_line');
  let special = false;
  for (let i = 0; i < colon; i++) {
    const c = line.charCodeAt(i);
    if (c === 35 || c === 44 || c === 91 || c === 93) {
      special = true;
      break;
    }
  }
  const tags: Tags = [];
  const name = special ? nameAndTags(line.slice(0, colon), tags, styles, sink) : line.slice(0, colon);
  if (name === '') return sink.error('malformed_line');
  const bar = line.indexOf('|', colon + 1);
  if (bar === -1) return sink.error('not_enough_parts_after_colon');
  // As statsd_exporter: `|#` marks a DogStatsD line (no multi-sample split, no mixing with name tags) even when its
  // tags are not parsed; with parsing off the sample is kept without them.
  const dog = line.indexOf('|#', colon) !== -1;
  if (dog && tags.length > 0) return sink.error('mixed_tagging_styles');
  const dogTags = dog && styles.dogstatsd;
  const colon2 = line.indexOf(':', colon + 1);
  if (colon2 === -1 || (dog && colon2 > bar)) return parseSample(name, line, colon + 1, tags, dogTags, sink);
  if (colon2 < bar) {
    // DogStatsD extended aggregation: several values sharing one type/rate/tags suffix.
    const afterType = line.indexOf('|', bar + 1);
    const type = afterType === -1 ? line.slice(bar + 1) : line.slice(bar + 1, afterType);
    if (type !== 'ms' && type !== 'h' && type !== 'd') return sink.error('invalid_extended_aggregate_type');
    const suffix = line.slice(bar);
    for (const v of line.slice(colon + 1, bar).split(':')) parseSample(name, v + suffix, 0, tags, dogTags, sink);
    return;
  }
  // Several samples on one line: a:1|c:2|c (not with DogStatsD tags, whose values hold colons).
  for (const sample of line.slice(colon + 1).split(':')) parseSample(name, sample, 0, tags, dogTags, sink);
}

const TYPE_BY_CODE: Record<number, StatType> = { 99: 'c', 103: 'g', 104: 'h', 100: 'd', 115: 's' };

/** One sample `value|type[|@rate][|#tags][|c:id][|Tts]` starting at `from` in `text`, scanned by index. */
function parseSample(name: string, text: string, from: number, baseTags: Tags, dog: boolean, sink: SampleSink): void {
  const end = text.length;
  const p1 = text.indexOf('|', from);
  if (p1 === -1) return sink.error('malformed_component');
  let p2 = text.indexOf('|', p1 + 1);
  if (p2 === -1) p2 = end;
  let type: StatType | undefined;
  const tlen = p2 - p1 - 1;
  if (tlen === 1) type = TYPE_BY_CODE[text.charCodeAt(p1 + 1)];
  else if (tlen === 2 && text.charCodeAt(p1 + 1) === 109 && text.charCodeAt(p1 + 2) === 115) type = 'ms';
  const valueStr = text.slice(from, p1);
  if (type === undefined) {
    // More than eight parts is a malformed component whatever the type says (statsd_exporter's order).
    let parts = 1;
    for (let q = p1; q !== -1; q = text.indexOf('|', q + 1)) parts++;
    return sink.error(parts > 8 ? 'malformed_component' : 'illegal_stat_type');
  }
  let value = 0;
  let member: string | undefined;
  if (type === 's') {
    if (valueStr === '') return sink.error('malformed_value');
    member = valueStr;
  } else {
    const v = parseNumber(valueStr);
    if (v === undefined) return sink.error('malformed_value');
    value = v;
  }
  const relative = type === 'g' && (valueStr.charCodeAt(0) === 43 || valueStr.charCodeAt(0) === 45);
  let rate = 1;
  let tags: Tags | null = baseTags.length > 0 ? baseTags.slice() : null;
  if (p2 < end) {
    let parts = 3;
    for (let q = text.indexOf('|', p2 + 1); q !== -1; q = text.indexOf('|', q + 1)) parts++;
    if (parts > 8) return sink.error('malformed_component');
  }
  let k = p2;
  while (k < end) {
    let next = text.indexOf('|', k + 1);
    if (next === -1) next = end;
    if (next === k + 1) return sink.error('malformed_component');
    const c0 = text.charCodeAt(k + 1);
    if (c0 === 64 /* @ */) {
      // As statsd_exporter: an unreadable rate is counted and the sample kept at rate 1; @0 means 1. A rate whose
      // weight (1/rate) is not finite is refused later, where the sample is weighed.
      const r = parseNumber(text.slice(k + 2, next));
      if (r === undefined) sink.error('invalid_sample_factor');
      else if (r !== 0) rate = r;
    } else if (c0 === 35 /* # */) {
      if (dog) {
        tags ??= [];
        addTagList(text, ':', tags, sink, true, k + 2, next);
      }
    } else if (c0 === 99 /* c */) {
      if (text.charCodeAt(k + 2) !== 58 || next - k <= 3) return sink.error('malformed_container_id');
      tags ??= [];
      tags.push(['container_id', text.slice(k + 3, next)]);
    } else if (c0 === 84 /* T */) {
      // Validated and ignored, as statsd_exporter does: a timestamp Go's ParseInt refuses (not an int64) drops the
      // sample, counted.
      if (!isGoInt64(text.slice(k + 2, next))) return sink.error('malformed_timestamp');
    } else return sink.error('invalid_sample_factor');
    k = next;
  }
  if (type === 'ms') value /= 1000;
  sink.sample(name, type, value, type === 'g' ? 1 : rate, relative, tags !== null && tags.length > 0 ? tags : null, member);
}
