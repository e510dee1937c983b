/** @module Test helpers: real servers on free ports, tracked by PID, stopped even when a test fails. */
export * from './ports.js';
export * from './poll.js';
export * from './proc.js';
export * from './redis.js';
export * from './git.js';
export * from './nginx.js';
export * from './cli.js';
export * from './pods.js';
export * from './redis-raw.js';
export * from './sockets.js';
export * from './http-backend.js';
export * from './sshd.js';
export * from './prometheus.js';
export * from './tls.js';
export * from './chromium.js';
export * from './resp-fault.js';
export * from './fuzz.js';
