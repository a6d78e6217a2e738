// Public API of registry/: the file registry's storage and the npm-protocol server, the client
// (one facade, one backend per registry kind), the user's rumpkg home (config, credentials,
// cache, store), the transport, and the GitHub upstream provider. See README.md.
export * from './transport/index.js';
export * from './storage/index.js';
export * from './home/index.js';
export * from './server/index.js';
export * from './client/index.js';
export * from './upstream/index.js';
export * from './web/index.js';
