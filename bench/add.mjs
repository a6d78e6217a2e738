// Adding components from an HTTP registry, whole process against whole process, from the same
// server: `rumpkg registry serve` (the shipped bin, its own process) serving the miniature corpus
// (posix-x86_64, every release: 4 versions per packument). Both clients request the same 10
// components (a closed set: their closure is themselves), by name, into a fresh project:
//   - cold: `rumpkg add NAMES` with an empty RUMPKG_HOME (cache and store) vs
//           `npm install NAMES` with an empty npm cache (--no-audit --no-fund --ignore-scripts);
//   - warm: the same with the caches filled by a previous run (fresh project each time);
//   - the first resolution inside a fresh process (client + provider + solve, cold cache, in a
//     node process of its own) against the bare solve of the same candidates in memory.
// Afterwards the two installs are compared: the same 10 name@version pairs.
// Alternating rounds, min and median, `node -e 0` as the floor. Needs `npm run build` and npm.
// Env: BENCH_ROUNDS (default 5).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedCorpus, corpusDirs } from './lib/corpus.mjs';
import { BIN, ROOT, cli, exec, loadAverage, missingTools, report, rounds, rumpkg, skip, stats, tmpName, tool } from './lib/measure.mjs';

const NAMES = ['base', 'dev-bpf', 'net', 'net-config', 'net-net', 'rumpuser', 'shmif', 'tcpip', 'tcpip6', 'virtif'];
const SCOPED = NAMES.map((n) => `@rump/${n}`);
const TARGET = 'posix-x86_64';

if (missingTools(['npm']).length > 0) {
  skip('cold rumpkg add vs npm install (10 components, same server)', 'npm is not on PATH', { ratio: 0.5 });
  process.exit(0);
}

const work = tmpName('rumpkg-bench-add-');
mkdirSync(work, { recursive: true });
let server;
try {
  // The registry: every corpus tarball published into a file registry, then served apart.
  const corpus = await cachedCorpus({ targets: [TARGET] });
  const publisherHome = join(work, 'publisher');
  await cli(['--quiet', 'publish', ...corpusDirs(corpus)], { env: { ...process.env, RUMPKG_HOME: publisherHome } });
  server = spawn(process.execPath, [BIN, '--json', 'registry', 'serve', join(publisherHome, 'registry'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((res, rej) => {
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /"url":\s*"([^"]+)"/.exec(out);
      if (m !== null) res(m[1]);
    });
    server.on('exit', (code) => rej(new Error(`rumpkg registry serve exited ${code}`)));
  });
  server.stdout.resume();
  console.log(`registry: rumpkg registry serve at ${url} (its own process), ${corpusDirs(corpus).length} tarballs; ${loadAverage()}`);

  let n = 0;
  const rumpkgProject = (home) => {
    const dir = join(work, `r${n++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'rumpkg.json'), JSON.stringify({ schemaVersion: 1, name: 'bench', targets: [TARGET], components: {}, registries: { '@rump': `${url}/` } }));
    return { dir, env: { ...process.env, RUMPKG_HOME: home ?? join(dir, '.home'), NO_COLOR: '1' } };
  };
  const npmProject = (cache) => {
    const dir = join(work, `n${n++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'bench', version: '1.0.0', private: true }));
    writeFileSync(join(dir, '.npmrc'), `@rump:registry=${url}/\n`);
    return { dir, cache: cache ?? join(dir, '.npm-cache') };
  };
  const npmArgs = (cache) => ['install', '--cache', cache, '--no-audit', '--no-fund', '--ignore-scripts', '--no-update-notifier', '--loglevel=error', ...SCOPED];
  const addRun = (ctx) => rumpkg(['add', ...NAMES], { cwd: ctx.dir, env: ctx.env })();
  const npmRun = (ctx) => tool('npm', npmArgs(ctx.cache), { cwd: ctx.dir })();
  const drop = (ctx) => rmSync(ctx.dir, { recursive: true, force: true });

  const cold = await rounds([
    { name: 'rumpkg', setup: () => rumpkgProject(), run: addRun, teardown: drop },
    { name: 'npm', setup: () => npmProject(), run: npmRun, teardown: drop },
    { name: 'node', run: tool(process.execPath, ['-e', '0']) },
  ]);
  report({ metric: 'cold rumpkg add vs npm install (10 components, same server)', rumpkg: cold.rumpkg, peer: cold.npm, peerName: 'npm install', goal: { ratio: 0.5 }, floor: { name: 'node -e 0', ...cold.node } });

  // Warm: caches filled once, a fresh project every run.
  const rHome = join(work, 'warm-home');
  const nCache = join(work, 'warm-npm-cache');
  const first = rumpkgProject(rHome);
  await addRun(first);
  const firstNpm = npmProject(nCache);
  await npmRun(firstNpm);
  // Both installed the same name@version pairs.
  const lock = JSON.parse(readFileSync(join(first.dir, 'rumpkg.lock'), 'utf8'));
  const ours = Object.entries(lock.targets[TARGET].components).map(([k, c]) => `${k}@${c.version}`).sort();
  const theirs = readdirSync(join(firstNpm.dir, 'node_modules/@rump')).map((d) => {
    const pj = JSON.parse(readFileSync(join(firstNpm.dir, 'node_modules/@rump', d, 'package.json'), 'utf8'));
    return `${pj.name}@${pj.version}`;
  }).sort();
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) throw new Error(`rumpkg and npm installed different sets:\n${ours.join(' ')}\n${theirs.join(' ')}`);
  console.log(`both installed the same ${ours.length} components: ${ours.join(' ')}`);
  const warm = await rounds([
    { name: 'rumpkg', setup: () => rumpkgProject(rHome), run: addRun, teardown: drop },
    { name: 'npm', setup: () => npmProject(nCache), run: npmRun, teardown: drop },
  ]);
  report({ metric: 'warm-cache rumpkg add vs npm install (10 components, fresh project)', rumpkg: warm.rumpkg, peer: warm.npm, peerName: 'npm install' });

  // The first resolution inside a fresh process: open the client, solve the 10 names (packuments
  // over HTTP, cold cache), then the bare solve of the same candidates from memory.
  const script = `
    const dist = ${JSON.stringify(new URL('../dist/', import.meta.url).href)};
    const { openRegistryClient, createRegistryProvider } = await import(dist + 'registry/index.js');
    const { solve, createMemoryProvider } = await import(dist + 'resolver/index.js');
    const { performance } = await import('node:perf_hooks');
    const problem = { root: { name: 'bench', dependencies: ${JSON.stringify(Object.fromEntries(SCOPED.map((s) => [s, '*'])))} }, target: ${JSON.stringify(TARGET)} };
    const { client } = await openRegistryClient({ cwd: process.cwd() });
    const provider = createRegistryProvider(client);
    const c0 = process.cpuUsage(); const t0 = performance.now();
    const r = await solve(problem, provider);
    const t1 = performance.now(); const c1 = process.cpuUsage(c0);
    if (!r.ok) throw new Error('no solution');
    const all = [];
    for (const n of ${JSON.stringify(SCOPED)}) all.push(...await provider.versions(n));
    const mem = createMemoryProvider(all);
    const t2 = performance.now();
    await solve(problem, mem);
    const t3 = performance.now();
    process.stdout.write(JSON.stringify({ resolveMs: t1 - t0, resolveCpuMs: (c1.user + c1.system) / 1000, bareMs: t3 - t2 }));
  `;
  const firstResolve = [];
  const firstCpu = [];
  const bare = [];
  for (let i = 0; i < Number(process.env.BENCH_ROUNDS ?? 5); i++) {
    const ctx = rumpkgProject();
    const r = JSON.parse((await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: ctx.dir, env: ctx.env, capture: true })).stdout);
    firstResolve.push(r.resolveMs);
    firstCpu.push(r.resolveCpuMs);
    bare.push(r.bareMs);
    drop(ctx);
  }
  report({
    metric: 'first resolve inside a fresh process (10-component closure, cold cache)',
    rumpkg: stats(firstResolve, firstCpu),
    goal: { ms: 50 },
    floor: { name: 'bare solve of the same candidates', ...stats(bare) },
  });
} finally {
  server?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
void ROOT;
