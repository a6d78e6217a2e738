// packager/build: targets and toolchains, the link plan, the orchestration glue, the image
// manifest, and `buildImage` / `buildProject` that run the plan (see packager/README.md).
export * from './targets.js';
export * from './toolchain.js';
export * from './link-plan.js';
export * from './glue.js';
export * from './image-manifest.js';
export * from './rumprun.js';
export * from './platform-info.js';
export * from './build.js';
export * from './object-cache.js';
export * from './manifest-object.js';
