// registry/storage
export * from './lock.js';
export * from './packument.js';
export * from './storage.js';
