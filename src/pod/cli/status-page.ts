/** @module The live status view: a small self-refreshing web page and /status.json, served by the runner on loopback. */
import type { PodStatus } from '../runtime/pod.js';

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}

export function statusPage(pods: PodStatus[]): string {
  const rows = pods
    .map((p) => {
      const head = `<tr class="pod"><td colspan="7"><b>${esc(p.namespace)}/${esc(p.name)}</b> — ${esc(p.phase)}, ${p.ready ? 'Ready' : 'not ready'}, IP ${esc(p.podIP)}</td></tr>`;
      const cs = p.containers
        .map((c) => {
          const probes = c.probes.map((x) => `${x.kind}: ${x.last ?? 'pending'}${x.detail ? ` (${esc(x.detail)})` : ''}`).join('<br>');
          const state = `${c.state}${c.reason ? ` (${esc(c.reason)})` : ''}${c.exitCode !== undefined ? ` exit ${c.exitCode}` : ''}`;
          return `<tr><td>${esc(c.name)}</td><td>${c.kind}</td><td>${state}</td><td>${c.ready ? '✔' : '✘'}</td><td>${c.restarts}</td><td>${c.pid ?? ''}</td><td>${probes}</td></tr>`;
        })
        .join('');
      return head + cs;
    })
    .join('');
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="2"><title>podkit up</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}tr.pod td{background:#f4f4f4}</style>
</head><body><h1>podkit up</h1><table><tr><th>container</th><th>kind</th><th>state</th><th>ready</th><th>restarts</th><th>pid</th><th>probes</th></tr>${rows}</table>
<p><a href="/status.json">status.json</a></p></body></html>`;
}
