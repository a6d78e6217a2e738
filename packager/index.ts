// Public API of packager/: targets, toolchains, link plans, glue, image manifests, ELF, audit.
export {};
export * from './targets.js';
export * from './toolchain.js';
export * from './link-plan.js';
export * from './glue.js';
export * from './image-manifest.js';
export * from './build.js';
export * from './size.js';
export * from './run.js';
export * from './project.js';
export * from './evidence.js';
export * from './licenses.js';
export * from './advisories.js';
export * from './audit.js';
export * from './sbom.js';
export * from './report/index.js';
