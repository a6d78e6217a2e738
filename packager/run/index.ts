// packager/run: running an image — a host process (posix) or a QEMU guest (hw: rumpkg's glue
// convention in run.ts, the rumprun convention in rumprun-boot.ts; QEMU's lifetime in qemu-process.ts;
// the early boot from the launcher in early-qemu.ts).
export * from './run.js';
export { planRumprunQemu, createRumprunConsole, type BootRecord, type RumprunConsoleState } from './rumprun-boot.js';
export { recordEarlyBoot } from './early-qemu.js';
