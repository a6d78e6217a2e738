// Public API of schemas/: JSON Schemas (draft 2020-12) for every file format and their validators.
export {};
export * from './patterns.js';
export * from './validate.js';
export { componentManifestSchema } from './component-manifest.schema.js';
export { projectManifestSchema } from './project-manifest.schema.js';
export { lockfileSchema } from './lockfile.schema.js';
export { imageManifestSchema } from './image-manifest.schema.js';
