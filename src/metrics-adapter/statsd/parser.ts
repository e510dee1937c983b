/** @module Pure byte-level StatsD parser: packets → lines → samples (DogStatsD, InfluxDB, Librato, SignalFX tags). No I/O. */
import { isUtf8 } from 'node:buffer';
import { sanitizeName } from '../../core/metrics/model.js';

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
  | 'line_too_long';

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

const VALUE_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const INT_RE = /^[+-]?\d+$/;

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
  let lines = 0;
  let i = start;
  while (i < end) {
    let j = i;
    let ascii = true;
    while (j < end && buf[j] !== 10) {
      if (buf[j] >= 0x80) ascii = false;
      j++;
    }
    let e = j;
    if (e > i && buf[e - 1] === 13) e--;
    if (e > i) {
      lines++;
      parseLineBytes(buf, i, e, ascii, sink, styles);
    }
    i = j + 1;
  }
  return lines;
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

function addTag(tag: string, sep: string, tags: Tags, sink: SampleSink): void {
  const k = tag.indexOf(sep);
  if (k <= 0 || k === tag.length - 1) {
    sink.tagError?.();
    return;
  }
  tags.push([sanitizeName(tag.slice(0, k), true), tag.slice(k + 1)]);
}

function addTagList(list: string, sep: string, tags: Tags, sink: SampleSink, dog: boolean): void {
  if (list === '') {
    sink.tagError?.();
    return;
  }
  for (const part of list.split(',')) addTag(dog && part.startsWith('#') ? part.slice(1) : part, sep, tags, sink);
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
  const tags: Tags = [];
  const name = nameAndTags(line.slice(0, colon), tags, styles, sink);
  if (name === '') return sink.error('malformed_line');
  const rest = line.slice(colon + 1);
  const dog = styles.dogstatsd && rest.includes('|#');
  if (dog && tags.length > 0) return sink.error('mixed_tagging_styles');

  const firstBar = rest.indexOf('|');
  if (firstBar === -1) return sink.error('not_enough_parts_after_colon');
  let samples: string[];
  const head = rest.slice(0, firstBar);
  if (head.includes(':')) {
    // DogStatsD extended aggregation: several values sharing one type/rate/tags suffix.
    const afterType = rest.indexOf('|', firstBar + 1);
    const type = afterType === -1 ? rest.slice(firstBar + 1) : rest.slice(firstBar + 1, afterType);
    if (type !== 'ms' && type !== 'h' && type !== 'd') return sink.error('invalid_extended_aggregate_type');
    const suffix = rest.slice(firstBar);
    samples = head.split(':').map((v) => v + suffix);
  } else if (dog) samples = [rest];
  else samples = rest.split(':');

  for (const sample of samples) parseSample(name, sample, tags, dog, sink);
}

function parseSample(name: string, sample: string, baseTags: Tags, dog: boolean, sink: SampleSink): void {
  const parts = sample.split('|');
  if (parts.length < 2 || parts.length > 8) return sink.error('malformed_component');
  const valueStr = parts[0];
  const type = parts[1];
  if (type !== 'c' && type !== 'g' && type !== 'ms' && type !== 'h' && type !== 'd' && type !== 's') return sink.error('illegal_stat_type');
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
  for (let k = 2; k < parts.length; k++) {
    const comp = parts[k];
    if (comp === '') return sink.error('malformed_component');
    const c0 = comp.charCodeAt(0);
    if (c0 === 64 /* @ */) {
      const r = parseNumber(comp.slice(1));
      if (r === undefined || r <= 0 || r > 1) return sink.error('invalid_sample_factor');
      rate = r;
    } else if (c0 === 35 /* # */ && dog) {
      tags ??= [];
      addTagList(comp.slice(1), ':', tags, sink, true);
    } else if (c0 === 99 /* c */) {
      if (!comp.startsWith('c:') || comp.length <= 2) return sink.error('malformed_container_id');
      tags ??= [];
      tags.push(['container_id', comp.slice(2)]);
    } else if (c0 === 84 /* T */) {
      if (!INT_RE.test(comp.slice(1))) return sink.error('malformed_timestamp');
    } else return sink.error('invalid_sample_factor');
  }
  if (type === 'ms') value /= 1000;
  sink.sample(name, type, value, type === 'g' ? 1 : rate, relative, tags !== null && tags.length > 0 ? tags : null, member);
}
