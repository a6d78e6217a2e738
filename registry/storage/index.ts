// registry/storage
export * from './claims.js';
export * from './lock.js';
export * from './packument.js';
export * from './storage.js';
