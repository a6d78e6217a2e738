// registry/upstream
export * from './upstream.js';
