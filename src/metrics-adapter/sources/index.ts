/** @module The registry of app-specific sources, keyed by the `kind:` of a `sources:` entry. */
import type { SourceFactory } from './source.js';
import { redisSource } from './redis.js';
import { nginxSource } from './nginx.js';
import { jsonSource } from './json.js';
import { prometheusSource } from './prometheus.js';
import { jolokiaSource } from './jolokia.js';

export type { Source, SourceFactory } from './source.js';

export const sourceFactories: Record<string, SourceFactory<unknown>> = {
  redis: redisSource as SourceFactory<unknown>,
  nginx: nginxSource as SourceFactory<unknown>,
  json: jsonSource as SourceFactory<unknown>,
  prometheus: prometheusSource as SourceFactory<unknown>,
  jolokia: jolokiaSource as SourceFactory<unknown>,
};
