// Public API of components/: domain types, errors, manifests, tarballs, the NetBSD catalog.
export * from './errors.js';
export * from './types.js';
export * from './version.js';
export * from './integrity.js';
export * from './tarball.js';
export * from './names.js';
export * from './json.js';
export * from './manifest.js';
