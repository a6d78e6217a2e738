// Public API of components/: the domain model, documents, tarballs, binary formats, the NetBSD
// catalog and the archive importer. Each sub-folder's index.ts is its own API (see README.md).
export * from './model/index.js';
export * from './documents/index.js';
export * from './tarball/index.js';
export * from './binary/index.js';
export * from './catalog/index.js';
export * from './import/index.js';
