/** @module The live status view: a small self-refreshing web page and /status.json, served by the runner on loopback. */
import { escapeHtml } from '../../core/http.js';
import type { PodStatus } from '../runtime/pod.js';
import type { ContainerStatus } from '../runtime/container.js';
import { age, jobDisplayStatus, podDisplayStatus, type PodExtras } from './pod-status.js';
import type { JobStatus } from './job-controller.js';

const esc = escapeHtml;

/** A container is failing while it backs off, cannot start, ended in error, or runs unready after restarts. */
export function failing(c: ContainerStatus): boolean {
  if (c.reason === 'CrashLoopBackOff' || c.reason === 'CreateContainerConfigError') return true;
  if (c.state === 'terminated') return c.exitCode !== 0 && c.exitCode !== undefined;
  return c.state === 'running' && c.restarts > 0 && !c.ready;
}

function stateCell(c: ContainerStatus, now: number): string {
  if (c.reason === 'CrashLoopBackOff' && c.restartAt !== undefined) {
    const last = c.lastTermination ? `, last ${esc(c.lastTermination.detail)}` : '';
    return `CrashLoopBackOff (restart in ${Math.max(0, Math.ceil((c.restartAt - now) / 1000))}s${last})`;
  }
  const exit = c.exitCode !== undefined ? ` exit ${c.exitCode}` : '';
  return `${c.state}${c.reason ? ` (${esc(c.reason)})` : ''}${exit}`;
}

function containerRows(p: PodStatus, x: PodExtras | undefined, now: number): string {
  return p.containers
    .map((c) => {
      const probes = c.probes.map((q) => `${q.kind}: ${q.last ?? 'pending'}${q.detail ? ` (${esc(q.detail)})` : ''}`).join('<br>');
      const bad = failing(c);
      const row = `<tr class="container${bad ? ' failing' : ''}" data-container="${esc(c.name)}"><td>${esc(c.name)}</td><td>${c.kind}</td><td class="state">${stateCell(c, now)}</td><td>${c.ready ? '✔' : '✘'}</td><td>${c.restarts}</td><td>${c.state === 'running' && c.startedAt ? age(now - c.startedAt) : ''}</td><td>${c.pid ?? ''}</td><td>${probes}</td></tr>`;
      const lines = bad ? (x?.logs.get(c.name) ?? []) : [];
      return lines.length ? `${row}<tr class="logs"><td></td><td colspan="7"><pre>${esc(lines.join('\n'))}</pre></td></tr>` : row;
    })
    .join('');
}

function podSection(p: PodStatus, x: PodExtras | undefined, now: number): string {
  const shown = podDisplayStatus(p);
  const bad = shown === 'CrashLoopBackOff' || shown === 'Failed' || shown === 'CreateContainerConfigError' || !!p.reason;
  const serving = p.containers.filter((c) => c.kind !== 'init');
  const ports = (x?.ports ?? []).map((q) => {
    const host = q.hostIP === '0.0.0.0' || q.hostIP === '' ? '127.0.0.1' : q.hostIP;
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${q.hostPort}/`;
    return `<a href="${esc(url)}">${esc(`${host}:${q.hostPort}`)}</a> → ${esc(q.container)}:${q.containerPort}`;
  });
  const head = `<h2 class="pod${bad ? ' failing' : ''}" data-pod="${esc(p.name)}">${esc(p.namespace)}/${esc(p.name)} <span class="status">${esc(shown)}</span></h2>
<p>${serving.filter((c) => c.ready).length}/${serving.length} ready · IP ${esc(p.podIP)}${x ? ` · age ${age(now - x.createdAt)}` : ''}${ports.length ? ` · published: ${ports.join(', ')}` : ''}</p>`;
  const table = `<table><tr><th>container</th><th>kind</th><th>state</th><th>ready</th><th>restarts</th><th>age</th><th>pid</th><th>probes</th></tr>${containerRows(p, x, now)}</table>`;
  const events = (x?.events ?? []).slice(-10).reverse();
  const ev = events.length
    ? `<details open><summary>recent events</summary><table class="events">${events.map((e) => `<tr class="${/^(exit|backoff|kill|error|sigkill|warning)$/.test(e.event) ? 'warn' : ''}"><td>${age(now - e.t)} ago</td><td>${esc(e.container || '(pod)')}</td><td>${esc(e.event)}</td><td>${esc(e.detail ?? '')}</td></tr>`).join('')}</table></details>`
    : '';
  return head + table + ev;
}

/** The Jobs, as kubectl get jobs: status (with the reason it failed), completions, active, failed pods. */
function jobTable(jobs: JobStatus[], now: number): string {
  if (!jobs.length) return '';
  const rows = jobs.map((j) => {
    const bad = j.condition?.type === 'Failed';
    const done = j.completions !== undefined ? `${j.succeeded}/${j.completions}` : `${j.succeeded}/1 of ${j.parallelism}`;
    return `<tr class="job${bad ? ' failing' : ''}" data-job="${esc(j.name)}"><td>${esc(j.namespace)}/${esc(j.name)}</td><td class="state">${esc(jobDisplayStatus(j))}</td><td>${done}</td><td>${j.active}</td><td>${j.failed}</td><td>${age((j.completionTime ?? now) - j.startTime)}</td><td>${esc(j.condition?.message ?? '')}</td></tr>`;
  });
  return `<h2>jobs</h2><table><tr><th>job</th><th>status</th><th>completions</th><th>active</th><th>failed</th><th>duration</th><th>message</th></tr>${rows.join('')}</table>`;
}

export function statusPage(pods: { status: PodStatus; extras?: PodExtras }[], now = Date.now(), jobs: JobStatus[] = []): string {
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>podkit up</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
h2 .status{font-size:70%;padding:2px 8px;border-radius:4px;background:#e6f4ea;color:#137333}h2.failing .status{background:#fce8e6;color:#a50e0e}
tr.failing td{background:#fce8e6}tr.failing td.state{color:#a50e0e;font-weight:bold}tr.warn td{color:#a50e0e}pre{margin:0;background:#f4f4f4;padding:6px;max-width:80em;overflow:auto}</style>
</head><body><h1>podkit up</h1>${jobTable(jobs, now)}${pods.map((p) => podSection(p.status, p.extras, now)).join('')}
<p><a href="/status.json">status.json</a> (a v1 List of Pods and Jobs, as kubectl get pods,jobs -o json) · <a href="/metrics">metrics</a></p></body></html>`;
}
