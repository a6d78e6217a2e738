// Warm no-op `rumpkg install` and `rumpkg build` (nothing to do), whole process: the shipped bin
// in examples/hello-net (posix-x86_64, the miniature corpus published into the embedded file
// registry of a temporary RUMPKG_HOME, installed and built once), alternating with the floors
// `node -e 0` (Node's own start-up) and `rumpkg --version` (the CLI's start-up). Goal < 150 ms.
// A repeated no-op is answered by the launcher from the memo the last one left
// (packager/early, replayNoop); the same commands in a copy of the project whose memos are removed
// before each run show the CLI's own check (the first no-op after any change).
// One run of each (the CLI's check) is profiled (`--cpu-prof`) to show where the time goes, by module.
// Env: BENCH_ROUNDS (default 5; no-op runs are short, so 3× that), BENCH_KEEP=1 keeps the temp dir.
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cachedCorpus, corpusDirs } from './lib/corpus.mjs';
import { LAUNCHER, ROOT, ROUNDS, cli, exec, loadAverage, nodeFloor, report, rounds, rumpkg, tmpName } from './lib/measure.mjs';

const work = tmpName('rumpkg-bench-install-');
mkdirSync(work, { recursive: true });
const env = { ...process.env, RUMPKG_HOME: join(work, 'home'), NO_COLOR: '1' };

/** Self time per module of one profiled run. */
async function profile(args, cwd) {
  const dir = join(work, `prof-${args[0]}`);
  await exec(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, LAUNCHER, ...args], { cwd, env });
  const prof = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))), 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    const url = n.callFrame.url;
    let key;
    if (url === '') key = n.callFrame.functionName === '(garbage collector)' ? 'gc' : n.callFrame.functionName || '(native)';
    else if (url.startsWith('node:')) key = 'node internals (module loading, fs)';
    else if (url.includes('/node_modules/')) key = `node_modules/${url.split('/node_modules/')[1].split('/')[0]}`;
    else key = url.split('/').pop();
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`profile of one rumpkg ${args.join(' ')} (${total.toFixed(0)} ms sampled on the main thread), self time by module:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`  ${v.toFixed(1).padStart(7)} ms  ${k}`);
}

try {
  const corpus = await cachedCorpus({ targets: ['posix-x86_64'] });
  await cli(['--quiet', 'publish', ...corpusDirs(corpus)], { env });
  const project = join(work, 'hello-net');
  cpSync(join(ROOT, 'examples/hello-net'), project, { recursive: true });
  await cli(['install'], { cwd: project, env });
  await cli(['build'], { cwd: project, env });
  const checkProject = join(work, 'hello-net-check');
  cpSync(join(ROOT, 'examples/hello-net'), checkProject, { recursive: true });
  await cli(['install'], { cwd: checkProject, env });
  await cli(['build'], { cwd: checkProject, env });
  const { noopMemoFile } = await import(join(ROOT, 'dist/packager/index.js'));
  const objects = join(env.RUMPKG_HOME, 'objects');
  /** No replay: the memo of this command line in the check project goes first. */
  const checked = (args) => ({ setup: () => rmSync(noopMemoFile(objects, checkProject, args[0], args), { force: true }), run: rumpkg(args, { cwd: checkProject, env }) });
  const lock = readFileSync(join(project, 'rumpkg.lock'), 'utf8');
  console.log(`examples/hello-net installed and built once; ${loadAverage()}`);

  const r = await rounds([
    { name: 'install', run: rumpkg(['install'], { cwd: project, env }) },
    { name: 'build', run: rumpkg(['build'], { cwd: project, env }) },
    { name: 'frozen', run: rumpkg(['install', '--frozen'], { cwd: project, env }) },
    { name: 'installCheck', ...checked(['install']) },
    { name: 'buildCheck', ...checked(['build']) },
    { name: 'version', run: rumpkg(['--version'], { cwd: project, env }) },
    { name: 'node', run: nodeFloor('install', { cwd: project }) },
  ], { rounds: 3 * ROUNDS });
  if (readFileSync(join(project, 'rumpkg.lock'), 'utf8') !== lock) throw new Error('a no-op install rewrote rumpkg.lock');
  const floor = { name: 'node -e 0', ...r.node };
  report({ metric: 'warm no-op rumpkg install (whole process)', rumpkg: r.install, goal: { ms: 150 }, floor });
  report({ metric: 'warm no-op rumpkg build (whole process)', rumpkg: r.build, goal: { ms: 150 }, floor });
  report({ metric: 'warm no-op rumpkg install --frozen (whole process)', rumpkg: r.frozen, floor });
  report({ metric: "warm no-op rumpkg install, the CLI's check (no memo to replay)", rumpkg: r.installCheck, floor });
  report({ metric: "warm no-op rumpkg build, the CLI's check (no memo to replay)", rumpkg: r.buildCheck, floor });
  report({ metric: 'rumpkg --version (the CLI start-up)', rumpkg: r.version, floor });
  for (const args of [['install'], ['build']]) {
    rmSync(noopMemoFile(objects, checkProject, args[0], args), { force: true });
    await profile(args, checkProject);
  }
} finally {
  if (process.env.BENCH_KEEP === '1') console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
