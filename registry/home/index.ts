// registry/home
export * from './cache.js';
export * from './config.js';
export * from './credentials.js';
export * from './home.js';
export * from './seen.js';
export * from './store.js';
