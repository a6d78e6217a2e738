// components/import: `rumpkg import archives` — real librump*.a → component directories.
export * from './import-archives.js';
