// `rumpkg install` with a warm cache and nothing to do (`npm run bench -- install`, after
// `npm run build`): process wall time, goal < 150 ms. Set up like scripts/demo.sh: the corpus
// for posix-x86_64, every component published into a temp RUMPKG_HOME, examples/hello-net
// copied and installed once; then repeated `rumpkg install` runs are timed against the floors
// `node -e 0` (process start) and `rumpkg --version` (CLI start), and one run is profiled
// (`--cpu-prof`) to show where the time goes, by module.
// RUMPKG_BENCH_RUNS (default 15); RUMPKG_BENCH_KEEP=1 keeps the temp dir.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'dist/cli/bin.js');
const runs = Number(process.env.RUMPKG_BENCH_RUNS ?? 15);
const work = mkdtempSync(join(tmpdir(), 'rumpkg-bench-install-'));
const env = { ...process.env, RUMPKG_HOME: join(work, 'home'), NO_COLOR: '1' };

function run(args, options = {}) {
  const r = spawnSync(process.execPath, args, { cwd: options.cwd ?? root, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}\n${r.stderr}`);
  return r;
}

function timeIt(args, cwd) {
  const times = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    run(args, { cwd });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] };
}

const fmt = (t) => `median ${t.median.toFixed(0)} ms (min ${t.min.toFixed(0)}, max ${t.max.toFixed(0)})`;

try {
  let t = performance.now();
  run(['scripts/corpus.mjs', join(work, 'corpus'), '--target', 'posix-x86_64']);
  const corpusMs = performance.now() - t;
  const dirs = readdirSync(join(work, 'corpus')).flatMap((v) => readdirSync(join(work, 'corpus', v)).map((n) => join(work, 'corpus', v, n)));
  t = performance.now();
  run([bin, '--quiet', 'publish', ...dirs]);
  const publishMs = performance.now() - t;
  const project = join(work, 'hello-net');
  cpSync(join(root, 'examples/hello-net'), project, { recursive: true });
  t = performance.now();
  run([bin, 'install'], { cwd: project });
  const firstMs = performance.now() - t;
  const lock = readFileSync(join(project, 'rumpkg.lock'), 'utf8');

  console.log(`\n### rumpkg install, warm cache, nothing to do (examples/hello-net, posix-x86_64)`);
  console.log(`setup: corpus ${(corpusMs / 1000).toFixed(1)} s, publish ${dirs.length} components ${(publishMs / 1000).toFixed(1)} s, first install ${firstMs.toFixed(0)} ms`);
  const floorNode = timeIt(['-e', '0'], project);
  const floorCli = timeIt([bin, '--version'], project);
  const install = timeIt([bin, 'install'], project);
  const frozen = timeIt([bin, 'install', '--frozen'], project);
  if (readFileSync(join(project, 'rumpkg.lock'), 'utf8') !== lock) throw new Error('a no-op install rewrote rumpkg.lock');
  console.log(`node -e 0:               ${fmt(floorNode)}`);
  console.log(`rumpkg --version:        ${fmt(floorCli)}`);
  console.log(`rumpkg install:          ${fmt(install)}  (goal < 150 ms: ${install.median < 150 ? 'met' : 'NOT met'}; ${(install.median / floorNode.median).toFixed(2)}× node start)`);
  console.log(`rumpkg install --frozen: ${fmt(frozen)}`);

  // Where one no-op install spends its time: self time per module, from a CPU profile.
  const profDir = join(work, 'prof');
  run(['--cpu-prof', '--cpu-prof-dir', profDir, bin, 'install'], { cwd: project });
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  const prof = JSON.parse(readFileSync(join(profDir, file), 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  for (let i = 0; i < prof.samples.length; i++) {
    const n = byId.get(prof.samples[i]);
    const url = n.callFrame.url;
    let key;
    if (url === '') key = n.callFrame.functionName === '(garbage collector)' ? 'gc' : n.callFrame.functionName || '(native)';
    else if (url.startsWith('node:')) key = 'node internals (module loading, fs)';
    else if (url.includes('/node_modules/')) key = `node_modules/${url.split('/node_modules/')[1].split('/')[0]}`;
    else if (url.includes('/dist/')) key = `dist/${url.split('/dist/')[1].split('/')[0]}/`;
    else key = url;
    self.set(key, (self.get(key) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000);
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`profile of one run (${total.toFixed(0)} ms sampled on the main thread), self time by module:`);
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${v.toFixed(1).padStart(7)} ms  ${k}`);
} finally {
  if (process.env.RUMPKG_BENCH_KEEP === '1') console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
