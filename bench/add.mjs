// Adding components from an HTTP registry, whole process against whole process, from the same
// server: `rumpkg registry serve` (the shipped bin, its own process) serving the miniature corpus
// (posix-x86_64, every release: 4 versions per packument). Both clients request the same 10
// components (a closed set: their closure is themselves), by name, into a fresh project:
//   - cold: `rumpkg add NAMES` with an empty RUMPKG_HOME (cache and store) vs
//           `npm install NAMES` with an empty npm cache (--no-audit --no-fund --ignore-scripts);
//   - warm: the same with the caches filled by a previous run (fresh project each time);
//   - the first resolution inside a fresh `rumpkg add` process, cold cache: from the server's own
//     request log, the time from the first packument request to the first tarball request (name
//     lookups, packuments, capability search, solve), against the bare solve of the same
//     candidates in memory (in this process).
// Afterwards the two installs are compared: the same 10 name@version pairs.
// Alternating rounds, min and median, `node -e 0` as the floor. Needs `npm run build` and npm.
// Env: BENCH_ROUNDS (default 5).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedCorpus, corpusDirs } from './lib/corpus.mjs';
import { performance } from 'node:perf_hooks';
import { BIN, cli, loadAverage, missingTools, nodeFloor, report, rounds, rumpkg, skip, stats, tmpName, tool } from './lib/measure.mjs';

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
  server = spawn(BIN, ['--json', 'registry', 'serve', join(publisherHome, 'registry'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  // The server's request log (one JSON line per request, written when it is answered), stamped
  // on arrival: when a request started is the stamp minus its `ms`.
  const events = [];
  const url = await new Promise((res, rej) => {
    let out = '';
    let found = false;
    server.stdout.on('data', (d) => {
      const now = performance.now();
      out += d;
      if (!found) {
        const m = /"url":\s*"([^"]+)"/.exec(out);
        if (m === null) return;
        found = true;
        res(m[1]);
        out = out.slice(out.indexOf('}', m.index) + 1);
      }
      let nl;
      while ((nl = out.indexOf('\n')) >= 0) {
        const line = out.slice(0, nl).trim();
        out = out.slice(nl + 1);
        if (!line.startsWith('{"type":"request"')) continue;
        const ev = JSON.parse(line);
        events.push({ ...ev, start: now - ev.ms });
      }
    });
    server.on('exit', (code) => rej(new Error(`rumpkg registry serve exited ${code}`)));
  });
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

  const firstResolve = [];
  const coldAdd = async (ctx, r) => {
    const from = events.length;
    const res = await addRun(ctx);
    await new Promise((done) => setTimeout(done, 20)); // the last log lines
    const mine = events.slice(from);
    const firstPackument = mine.find((e) => e.method === 'GET' && !e.path.includes('/-/'));
    const firstTarball = mine.find((e) => e.method === 'GET' && e.path.endsWith('.tgz'));
    if (firstPackument === undefined || firstTarball === undefined) throw new Error('no packument or tarball request seen from rumpkg add');
    if (r >= 0) firstResolve.push(firstTarball.start - firstPackument.start);
    resolvePaths = mine.filter((e) => e.method === 'GET' && e.start < firstTarball.start).map((e) => e.path);
    return res;
  };
  let resolvePaths = [];
  const cold = await rounds([
    { name: 'rumpkg', setup: () => rumpkgProject(), run: coldAdd, teardown: drop },
    { name: 'npm', setup: () => npmProject(), run: npmRun, teardown: drop },
    { name: 'node', run: nodeFloor('add') },
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

  // The bare solve of the same 10 names, from memory (the candidates read once over HTTP here).
  const { createRegistryClient, createRegistryProvider } = await import('../dist/registry/index.js');
  const { solve, createMemoryProvider } = await import('../dist/resolver/index.js');
  const provider = createRegistryProvider(createRegistryClient({ home: join(work, 'bare-home'), registries: { '@rump': `${url}/` } }));
  const candidates = (await Promise.all(SCOPED.map((n) => provider.versions(n)))).flat();
  const problem = { root: { name: 'bench', dependencies: Object.fromEntries(SCOPED.map((n) => [n, '*'])) }, target: TARGET };
  const bare = await rounds([{ name: 'solve', run: async () => {
    const r = await solve(problem, createMemoryProvider(candidates));
    if (!r.ok) throw new Error('no solution');
  } }], { warmup: 0 });
  // The network floor: the requests rumpkg made before its first tarball, replayed all at once by
  // a bare keep-alive HTTP client in this (warm) process — what the server and loopback cost.
  const http = await import('node:http');
  const agent = new http.Agent({ keepAlive: true });
  const getAll = () => Promise.all(resolvePaths.map((p) => new Promise((res, rej) => {
    http.get(`${url}${p}`, { agent, headers: { accept: 'application/json' } }, (r) => r.resume().on('end', res)).on('error', rej);
  })));
  const replay = await rounds([{ name: 'replay', run: getAll }]);
  agent.destroy();
  report({
    metric: `first resolve inside a fresh rumpkg add (10 names, cold cache; first packument request → first tarball request, from the server log; ${resolvePaths.length} requests)`,
    rumpkg: stats(firstResolve),
    goal: { ms: 50 },
    floor: { name: `the same ${resolvePaths.length} requests replayed at once by a bare HTTP client`, ...replay.replay },
    note: `the bare solve of the same candidates in memory takes ${bare.solve.median.toFixed(1)} ms; the rest is the cold process fetching, parsing and checking (RG-01) ${resolvePaths.length} registry answers — their cache entries and seen records are written later, while the tarballs unpack (registry/README.md)`,
  });
} finally {
  server?.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}
