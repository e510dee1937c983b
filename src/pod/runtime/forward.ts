/** @module hostPort publishing: a small userspace TCP forwarder from the host address to podIP:containerPort. */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { SandboxError } from '../../core/errors.js';

export interface Forwarder {
  close(): Promise<void>;
}

export async function forwardPort(listenHost: string, listenPort: number, toHost: string, toPort: number): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = connect({ host: toHost, port: toPort });
    sockets.add(inbound);
    sockets.add(outbound);
    const done = () => {
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on('error', done).on('close', done);
    outbound.on('error', done).on('close', done);
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new SandboxError(`cannot publish hostPort ${listenHost}:${listenPort}: ${e.message}`, { cause: e })));
    server.listen(listenPort, listenHost, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
