/** @module `podkit ps`: a table of the pods in the state folder (detached or not), with readiness, restarts and IP. */
import { join } from 'node:path';
import { flag } from '../../core/config.js';
import { runCommand } from '../../core/command.js';
import type { PodStatus } from '../runtime/pod.js';
import { listPods, readJSON } from '../runtime/state.js';
import { age, jobDisplayStatus, podDisplayStatus } from './pod-status.js';
import type { JobStatus } from './job-controller.js';

/** A pod's status.json: a Job's pod also carries its Job's status as last written. */
type PodRecord = PodStatus & { job?: JobStatus; updatedAt?: number };

export const stateDirFlag = flag.string({ help: 'Where pod state, logs and events live', env: ['PODKIT_STATE_DIR'], default: '/run/podkit' });

export function run(argv: string[]): Promise<number> {
  return runCommand(
    {
      command: 'podkit ps',
      usage: 'podkit ps [--containers] [--json]',
      summary: 'List pods started by podkit up (foreground or detached).',
      spec: {
        'state-dir': stateDirFlag,
        containers: flag.bool({ help: 'One line per container', short: 'c', default: false, env: [] }),
        json: flag.bool({ help: 'Print JSON', default: false, env: [] }),
        watch: flag.bool({ help: 'Redraw every second until Ctrl-C (a live terminal status view)', short: 'w', default: false, env: [] }),
      },
      async main({ values }) {
        if (values.watch) {
          let stop = false;
          const onInt = () => (stop = true);
          process.once('SIGINT', onInt);
          while (!stop) {
            process.stdout.write('\x1b[H\x1b[2J' + render(values['state-dir'], values.containers));
            await new Promise((r) => setTimeout(r, 1000));
          }
          process.off('SIGINT', onInt);
          return 0;
        }
        const pods = listPods(values['state-dir']).map((e) => ({ e, st: readJSON<PodStatus>(join(e.dir, 'status.json')) }));
        if (values.json) {
          process.stdout.write(JSON.stringify(pods.map(({ e, st }) => ({ ...st, name: e.name, orphaned: e.orphaned, statusURL: e.state?.statusURL })), null, 1) + '\n');
          return 0;
        }
        process.stdout.write(render(values['state-dir'], values.containers));
        return 0;
      },
    },
    argv,
  );
}

/** The table: one line per pod (and per container with `containers`). */
function render(root: string, containers: boolean): string {
  const pods = listPods(root).map((e) => ({ e, st: readJSON<PodRecord>(join(e.dir, 'status.json')) }));
  const rows = [['NAME', 'READY', 'STATUS', 'RESTARTS', 'IP', 'AGE', 'STATUS PAGE']];
  for (const { e, st } of pods) {
    const cs = (st?.containers ?? []).filter((c) => c.kind !== 'init');
    const status = e.orphaned ? 'Orphaned (runner gone; podkit down --all)' : st ? `${podDisplayStatus(st)}${st.message ? ` (${st.message})` : ''}` : 'Pending';
    const restarts = String((st?.containers ?? []).reduce((n, c) => n + c.restarts, 0));
    rows.push([e.name, `${cs.filter((c) => c.ready).length}/${cs.length}`, status, restarts, e.state?.ip ?? st?.podIP ?? '', e.state ? age(Date.now() - e.state.createdAt) : '', e.state?.statusURL ?? '']);
    if (!containers) continue;
    for (const c of st?.containers ?? []) {
      rows.push([`  ${c.name}`, c.ready ? '1/1' : '0/1', `${c.state}${c.reason ? ` (${c.reason})` : ''}`, String(c.restarts), c.kind, '', c.probes.map((p) => `${p.kind}=${p.last ?? 'pending'}`).join(' ')]);
    }
  }
  return table(rows) + jobRows(pods.map((p) => p.st));
}

/** The Jobs of those pods, as kubectl get jobs (the newest record of each). */
function jobRows(records: (PodRecord | undefined)[]): string {
  const latest = new Map<string, { job: JobStatus; at: number }>();
  for (const r of records) {
    if (!r?.job) continue;
    const key = `${r.job.namespace}/${r.job.name}`;
    if ((latest.get(key)?.at ?? -1) < (r.updatedAt ?? 0)) latest.set(key, { job: r.job, at: r.updatedAt ?? 0 });
  }
  if (!latest.size) return '';
  const rows = [['JOB', 'STATUS', 'COMPLETIONS', 'ACTIVE', 'FAILED', 'DURATION']];
  for (const { job: j } of latest.values()) {
    rows.push([j.name, jobDisplayStatus(j), j.completions !== undefined ? `${j.succeeded}/${j.completions}` : `${j.succeeded}/1 of ${j.parallelism}`, String(j.active), String(j.failed), age((j.completionTime ?? Date.now()) - j.startTime)]);
  }
  return '\n' + table(rows);
}

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd() + '\n').join('');
}
