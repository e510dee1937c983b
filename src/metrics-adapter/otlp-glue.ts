/** @module Starts the OTLP/HTTP pusher (outputs/otlp.ts) from the `outputs.otlp` config. */
import type { Logger } from '../core/log.js';
import type { MetricFamily } from '../core/metrics/model.js';
import { startOtlpPusher } from './outputs/otlp.js';
import type { AdapterConfig } from './config.js';

export interface OtlpHandle {
  close(): Promise<void>;
  /** Successful and failed pushes so far. */
  stats(): { pushes: number; failures: number };
}

export async function startOtlp(cfg: NonNullable<AdapterConfig['otlp']>, collect: () => Promise<MetricFamily[]>, log: Logger): Promise<OtlpHandle> {
  const h = startOtlpPusher({ ...cfg, collect, log: log.child({ output: 'otlp' }) });
  return { close: () => h.close(), stats: () => h.stats() };
}
