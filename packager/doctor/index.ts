// packager/doctor: what is ready on this machine per target (toolchain, emulator), the rumpkg
// home and the registries, and what to install otherwise (see packager/README.md).
export * from './doctor.js';
