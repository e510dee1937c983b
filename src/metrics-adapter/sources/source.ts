/** @module The one interface every metrics-adapter source implements (redis, nginx, json, prometheus, jolokia). */
import type { MetricFamily } from '../../core/metrics/model.js';
import type { Logger } from '../../core/log.js';

export interface Source {
  readonly name: string;
  readonly kind: string;
  collect(signal: AbortSignal): Promise<MetricFamily[]>;
  /** Families served when a collection fails: the peer exporter's own `*_up 0`, which alerts watch. */
  down?(): MetricFamily[];
  close?(): Promise<void>;
}

/** One gauge family with a single unlabelled series (a `*_up` family). */
export function upFamily(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: 'gauge', metrics: [{ labels: {}, value }] };
}
export interface SourceFactory<O> { kind: string; parseOptions(raw: unknown, path: string): O /* throws ConfigError (src/core/errors.ts) naming the YAML path, e.g. 'sources[2].url' */; create(name: string, options: O, deps: SourceDeps): Source; }
/** What the core gives every source: its logger and the body-size cap its requests must honour (`max_body_size`). */
export interface SourceDeps {
  log: Logger;
  maxBodyBytes?: number;
  /** The source's max_series: a source that can stop early (a large exposition) does, and reports what it skipped. */
  maxSeries?: number;
  onTruncate?: (skipped: number) => void;
  /** A line the target's peer reader accepts but the model cannot hold was skipped (the rest of the collection stands). */
  onSkip?: () => void;
}
