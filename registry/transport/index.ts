// registry/transport
export * from './fetch.js';
export * from './http.js';
