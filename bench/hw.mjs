// hw targets: examples/hello-virtio (tcpip + virtio-net + net-config) for hw-x86_64 and hw-riscv64,
// whole process against whole process, alternating:
//   - `rumpkg run --target T` (the shipped bin: start-up, project and image checks, QEMU, console
//     filtering) vs the very same QEMU command line started by hand (planQemu's command, raw
//     serial output), timed to the guest's exit (the goal row for hw-x86_64: ≤ 1.1×) and to the
//     first init line; a bare Node.js launcher of the same QEMU command in the same rounds (the
//     floor of any Node.js program that boots it: Node's start-up + QEMU);
//   - the image size per component (rumpkg size) and `rumpkg build --force --target T` times.
// Needs `npm run build` and clang, ld.lld, llvm-objcopy, qemu-system-x86_64/riscv64.
// Env: BENCH_ROUNDS (default 5).
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCorpus } from '../dist/scripts/corpus/index.js';
import { planQemu } from '../dist/packager/index.js';
import { BIN, ROOT, binEnv, cli, exec, fmtMs, loadAverage, missingTools, report, rounds, rumpkg, skip, stats, tool } from './lib/measure.mjs';

const TARGETS = ['hw-x86_64', 'hw-riscv64'];
const missing = missingTools(['clang', 'ld.lld', 'llvm-objcopy', 'qemu-system-x86_64', 'qemu-system-riscv64']);
if (missing.length > 0) {
  skip('rumpkg run --target hw-x86_64 vs the same QEMU command by hand', `${missing.join(', ')} not on PATH`, { ratio: 1.1 });
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'rumpkg-bench-hw-'));
const env = { ...process.env, RUMPKG_HOME: join(work, 'home') };
try {
  const corpus = join(work, 'corpus');
  await buildCorpus(corpus, { versions: ['10.1.0'], targets: TARGETS });
  await cli(['--quiet', 'publish', ...readdirSync(join(corpus, '10.1.0')).map((n) => join(corpus, '10.1.0', n))], { cwd: work, env });
  const dir = join(work, 'hello-virtio');
  cpSync(join(ROOT, 'examples/hello-virtio'), dir, { recursive: true });
  await cli(['install'], { cwd: dir, env });
  console.log(`examples/hello-virtio installed; ${loadAverage()}`);

  for (const target of TARGETS) {
    const b = await rounds([{ name: 'build', run: rumpkg(['build', '--force', '--target', target], { cwd: dir, env }) }]);
    const image = join(dir, 'build', target, 'hello-virtio');
    console.log(`\n### ${target}: rumpkg build --force ${fmtMs(b.build.median)} (min ${fmtMs(b.build.min)})\n`);
    process.stdout.write(await cli(['size', image], { cwd: dir, env }));
    const qemu = planQemu(image, target).command;
    const first = { rumpkg: [], qemu: [] };
    // QEMU's own exit status encodes the guest's (x86_64 isa-debug-exit: 1 = status 0).
    const timed = (name, cmd, args, watch) => async (_ctx, r) => {
      const res = await exec(cmd, args, { cwd: dir, env, watch, allowFailure: name === 'qemu' });
      if (res.firstMs === undefined) throw new Error(`${name} never printed an init line`);
      if (r >= 0) first[name].push(res.firstMs);
      return res;
    };
    // The floor of any Node.js program that boots the image: node starting, spawning the same
    // QEMU command with its console piped through, and waiting for it.
    const launcher = `const r = require('node:child_process').spawnSync(${JSON.stringify(qemu[0])}, ${JSON.stringify(qemu.slice(1))}, { stdio: ['ignore', 'inherit', 'inherit'] }); process.exit(r.status === null ? 1 : 0);`;
    const r = await rounds([
      { name: 'rumpkg', run: timed('rumpkg', BIN, ['run', '--target', target, '--timeout', '60'], /^init /m) },
      { name: 'qemu', run: timed('qemu', qemu[0], qemu.slice(1), /init /) },
      { name: 'nodeQemu', run: tool(process.execPath, ['-e', launcher], { cwd: dir, env: binEnv('run') }) },
    ]);
    const floor = { name: 'node -e "spawn the same QEMU"', ...r.nodeQemu };
    report({
      metric: `rumpkg run --target ${target} vs the same QEMU command by hand (to the guest's exit)`,
      rumpkg: r.rumpkg, peer: r.qemu, peerName: 'qemu by hand', floor,
      ...(target === 'hw-x86_64' ? { goal: { ratio: 1.1 }, note: 'a Node.js program that only spawns the same QEMU (the floor) already costs Node\'s start-up on top of QEMU\'s boot; rumpkg starts the same QEMU from its launcher when nothing its last passed up-to-date check depended on changed, and runs the guest to its end there without loading its CLI (packager/run/early-qemu.ts, the early run)' } : {}),
    });
    report({ metric: `rumpkg run --target ${target} vs QEMU by hand (to the first init line)`, rumpkg: stats(first.rumpkg), peer: stats(first.qemu), peerName: 'qemu by hand' });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
