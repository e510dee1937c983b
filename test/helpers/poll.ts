/** @module Waiting without sleeps: poll until a condition holds, with a timeout that names what was awaited. */
import { connect } from 'node:net';

export interface PollOptions {
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** Between tries. Default 20 ms. */
  intervalMs?: number;
  /** For the timeout message. */
  what?: string;
}

/** Call `fn` until it returns a truthy value (or stops throwing); resolve with that value. */
export async function pollUntil<T>(fn: () => T | Promise<T>, opts: PollOptions = {}): Promise<NonNullable<T>> {
  const timeout = opts.timeoutMs ?? 10_000;
  const interval = opts.intervalMs ?? 20;
  const end = Date.now() + timeout;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= end) {
      const why = lastErr instanceof Error ? ` (last error: ${lastErr.message})` : '';
      throw new Error(`timed out after ${timeout} ms waiting for ${opts.what ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Reject if `p` has not settled within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** True once a TCP connect to host:port succeeds. */
export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 10_000): Promise<void> {
  await pollUntil(() => canConnect(port, host), { timeoutMs, what: `${host}:${port} to accept connections` });
}
