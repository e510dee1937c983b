/** @module A small registry of instruments (counter, gauge, histogram, info) for self-metrics. */
import { InternalError } from '../errors.js';
import { DEFAULT_BUCKETS, labelKey, LABEL_NAME_RE, METRIC_NAME_RE, type Labels, type Metric, type MetricFamily, type MetricType } from './model.js';

interface Common {
  name: string;
  help: string;
  labelNames?: readonly string[];
  unit?: string;
}

abstract class Instrument<Child> {
  protected readonly children = new Map<string, { labels: Labels; child: Child }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
    readonly unit?: string,
  ) {
    if (!METRIC_NAME_RE.test(name)) throw new InternalError(`invalid metric name ${name}`);
    for (const l of labelNames) if (!LABEL_NAME_RE.test(l) || l.startsWith('__')) throw new InternalError(`invalid label name ${l}`);
  }
  protected abstract create(): Child;
  protected abstract snapshot(labels: Labels, child: Child): Metric;

  /** The series for these labels, created on first use. Keep the result on hot paths. */
  labels(labels: Labels = {}): Child {
    const key = labelKey(labels);
    let e = this.children.get(key);
    if (!e) {
      const clean: Record<string, string> = {};
      for (const n of this.labelNames) clean[n] = labels[n] ?? '';
      for (const n of Object.keys(labels)) if (!this.labelNames.includes(n)) throw new InternalError(`${this.name}: unknown label ${n}`);
      e = { labels: clean, child: this.create() };
      this.children.set(key, e);
    }
    return e.child;
  }
  /** Forget one series (e.g. a replica that left) or all of them. */
  remove(labels?: Labels): void {
    if (labels === undefined) this.children.clear();
    else this.children.delete(labelKey(labels));
  }
  collect(): MetricFamily {
    const metrics: Metric[] = [];
    for (const { labels, child } of this.children.values()) metrics.push(this.snapshot(labels, child));
    return { name: this.name, help: this.help, type: this.type, unit: this.unit, metrics };
  }
}

export class CounterChild {
  value = 0;
  readonly created = Date.now() / 1000;
  inc(n = 1): void {
    if (n < 0) throw new InternalError('counter cannot decrease');
    this.value += n;
  }
}

export class Counter extends Instrument<CounterChild> {
  protected create() {
    return new CounterChild();
  }
  protected snapshot(labels: Labels, c: CounterChild): Metric {
    return { labels, value: c.value, created: c.created };
  }
  inc(labels: Labels = {}, n = 1): void {
    this.labels(labels).inc(n);
  }
}

export class GaugeChild {
  value = 0;
  set(v: number): void {
    this.value = v;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

export class Gauge extends Instrument<GaugeChild> {
  protected create() {
    return new GaugeChild();
  }
  protected snapshot(labels: Labels, g: GaugeChild): Metric {
    return { labels, value: g.value };
  }
  set(labels: Labels, v: number): void {
    this.labels(labels).set(v);
  }
}

export class HistogramChild {
  readonly counts: number[];
  sum = 0;
  count = 0;
  readonly created = Date.now() / 1000;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    // Non-cumulative per bucket; made cumulative at collect time, so observe stays O(log n).
    let lo = 0;
    let hi = this.bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (v <= this.bounds[mid]) hi = mid;
      else lo = mid + 1;
    }
    if (lo < this.counts.length) this.counts[lo]++;
  }
}

export class Histogram extends Instrument<HistogramChild> {
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = DEFAULT_BUCKETS, unit?: string) {
    super(name, help, 'histogram', labelNames, unit);
    this.buckets = [...buckets].sort((a, b) => a - b).filter((b) => b !== Infinity);
  }
  protected create() {
    return new HistogramChild(this.buckets);
  }
  protected snapshot(labels: Labels, h: HistogramChild): Metric {
    let acc = 0;
    const buckets = this.buckets.map((le, i) => ({ le, count: (acc += h.counts[i]) }));
    buckets.push({ le: Infinity, count: h.count });
    return { labels, buckets, sum: h.sum, count: h.count, created: h.created };
  }
  observe(labels: Labels, v: number): void {
    this.labels(labels).observe(v);
  }
}

export class InfoChild {}

export class Info extends Instrument<InfoChild> {
  protected create() {
    return new InfoChild();
  }
  protected snapshot(labels: Labels): Metric {
    return { labels, value: 1 };
  }
  /** Replace the single info series with these labels. */
  set(labels: Labels): void {
    this.children.clear();
    this.labels(labels);
  }
}

export type Collector = () => Iterable<MetricFamily>;

/** Holds instruments and collectors; `collect()` is a snapshot for the exposition writers. */
export class Registry {
  private readonly instruments = new Map<string, Instrument<unknown>>();
  private readonly collectors = new Set<Collector>();

  private add<T extends Instrument<unknown>>(i: T): T {
    if (this.instruments.has(i.name)) throw new InternalError(`metric ${i.name} registered twice`);
    this.instruments.set(i.name, i);
    return i;
  }
  counter(o: Common): Counter {
    return this.add(new Counter(o.name, o.help, 'counter', o.labelNames ?? [], o.unit));
  }
  gauge(o: Common): Gauge {
    return this.add(new Gauge(o.name, o.help, 'gauge', o.labelNames ?? [], o.unit));
  }
  histogram(o: Common & { buckets?: readonly number[] }): Histogram {
    return this.add(new Histogram(o.name, o.help, o.labelNames ?? [], o.buckets, o.unit));
  }
  info(o: Common): Info {
    return this.add(new Info(o.name, o.help, 'info', o.labelNames ?? [], o.unit));
  }
  /** Add a function producing families at collect time (gauges read from live state, adapter series). */
  addCollector(c: Collector): () => void {
    this.collectors.add(c);
    return () => this.collectors.delete(c);
  }
  collect(): MetricFamily[] {
    const out: MetricFamily[] = [];
    for (const i of this.instruments.values()) out.push(i.collect());
    for (const c of this.collectors) for (const f of c()) out.push(f);
    return out;
  }
}
