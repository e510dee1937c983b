/**
 * @module The Job controller, locally: runs a Job's pods at most `parallelism` at once until `completions` succeed,
 * replaces a failed pod (for Indexed Jobs, in its index) after Kubernetes' back-off, and fails the Job once
 * `backoffLimit` is passed (failed pods under Never, container restarts under OnFailure) or `activeDeadlineSeconds`
 * has run out, stopping its pods.
 */
import { randomSuffix, replacementPod, type JobPlan, type PodPlan } from '../spec/index.js';
import type { Clock, Timer } from '../runtime/clock.js';
import type { PodPhase, PodStatus } from '../runtime/pod.js';

/** What the controller needs of a pod (a PodRunner). */
export interface JobPod {
  readonly name: string;
  readonly done: Promise<PodPhase>;
  status(): PodStatus;
  stop(): Promise<void>;
}

/** Kubernetes' pod replacement back-off: 10 s after the first failure since the last success, doubling, capped at 6 min. */
export const JOB_BACKOFF = { firstMs: 10_000, maxMs: 360_000 };

export interface JobHooks {
  clock: Clock;
  backoff: { firstMs: number; maxMs: number };
  /** Start a prepared pod; a rejection counts the pod as failed. */
  start(p: JobPod): Promise<void>;
  /** Make and prepare a pod for this plan (not started); undefined when the run is stopping. */
  create(plan: PodPlan): Promise<JobPod | undefined>;
  /** A pod has ended and been counted (its folder may go). */
  ended(p: JobPod): Promise<void> | void;
  /** The whole run is stopping (a signal): no more pods, nothing counted. */
  stopping(): boolean;
  log(line: string): void;
  changed(): void;
  /** The random part of a replacement's name (tests make it predictable). */
  suffix?(): string;
}

export type JobResult = 'Complete' | 'Failed' | 'Stopped';

/** batch/v1 JobStatus's counters and finished condition, with wall-clock times. */
export interface JobStatus {
  name: string;
  namespace: string;
  completions?: number;
  parallelism: number;
  active: number;
  succeeded: number;
  failed: number;
  /** Indexed Jobs: the succeeded indexes, as Kubernetes writes them ("0-2,4"). */
  completedIndexes?: string;
  startTime: number;
  completionTime?: number;
  condition?: { type: 'Complete' | 'Failed'; reason?: string; message?: string; at: number };
}

interface Slot {
  index: number;
  plan: PodPlan;
  /** The prepared pod planned at load time, until it is started. */
  fresh?: JobPod;
  /** The pod running (or being made) for this slot. */
  active: boolean;
  succeeded: boolean;
}

export class JobController {
  private readonly slots: Slot[];
  private readonly live = new Set<JobPod>();
  private readonly started = new Set<JobPod>();
  private readonly startFailed = new Set<JobPod>();
  private creating = 0;
  /** Pods whose end is being recorded: the Job is not done before their status (with the Job's) is written. */
  private recording = 0;
  private succeeded = 0;
  private failed = 0;
  private failuresSinceSuccess = 0;
  private lastFailureAt = 0;
  private condition?: JobStatus['condition'];
  private halted = false;
  private readonly startTime = Date.now();
  private completionTime?: number;
  private syncTimer?: Timer;
  private deadlineTimer?: Timer;
  private resolve!: (r: JobResult) => void;
  private settled = false;
  readonly done: Promise<JobResult>;

  constructor(
    readonly job: JobPlan,
    initial: { plan: PodPlan; pod: JobPod }[],
    private readonly h: JobHooks,
  ) {
    this.done = new Promise((r) => (this.resolve = r));
    this.slots = initial.map(({ plan, pod }, i) => ({ index: plan.job?.index ?? i, plan, fresh: pod, active: false, succeeded: false }));
    for (const s of this.slots) this.watch(s, s.fresh!);
  }

  /** Start: the deadline counts from now (the Job's startTime), then the first pods. */
  run(): void {
    const ads = this.job.activeDeadlineSeconds;
    if (ads !== undefined) this.deadlineTimer = this.h.clock.after(ads * 1000, () => this.fail('DeadlineExceeded', 'Job was active longer than specified deadline'));
    if (this.job.completions === 0) this.complete();
    else this.sync();
  }

  /** The run is stopping (a signal or `podkit down`): stop every pod, count nothing more. */
  halt(): Promise<void> {
    this.halted = true;
    this.cancelTimers();
    for (const p of this.live) void p.stop();
    this.settle();
    return this.done.then(() => undefined);
  }

  /** Any pod status change: under OnFailure, the restarts of the Job's running pods count against backoffLimit. */
  observe(): void {
    if (this.job.restartPolicy !== 'OnFailure' || this.over()) return;
    let restarts = 0;
    for (const p of this.started) {
      if (!this.live.has(p)) continue;
      const st = p.status();
      if (st.phase === 'Pending' || st.phase === 'Running') restarts += st.containers.reduce((n, c) => n + c.restarts, 0);
    }
    const limit = this.job.backoffLimit;
    if (limit === 0 ? restarts > 0 : restarts >= limit) this.fail('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
  }

  status(): JobStatus {
    const done = this.slots.filter((s) => s.succeeded).map((s) => s.index);
    return {
      name: this.job.name,
      namespace: this.job.namespace,
      ...(this.job.completions !== undefined ? { completions: this.job.completions } : {}),
      parallelism: this.job.parallelism,
      active: this.slots.filter((s) => s.active).length,
      succeeded: this.succeeded,
      failed: this.failed,
      ...(this.job.indexed ? { completedIndexes: ranges(done) } : {}),
      startTime: this.startTime,
      ...(this.completionTime !== undefined ? { completionTime: this.completionTime } : {}),
      ...(this.condition ? { condition: this.condition } : {}),
    };
  }

  private over(): boolean {
    return !!this.condition || this.halted || this.h.stopping();
  }

  private watch(slot: Slot, pod: JobPod): void {
    this.live.add(pod);
    void pod.done.then((phase) => this.ended(slot, pod, phase));
  }

  /** Start pods while fewer than wanted are active, once the back-off since the last failure has passed. */
  private sync(): void {
    if (this.over()) return this.settle();
    const active = this.slots.filter((s) => s.active).length;
    const { completions, parallelism } = this.job;
    const want = completions !== undefined ? Math.min(parallelism, completions - this.succeeded) : this.succeeded > 0 ? 0 : parallelism;
    let room = want - active;
    if (room <= 0) return;
    const wait = this.backoffLeft();
    if (wait > 0) {
      if (!this.syncTimer) this.h.log(`podkit: job ${this.job.name}: ${this.failed} failed (backoffLimit ${this.job.backoffLimit}); next pod in ${Math.ceil(wait / 100) / 10}s`);
      this.syncTimer ??= this.h.clock.after(wait, () => {
        this.syncTimer = undefined;
        this.sync();
      });
      return;
    }
    for (const slot of this.slots) {
      if (room <= 0) break;
      if (slot.succeeded || slot.active) continue;
      slot.active = true;
      room--;
      const pod = slot.fresh;
      slot.fresh = undefined;
      if (pod) this.begin(pod);
      else void this.replace(slot);
    }
    this.h.changed();
  }

  private backoffLeft(): number {
    const n = this.failuresSinceSuccess;
    if (n === 0) return 0;
    const delay = Math.min(this.h.backoff.maxMs, this.h.backoff.firstMs * 2 ** Math.min(n - 1, 30));
    return Math.max(0, delay - (this.h.clock.now() - this.lastFailureAt));
  }

  private begin(pod: JobPod): void {
    this.started.add(pod);
    this.h.start(pod).catch((e: Error) => {
      this.h.log(`podkit: job ${this.job.name}: pod ${pod.name} did not start: ${e.message}`);
      this.startFailed.add(pod);
      void pod.stop();
    });
  }

  private async replace(slot: Slot): Promise<void> {
    this.creating++;
    let pod: JobPod | undefined;
    try {
      pod = await this.h.create(replacementPod(slot.plan, this.job, this.h.suffix?.() ?? randomSuffix(5)));
    } catch (e) {
      this.h.log(`podkit: job ${this.job.name}: could not make a pod: ${(e as Error).message}`);
    }
    this.creating--;
    if (!pod) {
      slot.active = false;
      if (!this.over()) this.countFailure();
      return this.evaluate();
    }
    this.watch(slot, pod);
    if (this.over()) void pod.stop();
    else this.begin(pod);
  }

  private async ended(slot: Slot, pod: JobPod, phase: PodPhase): Promise<void> {
    this.live.delete(pod);
    const ran = this.started.has(pod);
    if (ran) slot.active = false;
    if (ran && phase === 'Succeeded') {
      this.succeeded++;
      slot.succeeded = true;
      this.failuresSinceSuccess = 0;
    } else if (ran && (phase === 'Failed' || this.startFailed.has(pod) || this.condition?.type === 'Failed')) {
      // A pod the Job stopped because it failed counts as failed, as the controller counts its deleted active pods.
      this.countFailure();
    } else if (ran && !this.over()) {
      // Stopped on request (`podkit down POD`): locally that takes the Job down rather than making another pod.
      this.h.log(`podkit: job ${this.job.name}: pod ${pod.name} was stopped; stopping the Job`);
      void this.halt();
    }
    this.recording++;
    this.evaluate();
    try {
      await this.h.ended(pod);
    } finally {
      this.recording--;
      this.settle();
    }
  }

  private countFailure(): void {
    this.failed++;
    this.failuresSinceSuccess++;
    this.lastFailureAt = this.h.clock.now();
  }

  private evaluate(): void {
    if (!this.over()) {
      const active = this.slots.some((s) => s.active);
      const complete = this.job.completions !== undefined ? this.succeeded >= this.job.completions : this.succeeded > 0;
      if (this.failed > this.job.backoffLimit) this.fail('BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      else if (complete && !active) this.complete();
      else this.sync();
    }
    this.h.changed();
    this.settle();
  }

  private fail(reason: string, message: string): void {
    if (this.condition || this.halted) return;
    this.condition = { type: 'Failed', reason, message, at: Date.now() };
    this.cancelTimers();
    this.h.log(`podkit: job ${this.job.name}: ${reason}: stopping its pods`);
    for (const p of this.live) void p.stop();
    this.h.changed();
    this.settle();
  }

  private complete(): void {
    this.completionTime = Date.now();
    this.condition = { type: 'Complete', at: this.completionTime };
    this.cancelTimers();
    for (const p of this.live) void p.stop();
    this.settle();
  }

  private cancelTimers(): void {
    this.syncTimer?.cancel();
    this.syncTimer = undefined;
    this.deadlineTimer?.cancel();
    this.deadlineTimer = undefined;
  }

  /** Done once the Job has finished (or the run stops) and every one of its pods has ended. */
  private settle(): void {
    if (this.settled || !this.over() || this.live.size > 0 || this.creating > 0 || this.recording > 0) return;
    this.settled = true;
    this.cancelTimers();
    // The final counts: the pods the Job stopped when it failed count as failed.
    const counts = `${this.succeeded} succeeded, ${this.failed} failed`;
    const c = this.condition;
    if (c?.type === 'Failed') this.h.log(`podkit: job ${this.job.name} failed: ${c.reason} (${c.message}; ${counts})`);
    else if (c) this.h.log(`podkit: job ${this.job.name} complete (${counts})`);
    this.resolve(this.condition?.type ?? 'Stopped');
  }
}

/** Kubernetes' completedIndexes: "0-2,4". */
export function ranges(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return out.join(',');
}
