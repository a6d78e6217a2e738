// packager/run: running an image — a host process (posix) or a QEMU guest (hw: rumpkg's glue
// convention in run.ts, the rumprun convention in rumprun-boot.ts; QEMU's lifetime in qemu-process.ts;
// the early boot from the launcher in early-qemu.ts).
export * from './run.js';
export { planRumprunQemu } from './rumprun-boot.js';
export type { BootRecord } from './qemu-process.js';
export { createRumprunConsole, type RumprunConsoleState } from './console.js';
export { recordEarlyBoot } from './early-qemu.js';
