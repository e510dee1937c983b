/** @module The one interface every metrics-adapter source implements (redis, nginx, json, prometheus, jolokia). */
import type { MetricFamily } from '../../core/metrics/model.js';
import type { Logger } from '../../core/log.js';

export interface Source { readonly name: string; readonly kind: string; collect(signal: AbortSignal): Promise<MetricFamily[]>; close?(): Promise<void>; }
export interface SourceFactory<O> { kind: string; parseOptions(raw: unknown, path: string): O /* throws ConfigError (src/core/errors.ts) naming the YAML path, e.g. 'sources[2].url' */; create(name: string, options: O, deps: SourceDeps): Source; }
/** What the core gives every source: its logger and the body-size cap its requests must honour (`max_body_size`). */
export interface SourceDeps { log: Logger; maxBodyBytes?: number; }
