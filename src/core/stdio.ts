/** @module A closed stdout or stderr (`podkit … | head`, a `tee` killed by Ctrl-C) ends a command quietly, never with a stack trace. */

type Hook = () => void;
const hooks: Hook[] = [];
let closed = false;

/**
 * Ask to hear when the reader of stdout or stderr goes away, instead of the process ending. A long-running command
 * (the pod runner, a component) uses it to stop the way it would on SIGTERM; its later output is dropped.
 * Returns a function that removes the hook.
 */
export function onOutputClosed(fn: Hook): () => void {
  hooks.push(fn);
  return () => {
    const i = hooks.indexOf(fn);
    if (i >= 0) hooks.splice(i, 1);
  };
}

/** True once stdout or stderr has lost its reader. */
export function outputClosed(): boolean {
  return closed;
}

/**
 * Install once, first thing in the CLI. On EPIPE every later write to that stream is dropped (the other keeps working); then the hooks
 * run, or, when no command asked for them, the process ends with its exit code so far (what SIGPIPE would do,
 * without the trace). Other stream errors are left to Node.
 */
export function guardStdio(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr], exit: (code: number) => void = (c) => process.exit(c)): void {
  for (const s of streams) {
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
      s.write = ((_chunk: unknown, ...rest: unknown[]) => {
        const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
        cb?.();
        return true;
      }) as typeof s.write;
      if (closed) return;
      closed = true;
      if (hooks.length === 0) return exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
      for (const h of hooks.slice()) h();
    });
  }
}
