/** @module Starts the OTLP/HTTP pusher (outputs/otlp.ts, written beside the sources) from the `outputs.otlp` config. */
import type { Logger } from '../core/log.js';
import type { MetricFamily } from '../core/metrics/model.js';
import { ConfigError } from '../core/errors.js';

export interface OtlpHandle {
  close(): Promise<void>;
}

interface OtlpModule {
  startOtlpPusher(o: { endpoint: string; intervalMs: number; headers: Record<string, string>; collect: () => MetricFamily[]; log: Logger }): OtlpHandle | Promise<OtlpHandle>;
}

export async function startOtlp(cfg: { endpoint: string; intervalMs: number; headers: Record<string, string> }, collect: () => MetricFamily[], log: Logger): Promise<OtlpHandle> {
  // Loaded by name so the adapter core builds on its own; the pusher lives in outputs/otlp.ts.
  const spec = './outputs/otlp.js';
  let mod: OtlpModule;
  try {
    mod = (await import(spec)) as OtlpModule;
  } catch (err) {
    throw new ConfigError('outputs.otlp', `the OTLP output is not available in this build (${(err as Error).message})`);
  }
  const h = await mod.startOtlpPusher({ ...cfg, collect, log: log.child({ output: 'otlp' }) });
  return { close: async () => h.close() };
}
