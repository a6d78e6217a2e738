// packager/run: running an image — a host process (posix) or a QEMU guest (hw: rumpkg's glue
// convention in run.ts, the rumprun convention in rumprun-boot.ts; QEMU's lifetime in qemu-process.ts).
export * from './run.js';
export { planRumprunQemu, createRumprunConsole, type RumprunConsoleState } from './rumprun-boot.js';
