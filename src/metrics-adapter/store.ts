/** @module The adapter's series store: StatsD-fed counters, gauges, histograms, summaries and sets, with TTL and cardinality caps. */
import { stripSuffix, type Labels, type Metric, type MetricFamily } from '../core/metrics/model.js';

export type StoreType = 'counter' | 'gauge' | 'histogram' | 'summary';

/** Why a sample was dropped; the `reason` label of the drop counter. */
export type DropReason = 'global_limit' | 'family_limit' | 'type_conflict' | 'name_conflict' | 'negative_counter' | 'set_member_limit' | 'empty_metric_name' | 'non_finite';

export interface StoreOptions {
  /** Most series in the store; new series beyond it are dropped and counted. Default 100,000. */
  maxSeries?: number;
  /** Most series per family. Default 10,000. */
  maxSeriesPerFamily?: number;
  /** A set (`s`) reports the distinct members of its last complete window of this length, ms. Default 60 s. */
  setWindowMs?: number;
  /** Most distinct members a set remembers per window. Default 10,000. */
  maxSetMembers?: number;
  /** Clock (ms), for tests. Default Date.now. */
  now?: () => number;
  /** Called for each dropped sample. */
  onDrop?: (reason: DropReason) => void;
}

export interface ObserverSpec {
  /** Histogram bucket upper bounds (sorted, no +Inf), or undefined for a summary. */
  buckets?: readonly number[];
  quantiles?: readonly number[];
  maxAgeMs?: number;
  bufCap?: number;
}

/** What only observers and sets need, kept off the common series so a counter or gauge stays small. */
export class SeriesExtra {
  sum = 0;
  count = 0;
  counts: Float64Array | null = null;
  ring: Float64Array | null = null;
  ringT: Float64Array | null = null;
  ringPos = 0;
  ringLen = 0;
  members: Set<string> | null = null;
  lastWindowCount = -1;
  windowStart = 0;
}

/** One series. A single class for every type keeps property access monomorphic on the hot path. */
export class Series {
  v = 0;
  /** Observers and sets only. */
  x: SeriesExtra | null = null;
  expiresAt = Infinity;
  ttl = 0;
  prev: Series | null = null;
  next: Series | null = null;
  /** In a TTL list. */
  linked = false;
  constructor(
    readonly family: Family,
    readonly key: string,
    readonly labels: Labels,
    readonly created: number,
  ) {}
}

export class Family {
  readonly series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly type: StoreType,
    readonly help: string,
    readonly spec: ObserverSpec,
    readonly isSet: boolean,
  ) {}
}

interface TtlList {
  head: Series | null;
  tail: Series | null;
}

/** Sample names a family writes, so two families can never produce the same line name. */
export function claimedNames(name: string, type: StoreType | MetricFamily['type']): string[] {
  switch (type) {
    case 'counter': {
      const base = stripSuffix(name, '_total');
      return [base, `${base}_total`, `${base}_created`];
    }
    case 'histogram':
      return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`, `${name}_created`];
    case 'summary':
      return [name, `${name}_sum`, `${name}_count`, `${name}_created`];
    case 'info': {
      const base = stripSuffix(name, '_info');
      return [base, `${base}_info`];
    }
    default:
      return [name];
  }
}

export class SeriesStore {
  readonly families = new Map<string, Family>();
  private readonly claims = new Map<string, Family | 'reserved'>();
  private readonly ttlLists = new Map<number, TtlList>();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  size = 0;
  /** Limits may change on reload; existing series stay. */
  maxSeries: number;
  maxSeriesPerFamily: number;
  setWindowMs: number;
  maxSetMembers: number;
  private readonly now: () => number;
  private readonly onDrop: (r: DropReason) => void;

  constructor(opts: StoreOptions = {}) {
    this.maxSeries = opts.maxSeries ?? 100_000;
    this.maxSeriesPerFamily = opts.maxSeriesPerFamily ?? 10_000;
    this.setWindowMs = opts.setWindowMs ?? 60_000;
    this.maxSetMembers = opts.maxSetMembers ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.onDrop = opts.onDrop ?? (() => undefined);
  }

  /** Keep these names for others (self-metrics), so StatsD input can never collide with them. */
  reserve(names: Iterable<string>): void {
    for (const n of names) this.claims.set(n, 'reserved');
  }

  /** True when a family of this name and type could live beside the store's families (used for source families). */
  owner(sampleName: string): Family | 'reserved' | undefined {
    return this.claims.get(sampleName);
  }

  /** The series for name+labels, created when allowed; undefined (and counted) when it must be dropped. */
  series(name: string, type: StoreType, help: string, key: string, labels: () => Labels, spec: ObserverSpec, isSet: boolean, ttlMs: number): Series | undefined {
    let fam = this.families.get(name);
    if (fam === undefined) {
      // Checked first: under a burst of unique names this is the common path, and it needs no allocation.
      if (this.size >= this.maxSeries) {
        this.onDrop('global_limit');
        return undefined;
      }
      // A copy: the name may be a slice of a packet's text, which the family (and its claims) would keep alive.
      const owned = name.length < 13 ? name : Buffer.from(name).toString();
      const names = claimedNames(owned, type);
      for (const n of names) {
        if (this.claims.has(n)) {
          this.onDrop('name_conflict');
          return undefined;
        }
      }
      fam = new Family(owned, type, help, spec, isSet);
      this.families.set(owned, fam);
      for (const n of names) this.claims.set(n, fam);
    } else if (fam.type !== type || fam.isSet !== isSet) {
      this.onDrop('type_conflict');
      return undefined;
    }
    let s = fam.series.get(key);
    if (s === undefined) {
      if (this.size >= this.maxSeries) {
        this.onDrop('global_limit');
        return undefined;
      }
      if (fam.series.size >= this.maxSeriesPerFamily) {
        this.onDrop('family_limit');
        return undefined;
      }
      s = new Series(fam, key, labels(), this.now() / 1000);
      if (type === 'histogram' || type === 'summary' || isSet) {
        const x = (s.x = new SeriesExtra());
        if (type === 'histogram') x.counts = new Float64Array((fam.spec.buckets ?? []).length);
      }
      fam.series.set(key, s);
      this.size++;
    }
    this.touch(s, ttlMs);
    return s;
  }

  /** Count a sample dropped before it reached a series. */
  dropped(reason: DropReason): void {
    this.onDrop(reason);
  }

  /** Counter increment, already divided by the sample rate. A result that is not finite is refused (non_finite). */
  inc(s: Series, by: number): void {
    const v = s.v + by;
    if (by < 0) this.onDrop('negative_counter');
    else if (!Number.isFinite(v)) this.onDrop('non_finite');
    else s.v = v;
  }

  gauge(s: Series, value: number, relative: boolean): void {
    const v = relative ? s.v + value : value;
    if (Number.isFinite(v)) s.v = v;
    else this.onDrop('non_finite');
  }

  /**
   * One observation counted `weight` times (1/sample rate, fractional weights kept exactly). An observation that
   * would make the sum or count infinite or NaN is refused (non_finite): one such line must not poison the series.
   */
  observe(s: Series, value: number, weight: number): void {
    const x = s.x!;
    const sum = x.sum + value * weight;
    const count = x.count + weight;
    if (!Number.isFinite(sum) || !Number.isFinite(count) || !Number.isFinite(value)) {
      this.onDrop('non_finite');
      return;
    }
    x.sum = sum;
    x.count = count;
    const spec = s.family.spec;
    if (x.counts !== null) {
      const b = spec.buckets ?? [];
      let lo = 0;
      let hi = b.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (value <= b[mid]) hi = mid;
        else lo = mid + 1;
      }
      if (lo < x.counts.length) x.counts[lo] += weight;
      return;
    }
    const cap = spec.bufCap ?? 500;
    // The window starts small and doubles up to buf_cap, so a summary seen a few times costs bytes, not kilobytes.
    if (x.ring === null) {
      x.ring = new Float64Array(Math.min(8, cap));
      x.ringT = new Float64Array(Math.min(8, cap));
    } else if (x.ringLen === x.ring.length && x.ring.length < cap) {
      const n = Math.min(cap, x.ring.length * 2);
      const r = new Float64Array(n);
      const t = new Float64Array(n);
      r.set(x.ring);
      t.set(x.ringT!);
      x.ring = r;
      x.ringT = t;
    }
    const size = x.ring.length;
    x.ring[x.ringPos] = value;
    x.ringT![x.ringPos] = this.now();
    x.ringPos = (x.ringPos + 1) % size;
    if (x.ringLen < size) x.ringLen++;
  }

  setAdd(s: Series, member: string): void {
    this.rollWindow(s);
    const x = s.x!;
    if (x.members === null) x.members = new Set();
    if (x.members.size >= this.maxSetMembers && !x.members.has(member)) {
      this.onDrop('set_member_limit');
      return;
    }
    x.members.add(member);
  }

  private rollWindow(s: Series): void {
    const x = s.x!;
    const now = this.now();
    if (x.windowStart === 0) x.windowStart = now;
    else if (now - x.windowStart >= this.setWindowMs) {
      const periods = Math.floor((now - x.windowStart) / this.setWindowMs);
      x.lastWindowCount = periods === 1 ? (x.members?.size ?? 0) : 0;
      x.members?.clear();
      x.windowStart += periods * this.setWindowMs;
    }
  }

  private touch(s: Series, ttlMs: number): void {
    if (ttlMs <= 0) {
      this.unlink(s);
      s.ttl = 0;
      s.expiresAt = Infinity;
      return;
    }
    this.unlink(s);
    s.ttl = ttlMs;
    s.expiresAt = this.now() + ttlMs;
    let l = this.ttlLists.get(ttlMs);
    if (l === undefined) this.ttlLists.set(ttlMs, (l = { head: null, tail: null }));
    // Same TTL → expiry order is touch order, so appending keeps each list sorted by expiresAt.
    s.prev = l.tail;
    s.next = null;
    if (l.tail) l.tail.next = s;
    else l.head = s;
    l.tail = s;
    s.linked = true;
    if (s.expiresAt < this.timerAt) this.schedule(s.expiresAt);
  }

  private unlink(s: Series): void {
    if (!s.linked) return;
    s.linked = false;
    const l = this.ttlLists.get(s.ttl);
    if (!l) return;
    if (s.prev) s.prev.next = s.next;
    else l.head = s.next;
    if (s.next) s.next.prev = s.prev;
    else l.tail = s.prev;
    s.prev = s.next = null;
  }

  private schedule(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.sweep();
    }, Math.max(0, at - this.now()));
    this.timer.unref();
  }

  /** Remove every series whose TTL has passed, and re-arm the timer for the next one. Returns how many went. */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    let next = Infinity;
    for (const [ttl, l] of this.ttlLists) {
      while (l.head && l.head.expiresAt <= now) {
        this.remove(l.head);
        removed++;
      }
      if (l.head) next = Math.min(next, l.head.expiresAt);
      else this.ttlLists.delete(ttl);
    }
    if (next < this.timerAt) this.schedule(next);
    return removed;
  }

  private remove(s: Series): void {
    this.unlink(s);
    const fam = s.family;
    if (fam.series.get(s.key) !== s) return;
    fam.series.delete(s.key);
    this.size--;
    if (fam.series.size === 0 && this.families.get(fam.name) === fam) {
      this.families.delete(fam.name);
      for (const n of claimedNames(fam.name, fam.type)) if (this.claims.get(n) === fam) this.claims.delete(n);
    }
  }

  /** Stop the expiry timer (the store itself stays usable). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private snapshot(s: Series, now: number): Metric {
    const f = s.family;
    const x = s.x!;
    switch (f.type) {
      case 'counter':
        return { labels: s.labels, value: s.v, created: s.created };
      case 'gauge':
        if (f.isSet) {
          this.rollWindow(s);
          return { labels: s.labels, value: x.lastWindowCount >= 0 ? x.lastWindowCount : (x.members?.size ?? 0) };
        }
        return { labels: s.labels, value: s.v };
      case 'histogram': {
        const b = f.spec.buckets ?? [];
        const buckets = new Array<{ le: number; count: number }>(b.length + 1);
        let acc = 0;
        // Weights are 1/rate, so totals are fractional; cumulative counts are exposed rounded (monotonic, ±0.5),
        // because both formats expect integer bucket counts.
        for (let i = 0; i < b.length; i++) buckets[i] = { le: b[i], count: Math.round((acc += x.counts![i])) };
        buckets[b.length] = { le: Infinity, count: Math.round(x.count) };
        return { labels: s.labels, buckets, sum: x.sum, count: Math.round(x.count), created: s.created };
      }
      case 'summary': {
        const cutoff = now - (f.spec.maxAgeMs ?? 600_000);
        const vals: number[] = [];
        for (let i = 0; i < x.ringLen; i++) if (x.ringT![i] > cutoff) vals.push(x.ring![i]);
        vals.sort((a, b) => a - b);
        const quantiles = (f.spec.quantiles ?? []).map((q) => ({
          quantile: q,
          value: vals.length === 0 ? NaN : vals[Math.min(vals.length - 1, Math.max(0, Math.ceil(q * vals.length) - 1))],
        }));
        return { labels: s.labels, quantiles, sum: x.sum, count: Math.round(x.count), created: s.created };
      }
    }
  }

  /**
   * Families in pieces of at most `slice` series, so a caller can render across event-loop turns. Pieces of one
   * family are consecutive; `first` is false on the continuation pieces. Expired series are skipped and removed.
   */
  *pieces(slice = 1000): Generator<{ family: MetricFamily; first: boolean }> {
    const now = this.now();
    for (const fam of [...this.families.values()]) {
      let batch: Metric[] = [];
      let first = true;
      const expired: Series[] = [];
      for (const s of fam.series.values()) {
        if (s.expiresAt <= now) {
          expired.push(s);
          continue;
        }
        batch.push(this.snapshot(s, now));
        if (batch.length >= slice) {
          yield { family: { name: fam.name, help: fam.help, type: fam.type, metrics: batch }, first };
          first = false;
          batch = [];
        }
      }
      for (const s of expired) this.remove(s);
      if (batch.length > 0 || first) yield { family: { name: fam.name, help: fam.help, type: fam.type, metrics: batch }, first };
    }
  }

  /** All families at once (tests, OTLP). */
  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const { family, first } of this.pieces(Infinity)) {
      if (first) out.push(family);
      else (out[out.length - 1].metrics as Metric[]).push(...family.metrics);
    }
    return out.filter((f) => f.metrics.length > 0);
  }
}
