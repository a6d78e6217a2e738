// registry/transport
export * from './fetch.js';
