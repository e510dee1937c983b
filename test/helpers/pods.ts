/** @module Helpers for `podkit up` tests: state dirs torn down with `down --all`, manifests written to temp files. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPodkit } from './cli.js';
import { tempDir } from './proc.js';

const stateDirs: string[] = [];

/** A fresh --state-dir; `downAllPods()` (in `after`) stops whatever a test left running in it. */
export function podStateDir(): string {
  const d = tempDir('podkit-state-');
  stateDirs.push(d);
  return d;
}

/** `podkit down --all` in every state dir handed out: no pod, namespace or mount outlives the test file. */
export async function downAllPods(): Promise<void> {
  for (const d of stateDirs.splice(0)) await runPodkit(['down', '--all', '--state-dir', d], { timeoutMs: 60_000 });
}

/** Write a manifest to a new temp file; returns its path. */
export function yamlFile(text: string, name = 'pod.yaml'): string {
  const f = join(tempDir('podkit-yaml-'), name);
  writeFileSync(f, text);
  return f;
}

/** One row of `podkit ps --json`: the pod's status as the runner last wrote it, and whether its runner is gone. */
export interface PsRow {
  name: string;
  phase?: string;
  ready?: boolean;
  orphaned: boolean;
  message?: string;
  containers?: { name: string; state: string; reason: string }[];
}

/** `podkit ps --json` of a state dir (fails the test when ps does). */
export async function psJson(dir: string): Promise<PsRow[]> {
  const r = await runPodkit(['ps', '--json', '--state-dir', dir]);
  if (r.code !== 0) throw new Error(`podkit ps exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as PsRow[];
}
