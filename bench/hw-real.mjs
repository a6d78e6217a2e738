// The real unikernel (examples/unikernel-http: NetBSD TCP/IP + virtio-net from the real rumprun
// hw build in ../shared/netbsd/real, linked with rumprun's bare-metal platform package):
//   (a) build: `rumpkg build --force` (whole process, dist/rumpkg) vs the plan's own commands
//       run by sh (the --dry-run script) and vs the plan's ld.lld link command alone (staged);
//   (b) run: `rumpkg run` (whole process) to the application's first output line
//       ("httpd: listening …") vs the same QEMU command started by hand (planRumprunQemu's
//       command line), goal ≤ 1.1×; then to the guest's halt after GET /quit on both sides; the
//       floor: a Node.js program that only spawns that QEMU (`node -e`, console inherited);
//   (c) size: the image per component (rumpkg size) vs the same application linked with
//       rumprun-bake's `hw_virtio` set (its 25 libraries, as ../shared/netbsd/rumprun-bake-sets.json
//       resolves them, linked per rumprun's specs-bake recipe: rumprun.o, --whole-archive the set
//       + librump, --start-group librumprun_base libpthread libc --end-group, -T hw.ldscript);
//       rumprun-bake itself needs rumprun's gcc wrapper, which this machine does not have.
// Contenders alternate within each round; ROUNDS rounds (BENCH_RUNS, default 5); min and median.
// The build and the boot rows take 3 × ROUNDS rounds (as bench/real-posix.mjs's build rows): their
// goals are margins of tens of milliseconds, which five medians on a 2-core machine swing across
// (two readings of the boot ratio with five rounds: 1.11 and 1.24).
// Skips with a message without ../shared or the tools. Needs `npm run build`. `npm run bench -- hw-real`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { importArchives, importRumprunPlatform, packComponent, parseLinkerMap, readImageManifest } from '../dist/components/index.js';
import { buildProject, findProgram, planRumprunQemu, readSizeReport, renderPlanScript, storeComponentDirResolver } from '../dist/packager/index.js';
import { createFileStorage } from '../dist/registry/index.js';
import { report } from './lib/measure.mjs';

const ROUNDS = Math.max(5, Number(process.env.BENCH_RUNS ?? 5));
const BIN = resolve('dist/rumpkg');
const SHARED = process.env.RUMPKG_REAL_DATA ?? resolve('../shared/netbsd/real');
const SET = join(SHARED, 'rumprun-b04d422-hw-x86_64.tar.xz');
const SETS = resolve(SHARED, '..', 'rumprun-bake-sets.json');
const COMMIT = 'b04d42225a12a6fae57a78a9c1cf23642e46cd00';
const TARGET = 'hw-x86_64';

if (!existsSync(SET)) {
  console.log(`skipped: ${SET} is absent (the real NetBSD archives live in ../shared/netbsd/real)`);
  process.exit(0);
}
const missing = ['clang', 'ld.lld', 'llvm-objcopy', 'qemu-system-x86_64', 'tar'].filter((t) => findProgram(t) === null);
if (missing.length > 0) {
  console.log(`skipped: ${missing.join(', ')} not on PATH`);
  process.exit(0);
}

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)] };
};
const f = (x) => `${x.toFixed(0)} ms`;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

async function freePort() {
  const s = createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

function get(port, path) {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: 10_000 }, (r) => {
      r.resume();
      r.on('end', res);
    });
    req.on('error', rej);
    req.end();
  });
}

/** Starts a process; ms to the first stdout line matching `re` (then GET /quit) and ms to its exit. */
function timeBoot(cmd, args, opts, re, port) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    // A process group of its own: by hand, QEMU (or the Node launcher and its QEMU) is killed whole.
    const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    let first = null;
    let buf = '';
    let halted = null;
    child.stdout.on('data', (d) => {
      buf += d.toString('latin1');
      if (first === null && re.test(buf)) {
        first = performance.now() - t0;
        get(port, '/quit').catch(rej);
      }
      // By hand, QEMU never exits by itself: stop it at the platform's last line, as rumpkg does.
      if (halted === null && /^halted\r?$/m.test(buf)) {
        halted = performance.now() - t0;
        if (opts.byHand) kill();
      }
    });
    const guard = setTimeout(kill, 60_000); // never leave a QEMU behind
    child.on('error', rej);
    child.on('close', (code) => {
      clearTimeout(guard);
      res({ first, halted: halted ?? performance.now() - t0, code });
    });
  });
}

const work = mkdtempSync(join(tmpdir(), 'rumpkg-bench-hw-real-'));
try {
  // Set-up: unpack the set, import it as a user would, publish, install the example.
  execFileSync('tar', ['xJf', SET, '-C', work]);
  const set = join(work, 'rumprun-b04d422-hw-x86_64');
  const comps = join(work, 'components');
  await importArchives(join(set, 'lib', 'rumprun-hw'), { target: TARGET, version: '7.99.34', out: comps });
  await importRumprunPlatform(set, { target: TARGET, version: '7.99.34', out: comps, upstreamCommit: COMMIT });
  const home = join(work, 'home');
  const storage = createFileStorage(join(home, 'registry'));
  for (const n of readdirSync(comps).filter((n) => !n.startsWith('.'))) await storage.publish((await packComponent(join(comps, n))).data);
  const env = { ...process.env, RUMPKG_HOME: home, NO_COLOR: '1' };
  const dir = join(work, 'unikernel-http');
  cpSync(resolve('examples/unikernel-http'), dir, { recursive: true });
  const port = await freePort();
  const m = JSON.parse(readFileSync(join(dir, 'rumpkg.json'), 'utf8'));
  m.image.forward[0].host = port;
  writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify(m, null, 2));
  const cli = (...a) => {
    const r = spawnSync(BIN, a, { cwd: dir, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`rumpkg ${a.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  cli('install');
  cli('build');
  const image = join(dir, 'build', TARGET, 'unikernel-http');

  // (a) build
  const [dry] = await buildProject(dir, { dryRun: true, resolveComponentDir: await storeComponentDirResolver(dir, { env }) });
  const script = renderPlanScript(dry.plan);
  const stage = join(work, 'stage');
  mkdirSync(stage);
  const byHand = join(work, 'by-hand.elf');
  execFileSync('sh', ['-c', script.replace('B=$(mktemp -d)', `B=${stage}`)], { env: { ...env, OUT: byHand } });
  const same = readFileSync(byHand).equals(readFileSync(image));
  const link = dry.plan.steps.find((s) => s.tool === 'ld');
  const build = { rumpkg: [], script: [], link: [] };
  for (let i = 0; i < 3 * ROUNDS; i++) {
    let t = performance.now();
    cli('build', '--force');
    build.rumpkg.push(performance.now() - t);
    t = performance.now();
    execFileSync('sh', ['-c', script], { env: { ...env, OUT: byHand } });
    build.script.push(performance.now() - t);
    t = performance.now();
    execFileSync(link.command[0], [...link.command.slice(1), ...link.args], { cwd: stage });
    build.link.push(performance.now() - t);
  }

  // (b) run
  const manifest = await readImageManifest(image);
  const qemu = planRumprunQemu(image, manifest, { cwd: dir }).command;
  const ready = /^httpd: listening/m;
  const run = { rumpkg: [], hand: [], node: [], version: [] };
  // The floor: a Node.js program that only starts the same QEMU (its console straight through), as
  // the shipped command starts node (without NODE_EXTRA_CA_CERTS, which it defers).
  const LAUNCH = "const c = require('node:child_process').spawn(process.argv[1], process.argv.slice(2), { stdio: 'inherit' }); c.on('exit', (code) => process.exit(code ?? 1));";
  const { NODE_EXTRA_CA_CERTS: _ca, ...nodeEnv } = env;
  for (let i = 0; i < 3 * ROUNDS; i++) {
    const t = performance.now();
    cli('--version');
    run.version.push(performance.now() - t);
    const a = await timeBoot(BIN, ['run', '--target', TARGET, '--timeout', '60'], { cwd: dir, env }, ready, port);
    const b = await timeBoot(qemu[0], qemu.slice(1), { cwd: dir, env, byHand: true }, ready, port);
    const c = await timeBoot(process.execPath, ['-e', LAUNCH, ...qemu], { cwd: dir, env: nodeEnv, byHand: true }, ready, port);
    if (a.code !== 0 || a.first === null || b.first === null || c.first === null) throw new Error(`a boot failed (rumpkg exit ${a.code})`);
    run.rumpkg.push(a);
    run.hand.push(b);
    run.node.push(c);
  }

  // (c) size: rumpkg's image, and the same app object linked with rumprun-bake's hw_virtio set.
  const size = await readSizeReport(image);
  const hwVirtio = JSON.parse(readFileSync(SETS, 'utf8')).sets.hw_virtio.resolvedLibNames;
  const L = join(set, 'lib', 'rumprun-hw');
  // rumprun-bake renames main to rumprun_main1 in the application object itself.
  const appObj = join(work, 'bake-app.o');
  execFileSync('llvm-objcopy', ['--redefine-sym', 'main=rumprun_main1', join(stage, 'obj', 'app0.o'), appObj]);
  const bake = join(work, 'bake.elf');
  const libs = hwVirtio.map((l) => join(L, `${l}.a`));
  execFileSync('ld.lld', ['-m', 'elf_x86_64', '-T', join(set, 'lib', 'hw.ldscript'), '-z', 'max-page-size=0x1000', '--build-id=none', `-Map=${bake}.map`, '-o', bake,
    join(L, 'rumprun.o'), appObj, '--whole-archive', ...libs, join(L, 'librump.a'), '--no-whole-archive',
    '--start-group', join(L, 'librumprun_base.a'), join(set, 'lib', 'libpthread.a'), join(set, 'lib', 'libc.a'), '--end-group']);
  const bakeRows = new Map();
  for (const c of parseLinkerMap(readFileSync(`${bake}.map`, 'utf8'))) {
    if (c.file === '*fill*' || c.size === 0 || !/^\.(text|rodata|data|bss|eh_frame|init_array|fini_array|ctors|dtors)|^link_set_/.test(c.outputSection)) continue;
    const lib = (/([^/]+?)\.(?:a|o)(?:\(|$)/.exec(c.file)?.[1]) ?? c.file;
    bakeRows.set(lib, (bakeRows.get(lib) ?? 0) + c.size);
  }

  console.log(`load average before: ${load()}   rounds: ${3 * ROUNDS} (contenders alternate within a round)`);
  const line = (label, xs, base) => {
    const s = stats(xs);
    const r = base === undefined ? '' : `   ratio (median) ${(s.median / stats(base).median).toFixed(2)}`;
    console.log(`${label.padEnd(44)} min ${f(s.min).padStart(7)}  median ${f(s.median).padStart(7)}${r}`);
  };
  console.log('\n(a) build of the real unikernel');
  line('rumpkg build --force (dist/rumpkg)', build.rumpkg);
  line("the plan's commands by sh (--dry-run script)", build.script);
  line("the plan's ld.lld link command alone", build.link);
  const sb = stats(build.rumpkg).median;
  console.log(`ratio rumpkg / script ${(sb / stats(build.script).median).toFixed(2)}, rumpkg / link ${(sb / stats(build.link).median).toFixed(2)}; by-hand image byte-identical: ${same}`);
  console.log('\n(b) boot to the application\'s first output line ("httpd: listening on tcp port 80")');
  line('rumpkg run (dist/rumpkg)', run.rumpkg.map((x) => x.first));
  line('the same QEMU command by hand', run.hand.map((x) => x.first));
  line('a Node.js launcher of that QEMU (floor)', run.node.map((x) => x.first));
  const rr = stats(run.rumpkg.map((x) => x.first)).median / stats(run.hand.map((x) => x.first)).median;
  console.log(`ratio ${rr.toFixed(2)} (goal ≤ 1.1)`);
  // The same figures as rows of npm run bench's table.
  const row = (xs) => ({ ...stats(xs), samples: xs });
  report({ metric: 'rumpkg build --force (real rumprun unikernel, hw-x86_64) vs the plan\'s commands by sh', rumpkg: row(build.rumpkg), peer: row(build.script), peerName: 'sh plan', goal: { ratio: 1.15, plusMs: 100 }, floor: { name: 'the ld.lld link alone', ...row(build.link) } });
  report({ metric: 'rumpkg build --force (real rumprun unikernel) vs its ld.lld link alone', rumpkg: row(build.rumpkg), peer: row(build.link), peerName: 'ld.lld link', goal: { ratio: 1.15, plusMs: 100 }, note: 'the link starts from the previous build\'s memo before the plan is made and is kept because the plan made is the same (packager/build/early-link.ts)' });
  report({
    metric: 'rumpkg run --target hw-x86_64 (real unikernel) to "httpd: listening" vs the same QEMU command by hand',
    rumpkg: row(run.rumpkg.map((x) => x.first)), peer: row(run.hand.map((x) => x.first)), peerName: 'qemu by hand', goal: { ratio: 1.1 },
    floor: { name: 'node -e "spawn the same QEMU" (a Node.js launcher, console straight through)', ...row(run.node.map((x) => x.first)) },
    note: `the floor is ${(stats(run.node.map((x) => x.first)).median / stats(run.hand.map((x) => x.first)).median).toFixed(2)}× QEMU by hand; rumpkg --version (the CLI's bare start-up) ${f(stats(run.version).median)}; QEMU starts from the launcher when nothing the last passed up-to-date check depended on changed, and the launcher runs the guest without loading the CLI (packager/run/early-qemu.ts, the early run; the first run after the build records it)`,
  });
  line('  rumpkg --version (the CLI\'s bare start-up)', run.version);
  line('  … to the halt after GET /quit: rumpkg run', run.rumpkg.map((x) => x.halted));
  line('  … by hand', run.hand.map((x) => x.halted));
  console.log(`\n(c) size: rumpkg's image ${size.fileBytes} bytes on disk (${size.allocBytes} allocated), by component:`);
  for (const r of size.rows) console.log(`  ${r.owner.padEnd(20)} ${String(r.total).padStart(8)} B  (text ${r.text}, data ${r.data}, bss ${r.bss})`);
  console.log(`  ${'(unattributed)'.padEnd(20)} ${String(size.unattributed).padStart(8)} B`);
  const bakeBytes = readFileSync(bake).length;
  console.log(`\nthe same application with rumprun-bake's hw_virtio set (${hwVirtio.length} libraries + librump): ${bakeBytes} bytes on disk; by input:`);
  for (const [lib, n] of [...bakeRows].sort((a, b) => b[1] - a[1])) console.log(`  ${lib.padEnd(28)} ${String(n).padStart(8)} B`);
  console.log(`rumpkg / hw_virtio on disk: ${(size.fileBytes / bakeBytes).toFixed(2)}  (rumpkg links the closure the project asked for; hw_virtio links ${hwVirtio.length - (manifest.components.length - 1)} more libraries)`);
  console.log(`load average after: ${load()}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
