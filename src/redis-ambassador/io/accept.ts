/** @module Accepted client connections re-wrapped to read through `readInto` (no per-read allocation, no stream push). */
import { Socket, type Server } from 'node:net';
import { readInto } from './read.js';

/** Socket fields Node uses to wrap an accepted connection and to count it on its server. */
interface Wrapped {
  _handle: unknown;
  _server: Server | null;
  server: Server | null;
}

/**
 * Returns the socket to use from now on (`raw` itself when its shape is not the expected one).
 *
 * `net.Server` cannot give an accepted socket the `onread` option, so the connection is accepted paused
 * (`pauseOnConnect`) and its handle is moved into a socket made with it, as Node does for its own accepted
 * sockets. The new socket is counted on `server` (its close lowers the count `server.close()` waits for).
 */
export function adopt(server: Server, raw: Socket, onChunk: (chunk: Buffer) => void): Socket {
  const w = raw as unknown as Wrapped;
  const handle = w._handle;
  if (!handle) {
    // Not the shape this relies on (another runtime): plain 'data' events, correct if slower.
    raw.on('data', onChunk);
    raw.resume();
    return raw;
  }
  w._handle = null;
  // `handle` is missing from the public constructor typings.
  const s = new Socket({ handle, allowHalfOpen: raw.allowHalfOpen, readable: true, writable: true, onread: readInto(onChunk) } as ConstructorParameters<typeof Socket>[0]);
  const sw = s as unknown as Wrapped;
  sw._server = server;
  sw.server = server;
  s.resume();
  return s;
}
