// Preloaded into every bench (scripts/bench.mjs runs `node --import bench/lib/tool-errors.mjs`):
// a tool the bench cannot run (ENOENT from spawn/execFile) or a typed rumpkg error (E_TOOLCHAIN
// for a missing compiler, emulator …) ends the bench with a message naming what to install,
// not a stack trace. Anything else is a bug and keeps Node's default report.
const PACKAGES = {
  cc: 'gcc', gcc: 'gcc', nm: 'binutils', readelf: 'binutils', objcopy: 'binutils', ar: 'binutils', objdump: 'binutils',
  clang: 'clang', 'ld.lld': 'lld', 'llvm-objcopy': 'llvm', 'llvm-nm': 'llvm',
  'qemu-system-x86_64': 'qemu-system-x86', 'qemu-system-riscv64': 'qemu-system-misc', tar: 'tar', npm: 'npm', git: 'git',
};

function report(e) {
  const bench = process.argv[1]?.split('/').pop() ?? 'bench';
  if (e !== null && typeof e === 'object' && e.code === 'ENOENT' && typeof e.syscall === 'string' && e.syscall.startsWith('spawn')) {
    const tool = String(e.path ?? e.spawnargs?.[0] ?? '?');
    const pkg = PACKAGES[tool.split('/').pop()];
    process.stderr.write(`${bench}: cannot run ${tool}: not found${pkg === undefined ? '' : ` (Debian: apt-get install ${pkg})`}\n`);
    process.exit(1);
  }
  if (e !== null && typeof e === 'object' && typeof e.code === 'string' && /^E_[A-Z_]+$/.test(e.code) && typeof e.message === 'string') {
    process.stderr.write(`${bench}: error[${e.code}]: ${e.message}\n${typeof e.hint === 'string' ? `  hint: ${e.hint}\n` : ''}`);
    process.exit(1);
  }
  throw e;
}

process.on('uncaughtException', report);
process.on('unhandledRejection', report);
