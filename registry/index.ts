// Public API of registry/: file registry, npm-protocol client and server, cache, GitHub upstream.
export {};
export * from './packument.js';
export * from './storage.js';
export * from './lock.js';
export * from './tokens.js';
export * from './home.js';
export * from './config.js';
export * from './credentials.js';
export * from './fetch.js';
export * from './client.js';
export * from './store.js';
export * from './cache.js';
export * from './server.js';
export * from './provider.js';
export * from './upstream.js';
export * from './seen.js';
export * from './web/index.js';
