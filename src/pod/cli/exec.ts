/**
 * @module `podkit exec POD [-c CONTAINER] -- CMD…`: run a command in a running container, as `kubectl exec` does —
 * through the OCI runtime (inside the image's root filesystem) for a container run from its image, inside the pod's
 * namespaces for a host process, or on the host when the pod has no sandbox. Stdio is passed through; the exit code
 * is the command's.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flag } from '../../core/config.js';
import { SandboxError, UsageError } from '../../core/errors.js';
import { runCommand } from '../../core/command.js';
import type { PodStatus } from '../runtime/pod.js';
import { firstChild } from '../runtime/proc.js';
import { listPods, readJSON, type PodState } from '../runtime/state.js';
import { execProcess } from '../runtime/oci/spec.js';
import { stateDirFlag } from './ps.js';

export function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const cmd = dash >= 0 ? argv.slice(dash + 1) : [];
  return runCommand(
    {
      command: 'podkit exec',
      usage: 'podkit exec POD [-c CONTAINER] -- COMMAND [ARG…]',
      summary: "Run a command in a running container of a pod started by podkit up: inside the container's root filesystem when it runs from its image, inside the pod's namespaces when it is a host process.",
      spec: {
        'state-dir': stateDirFlag,
        container: flag.string({ help: 'The container (default: the first main container)', short: 'c', default: '', env: [] }),
      },
      positionals: true,
      async main({ values, positionals }) {
        if (positionals.length !== 1) throw new UsageError('name one pod, then -- and the command (podkit exec POD -- COMMAND)');
        if (cmd.length === 0) throw new UsageError('give the command after -- (podkit exec POD -- COMMAND)');
        const pod = listPods(values['state-dir']).find((e) => e.name === positionals[0]);
        if (!pod) throw new UsageError(`no pod "${positionals[0]}" (see podkit ps)`);
        const status = readJSON<PodStatus>(join(pod.dir, 'status.json'));
        if (pod.orphaned || pod.state?.finished || !pod.state || !status) throw new SandboxError(`pod "${pod.name}" is not running (see podkit ps)`);
        const mains = status.containers.filter((c) => c.kind === 'main');
        const name = values.container || mains[0]?.name;
        const c = status.containers.find((x) => x.name === name);
        if (!c) throw new UsageError(`pod "${pod.name}" has no container "${name}" (it has ${status.containers.map((x) => x.name).join(', ')})`);
        if (c.state !== 'running' || c.pid === undefined) throw new SandboxError(`container "${name}" of pod "${pod.name}" is not running (${c.reason || c.state})`);
        return execIn(pod.dir, pod.state, name, c.pid, cmd);
      },
    },
    dash >= 0 ? argv.slice(0, dash) : argv,
  );
}

/** Run `cmd` in the container with our stdio; resolves to its exit code (128 + signal when killed). */
async function execIn(dir: string, st: PodState, name: string, pid: number, cmd: string[]): Promise<number> {
  const bundle = join(dir, 'containers', name);
  const config = st.oci ? readJSON<Record<string, unknown>>(join(bundle, 'config.json')) : undefined;
  if (st.oci && config) {
    // The container's own process (user, env, capabilities, cwd) with our command: what kubectl exec runs.
    const env = Object.fromEntries(((config.process as { env?: string[] }).env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    const file = join(bundle, `exec-cli-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ ...execProcess(config, cmd, env), terminal: false }), { mode: 0o600 });
    try {
      return await passThrough(st.oci.bin, ['--root', st.oci.root, 'exec', '--process', file, `${st.id}-${name}`], process.env);
    } finally {
      rmSync(file, { force: true });
    }
  }
  if (st.sandbox === 'host') return passThrough(cmd[0], cmd.slice(1), environ(pid) ?? process.env);
  // A host process in the pod's namespaces: its launcher's child is the container's init.
  const inner = firstChild(pid, (p) => readFileSync(p, 'utf8')) ?? pid;
  return passThrough('nsenter', [`--target=${inner}`, '--mount', '--net', '--pid', ...(st.netns ? ['--uts'] : []), '--wd', '--', ...cmd], environ(inner) ?? process.env);
}

/** The environment a process runs with (/proc/PID/environ), so the command sees what the container sees. */
function environ(pid: number): NodeJS.ProcessEnv | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return Object.fromEntries(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  } catch {
    return undefined;
  }
}

function passThrough(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: 'inherit', env });
    child.once('error', (e) => reject(new SandboxError(`cannot run ${bin}: ${e.message}`, { cause: e })));
    child.once('exit', (code, sig) => resolve(code ?? 128 + (sig === 'SIGKILL' ? 9 : sig === 'SIGTERM' ? 15 : 1)));
  });
}
