// hw targets: examples/hello-virtio (tcpip + virtio-net + net-config) for hw-x86_64 and hw-riscv64.
//   - image size per target and per component (rumpkg size, from the ld.lld map);
//   - build time: `rumpkg build --force --target T` (CLI, fresh process);
//   - boot: time from starting `rumpkg run --target T` to the first init line and to the guest's
//     exit, next to the very same QEMU command started by hand (planQemu's command line, raw
//     serial output; the OpenSBI banner included on riscv64), in the same run; ratio = rumpkg/hand.
// Median of RUNS runs (BENCH_RUNS, default 5). Needs `npm run build` and clang, ld.lld,
// llvm-objcopy, qemu-system-x86_64/riscv64. Run: `npm run bench -- hw`.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildCorpus } from '../dist/scripts/corpus/index.js';
import { findProgram, planQemu } from '../dist/packager/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const BIN = resolve('dist/cli/bin.js');
const TARGETS = ['hw-x86_64', 'hw-riscv64'];
const missing = ['clang', 'ld.lld', 'llvm-objcopy', 'qemu-system-x86_64', 'qemu-system-riscv64'].filter((t) => findProgram(t) === null);
if (missing.length > 0) {
  console.log(`skipped: ${missing.join(', ')} not on PATH`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'rumpkg-bench-hw-'));
const env = { ...process.env, RUMPKG_HOME: join(work, 'home') };
const cli = (args, cwd) => {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`rumpkg ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(0)} ms`;

/** Starts a process, returns ms to the first line matching `re` on stdout and ms to exit. */
function timeRun(cmd, args, re, cwd) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = null;
    let buf = '';
    child.stdout.on('data', (d) => {
      if (first !== null) return;
      buf += d.toString('latin1');
      if (re.test(buf)) first = performance.now() - t0;
    });
    child.on('error', rej);
    child.on('close', (code) => res({ first, exit: performance.now() - t0, code }));
  });
}

try {
  const t0 = performance.now();
  const corpus = join(work, 'corpus');
  await buildCorpus(corpus, { versions: ['10.1.0'], targets: TARGETS });
  console.log(`corpus (10.1.0, ${TARGETS.join(' + ')}): ${ms(performance.now() - t0)}`);
  cli(['--quiet', 'publish', ...readdirSync(join(corpus, '10.1.0')).map((n) => join(corpus, '10.1.0', n))], work);
  const dir = join(work, 'hello-virtio');
  cpSync(resolve('examples/hello-virtio'), dir, { recursive: true });
  cli(['install'], dir);

  const rows = [];
  for (const target of TARGETS) {
    const build = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      cli(['build', '--force', '--target', target], dir);
      build.push(performance.now() - s);
    }
    const image = join(dir, 'build', target, 'hello-virtio');
    console.log(`\n### ${target}\n`);
    process.stdout.write(cli(['size', image], dir));
    const qemu = planQemu(image, target).command;
    const viaRumpkg = [];
    const byHand = [];
    for (let i = 0; i < RUNS; i++) {
      // alternate, so machine load hits both the same way
      const a = await timeRun(process.execPath, [BIN, 'run', '--target', target, '--timeout', '60'], /^init /m, dir);
      const b = await timeRun(qemu[0], qemu.slice(1), /init /, dir);
      if (a.code !== 0) throw new Error(`rumpkg run --target ${target} exited ${a.code}`);
      viaRumpkg.push(a);
      byHand.push(b);
    }
    const r = {
      target,
      build: median(build),
      rumpkgFirst: median(viaRumpkg.map((x) => x.first)),
      rumpkgExit: median(viaRumpkg.map((x) => x.exit)),
      handFirst: median(byHand.map((x) => x.first)),
      handExit: median(byHand.map((x) => x.exit)),
    };
    rows.push(r);
  }
  console.log(`\n| target | rumpkg build --force | rumpkg run → first init line | by hand (qemu) | ratio | rumpkg run → guest exit | by hand (qemu) | ratio |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.target} | ${ms(r.build)} | ${ms(r.rumpkgFirst)} | ${ms(r.handFirst)} | ${(r.rumpkgFirst / r.handFirst).toFixed(2)} | ${ms(r.rumpkgExit)} | ${ms(r.handExit)} | ${(r.rumpkgExit / r.handExit).toFixed(2)} |`);
  }
  console.log(`\nmedian of ${RUNS}; "by hand" is the same QEMU command line (rumpkg adds: node start-up, project/manifest reading, the ELF arch check, console filtering).`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
