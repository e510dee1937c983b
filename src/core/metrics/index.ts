/** @module The metric model, registry and exposition writers. */
export * from './model.js';
export * from './registry.js';
export * from './exposition.js';
