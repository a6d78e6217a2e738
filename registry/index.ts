// Public API of registry/: file registry, npm-protocol client and server, cache, GitHub upstream.
export {};
export * from './packument.js';
export * from './storage.js';
export * from './lock.js';
export * from './tokens.js';
