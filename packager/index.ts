// Public API of packager/: targets, toolchains, link plans, glue, image manifests, ELF, audit.
export {};
