// registry/server
export * from './server.js';
export * from './tokens.js';
