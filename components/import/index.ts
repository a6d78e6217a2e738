// components/import: `rumpkg import archives` — real librump*.a → component directories; and
// `rumpkg import platform` — rumprun's bare-metal layer → a platform package.
export * from './import-archives.js';
export * from './registration.js';
export * from './rumprun-platform.js';
