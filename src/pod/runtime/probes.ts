/** @module Probe handlers (exec, httpGet, tcpSocket) and the probe worker: Kubernetes' defaults and thresholds, on an injectable clock. */
import { TimeoutError } from '../../core/errors.js';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Handler, Probe } from '../spec/types.js';
import { MAX_TIMEOUT_MS, type Clock, type Timer } from './clock.js';

export type ProbeResult = 'success' | 'failure';

/** How a handler is run: exec goes through the sandbox, network probes dial `host` (the pod IP by default). */
export interface ProbeTarget {
  host: string;
  /** Named container ports → numbers. */
  ports: Record<string, number>;
  exec(argv: string[], timeoutMs: number): Promise<{ code: number | null; output: string }>;
}

export async function runHandler(h: Handler & { grpc?: unknown }, target: ProbeTarget, timeout: number): Promise<{ result: ProbeResult; detail: string }> {
  // A timeoutSeconds past ~24.8 days would overflow Node's timers (and fire at once): it means "no timeout" anyway.
  const timeoutMs = Math.min(timeout, MAX_TIMEOUT_MS);
  const port = (p: number | string) => (typeof p === 'number' ? p : /^\d+$/.test(p) ? Number(p) : (target.ports[p] ?? 0));
  if (h.exec) {
    const r = await target.exec(h.exec.command ?? [], timeoutMs);
    return r.code === 0 ? { result: 'success', detail: 'exit 0' } : { result: 'failure', detail: r.code === null ? 'timed out' : `exit ${r.code}: ${r.output.trim().slice(0, 200)}` };
  }
  if (h.httpGet) {
    const g = h.httpGet;
    const host = g.host ?? target.host;
    const https = g.scheme === 'HTTPS';
    return new Promise((resolve) => {
      const headers: Record<string, string> = { 'User-Agent': 'kube-probe/podkit', Accept: '*/*' };
      for (const x of g.httpHeaders ?? []) headers[x.name] = x.value;
      const req = (https ? httpsRequest : httpRequest)({ host, port: port(g.port), path: g.path ?? '/', method: 'GET', headers, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
        res.resume();
        const code = res.statusCode ?? 0;
        resolve(code >= 200 && code < 400 ? { result: 'success', detail: `HTTP ${code}` } : { result: 'failure', detail: `HTTP ${code}` });
      });
      req.on('timeout', () => req.destroy(new TimeoutError()));
      req.on('error', (e) => resolve({ result: 'failure', detail: e.message }));
      req.end();
    });
  }
  if (h.tcpSocket) {
    const t = h.tcpSocket;
    return new Promise((resolve) => {
      const s = connect({ host: t.host ?? target.host, port: port(t.port) });
      s.setTimeout(timeoutMs, () => s.destroy(new TimeoutError()));
      s.once('connect', () => {
        s.destroy();
        resolve({ result: 'success', detail: 'connected' });
      });
      s.once('error', (e) => resolve({ result: 'failure', detail: e.message }));
    });
  }
  if (h.sleep) return { result: 'success', detail: 'sleep' };
  return { result: 'success', detail: 'no handler run locally (grpc)' };
}

export interface ProbeState {
  kind: 'startup' | 'readiness' | 'liveness';
  last?: ProbeResult;
  detail?: string;
  successes: number;
  failures: number;
}

/**
 * Runs one probe every periodSeconds after initialDelaySeconds, with timeoutSeconds per attempt; reports a
 * transition when successThreshold consecutive successes or failureThreshold consecutive failures are reached.
 */
export class ProbeWorker {
  readonly state: ProbeState;
  private timer?: Timer;
  private stopped = false;
  private running = false;
  private readonly period: number;
  private readonly timeout: number;
  private readonly successThreshold: number;
  private readonly failureThreshold: number;

  constructor(
    readonly kind: ProbeState['kind'],
    private readonly probe: Probe,
    private readonly target: ProbeTarget,
    private readonly clock: Clock,
    private readonly onTransition: (result: ProbeResult, detail: string) => void,
    private readonly onResult: () => void = () => undefined,
    private readonly run: typeof runHandler = runHandler,
  ) {
    this.state = { kind, successes: 0, failures: 0 };
    this.period = (probe.periodSeconds ?? 10) * 1000;
    this.timeout = (probe.timeoutSeconds ?? 1) * 1000;
    this.successThreshold = probe.successThreshold ?? 1;
    this.failureThreshold = probe.failureThreshold ?? 3;
  }

  start(): void {
    this.timer = this.clock.after((this.probe.initialDelaySeconds ?? 0) * 1000, () => void this.tick());
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    const { result, detail } = await this.run(this.probe, this.target, this.timeout).catch((e: Error) => ({ result: 'failure' as const, detail: e.message }));
    this.running = false;
    if (this.stopped) return;
    const s = this.state;
    s.detail = detail;
    if (result === 'success') {
      s.successes++;
      s.failures = 0;
      if (s.successes === this.successThreshold && s.last !== 'success') {
        s.last = 'success';
        this.onTransition('success', detail);
      }
    } else {
      s.failures++;
      s.successes = 0;
      if (s.failures === this.failureThreshold && s.last !== 'failure') {
        s.last = 'failure';
        this.onTransition('failure', detail);
      }
    }
    this.onResult();
    if (!this.stopped) this.timer = this.clock.after(this.period, () => void this.tick());
  }
}
