// packager/run: running an image — a host process (posix) or a QEMU guest (hw).
export * from './run.js';
