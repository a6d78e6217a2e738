// Resolver benchmarks (`npm run bench -- resolver`, after `npm run build`; run with --expose-gc).
// Each workload is metadata in the corpus format (name → version → { deps }) plus a list of root
// requests. One round = the floor, then rumpkg's work on what the floor produced:
//   floor  read the metadata file, JSON.parse it and turn every version into a CandidateVersion
//          (the solver's input; the least any resolver must do to see the registry);
//   rumpkg build the in-memory provider over those candidates and solve every root against it
//          (one `solve` per root, in turn).
// Each workload runs in its own child process (so its peak heap and peak RSS are its own): first
// warm-up rounds, discarded, until RESOLVER_WARMUP_MS (default 3000, as criterion, which
// pubgrub-rs's benches use) have passed and at least 2 rounds ran — the first one, cold JIT, is
// printed: a single CLI run pays it — then RESOLVER_ROUNDS measured rounds (default 5); min and
// median are printed, the ratio is median rumpkg / median floor.
// Before each side, untimed, a scavenge empties the young generation, so neither side pays for
// the other's short-lived garbage; not a full GC, which also shrinks the young generation and
// made whatever ran next pay to grow it again (3-5x on the small workloads).
// Memory, measured in an untimed round before the warm-up: the live heap of the loaded registry
// (candidates and provider, after a full GC), and the peak live heap while resolving (full GCs
// at provider calls, spaced so they take at most a third of the time, and after each solve);
// peak RSS is the child's maxRSS (everything: code, the floor's text and document, and the
// garbage of all rounds, since timed rounds force no full GC). A workload
// with a heap goal is also run once, floor included, under --max-old-space-size=<goal>, and must
// complete.
// Every solution of the last round is checked (untimed): each root dependency and each chosen
// version's dependencies satisfied by the chosen versions (semver.satisfies); a failure fails the
// bench.
// Workloads (RESOLVER_BENCH=a,b1,... selects; default all):
//   a   the Elm registry snapshot, the newest version of every package as a root;
//   b1  a synthetic registry of 10,000 components × 20 versions shaped like a real one
//       (bench/lib/synthetic-registry.mjs), 20 projects of 2–8 dependencies each;
//   b2  the same at 50,000 × 20 (issue 18's scale), 20 projects;
//   b3  the former part (b) at 50,000 × 20, a stress test: each version depends on up to 3 of the
//       next 300 components, 20 single-component roots with closures of 1 to ~27,000 components
//       (issue 18's "6.5 s, 1.7 GB" were measured on it, with the old harness);
//   c1–c3 pubgrub-rs's benches/backtracking.rs patterns (solana-* crates): a chain p1 → … → pP,
//       version v ≥ 1 of p_n depending on p_{n+1} at exactly v (singletons) or at >= V-v (ranges),
//       dead for every version of p1 but 0.0.0 — the last package has no versions (c1, c3) or
//       needs `pin` at v while the root pins `pin` 0.0.0 (c2, disjoint versions).
//       RESOLVER_BENCH_C=P1xV1,P2xV2,P3xV3 resizes them (default pubgrub-rs's 100x500,300x200,5x200).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import semver from 'semver';
import { report } from './lib/measure.mjs';
import { randomDagRegistry, syntheticRegistry } from './lib/synthetic-registry.mjs';

// The Elm snapshot is reference data next to the checkout (../shared); a clone without it skips (a).
const ELM = fileURLToPath(new URL('../../shared/corpora/elm-registry.json', import.meta.url));
const rounds = Number(process.env.RESOLVER_ROUNDS ?? 5);
const warmupMs = Number(process.env.RESOLVER_WARMUP_MS ?? 3000);
const [P1, V1, P2, V2, P3, V3] = (process.env.RESOLVER_BENCH_C ?? '100x500,300x200,5x200').split(/[x,]/).map(Number);

/** Goals: a bound on the ratio rumpkg / floor, or on rumpkg's time and the peak heap. */
const WORKLOADS = {
  a: { title: 'Elm registry, newest of every package as a root', goal: { ratio: 20 }, options: {} },
  b1: { title: 'synthetic 10,000 × 20, 20 projects', goal: { ratio: 20 }, options: { maxSteps: 300_000 } },
  b2: { title: 'synthetic 50,000 × 20, 20 projects', goal: { ms: 3000, heapMB: 500 }, options: { maxSteps: 300_000 } },
  b3: { title: 'former (b) random DAG 50,000 × 20, 20 roots (stress)', goal: { ms: 3000, heapMB: 500 }, options: { maxSteps: 300_000 } },
  c1: { title: `backtracking singletons ${P1} × ${V1}`, goal: { ratio: 20 }, options: { maxSteps: 10_000_000 } },
  c2: { title: `backtracking disjoint versions ${P2} × ${V2}`, goal: { ratio: 20 }, options: { maxSteps: 10_000_000 } },
  c3: { title: `backtracking ranges ${P3} × ${V3}`, goal: { ratio: 20 }, options: { maxSteps: 10_000_000 } },
};
// The goals of (a) and (b1) are not issue 18's: they hold them to the bar of (c).

function newest(versions) {
  return Object.keys(versions).sort((a, b) => {
    const x = a.split('.').map(Number);
    const y = b.split('.').map(Number);
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  }).pop();
}

function chain(P, V, dep) {
  const doc = { p1: { '0.0.0': { deps: {} } } };
  for (let n = 1; n < P; n++) {
    doc[`p${n}`] ??= {};
    for (let v = 1; v < V; v++) doc[`p${n}`][`${v}.0.0`] = { deps: dep(n, v) };
  }
  return doc;
}

/** The workload's metadata document and roots (not timed). */
function make(id) {
  switch (id) {
    case 'a': {
      const doc = JSON.parse(readFileSync(ELM, 'utf8'));
      return { doc, roots: Object.keys(doc).sort().map((n) => ({ [n]: newest(doc[n]) })) };
    }
    case 'b1':
    case 'b2': {
      const { doc, apps } = syntheticRegistry({ components: id === 'b1' ? 10_000 : 50_000, versions: 20, seed: 42, apps: 20 });
      return { doc, roots: apps };
    }
    case 'b3': {
      const { doc, apps } = randomDagRegistry({ components: 50_000, seed: 42, roots: 20 });
      return { doc, roots: apps };
    }
    case 'c1':
      return { doc: chain(P1, V1, (n, v) => ({ [`p${n + 1}`]: `${v}.0.0` })), roots: [{ p1: '*' }] };
    case 'c2': {
      const doc = chain(P2, V2, (n, v) => ({ [`p${n + 1}`]: `${v}.0.0` }));
      doc[`p${P2}`] = {};
      for (let v = 1; v < V2; v++) doc[`p${P2}`][`${v}.0.0`] = { deps: { pin: `${v}.0.0` } };
      doc.pin = {};
      for (let v = 0; v < V2; v++) doc.pin[`${v}.0.0`] = { deps: {} };
      return { doc, roots: [{ p1: '*', pin: '0.0.0' }] };
    }
    case 'c3':
      return { doc: chain(P3, V3, (n, v) => ({ [`p${n + 1}`]: `>=${V3 - v}.0.0` })), roots: [{ p1: '*' }] };
    default:
      throw new Error(`unknown workload ${id}`);
  }
}

/** Bump when `make` changes what it writes (the cached files are keyed by it). */
const DATA_VERSION = 1;

/** The workload's files in the temp directory, written once per generator source and sizes. */
function files(id) {
  const key = createHash('sha256')
    .update(readFileSync(new URL('./lib/synthetic-registry.mjs', import.meta.url)))
    .update(`${DATA_VERSION} ${id} ${P1} ${V1} ${P2} ${V2} ${P3} ${V3} ${id === 'a' ? readFileSync(ELM) : ''}`)
    .digest('hex')
    .slice(0, 12);
  const base = join(tmpdir(), `rumpkg-bench-resolver-${id}-${key}`);
  const meta = `${base}.json`;
  const roots = `${base}.roots.json`;
  if (!existsSync(meta) || !existsSync(roots)) {
    const w = make(id);
    writeFileSync(`${roots}.tmp`, JSON.stringify(w.roots));
    writeFileSync(`${meta}.tmp`, JSON.stringify(w.doc));
    renameSync(`${roots}.tmp`, roots);
    renameSync(`${meta}.tmp`, meta);
  }
  return { meta, roots };
}

// ---- child: one workload, measured ----------------------------------------------------------

/** Every edge of every solution satisfied by the chosen versions; returns how many were checked. */
function verify(solutions) {
  for (const [deps, solution] of solutions) {
    const chosen = solution.components;
    const check = (from, name, range) => {
      const c = chosen[name];
      if (c === undefined || !semver.satisfies(c.version, range)) {
        throw new Error(`invalid solution: ${from} needs ${name} ${range}, chose ${c?.version ?? 'nothing'}`);
      }
    };
    for (const [name, range] of Object.entries(deps)) check('the root', name, range);
    for (const c of Object.values(chosen)) for (const [name, range] of Object.entries(c.dependencies)) check(`${c.name}@${c.version}`, name, range);
  }
  return solutions.length;
}

async function measure(id) {
  // RUMPKG_DIST (a directory) measures another build, e.g. a copy of dist/ from before a change.
  const dist = process.env.RUMPKG_DIST === undefined ? new URL('../dist/', import.meta.url) : pathToFileURL(`${process.env.RUMPKG_DIST}/`);
  const { createMemoryProvider, solve } = await import(new URL('resolver/index.js', dist).href);
  const w = WORKLOADS[id];
  const { meta, roots: rootsFile } = files(id);
  const roots = JSON.parse(readFileSync(rootsFile, 'utf8'));
  const gc = globalThis.gc ?? (() => {});
  // A scavenge empties the young generation without shrinking it (a full GC would).
  const minorGc = () => gc({ type: 'minor' });
  // Immutable parts every candidate shares (the provider never hands out mutable arrays).
  const none = Object.freeze([]);
  const noDeps = Object.freeze({});
  const targets = Object.freeze(['t']);
  /** The floor: the metadata file → CandidateVersions. */
  const load = () => {
    const doc = JSON.parse(readFileSync(meta, 'utf8'));
    const list = [];
    for (const name of Object.keys(doc)) {
      const versions = doc[name];
      for (const version of Object.keys(versions)) {
        list.push({ name, version, dependencies: versions[version].deps, optionalDependencies: noDeps, requires: none, provides: none, conflicts: none, targets, yanked: false, kind: 'component', lib: 'libx', license: 'MIT', initLevels: none });
      }
    }
    return { list, components: Object.keys(doc).length };
  };
  // Untimed, before the warm-up: the live heap. Load, collect, measure the registry; then solve
  // every root, collecting and measuring at provider calls (spaced so collections take at most a
  // third of the time: on the 50k registries a full collection takes ~0.3 s, a solve up to 2 s)
  // and after each solve: the peak of what is live while resolving.
  const used = () => v8.getHeapStatistics().used_heap_size;
  gc();
  const heap0 = used();
  let probe = createMemoryProvider(load().list);
  gc();
  const registryHeap = used() - heap0;
  let peakLive = registryHeap;
  let next = 0;
  const measureLive = () => {
    const t0 = performance.now();
    gc();
    peakLive = Math.max(peakLive, used() - heap0);
    next = performance.now() + 2 * (performance.now() - t0);
  };
  const probing = { versions: (name) => (performance.now() >= next && measureLive(), probe.versions(name)), providersOf: (c) => probe.providersOf(c) };
  const kept = [];
  for (const deps of roots) {
    try {
      kept.push(await solve({ root: { name: 'bench', dependencies: deps }, target: 't' }, probing, w.options));
    } catch (e) {
      if (e?.code !== 'E_RESOLVE_LIMIT') throw e;
    }
    measureLive();
    kept.length = 0; // the solution was live at that measurement; not afterwards
  }
  probe = undefined;
  const floors = [];
  const solves = [];
  let stats;
  let cold;
  let verified = 0;
  const start = performance.now();
  let warm = 0; // warm-up rounds so far, then fixed
  let warming = warmupMs > 0;
  for (let r = 0; warming || r < warm + rounds; r++) {
    minorGc();
    let t = performance.now();
    let { list, components } = load();
    floors.push(performance.now() - t);
    const versions = list.length;
    minorGc();
    t = performance.now();
    const provider = createMemoryProvider(list);
    list = undefined;
    const closures = [];
    let failed = 0;
    let limited = 0;
    let steps = 0;
    const solutions = [];
    for (const deps of roots) {
      try {
        const res = await solve({ root: { name: 'bench', dependencies: deps }, target: 't' }, provider, w.options);
        if (res.ok) {
          closures.push(Object.keys(res.solution.components).length);
          steps += res.solution.steps;
          solutions.push([deps, res.solution]);
        } else failed++;
      } catch (e) {
        if (e?.code !== 'E_RESOLVE_LIMIT') throw e;
        limited++;
      }
    }
    solves.push(performance.now() - t);
    if (!warming && r === warm + rounds - 1) verified = verify(solutions);
    if (r === 0) cold = { floor: floors[0], solve: solves[0] };
    if (warming) {
      floors.pop();
      solves.pop();
      warm = r + 1;
      warming = warm < 2 || performance.now() - start < warmupMs;
    }
    closures.sort((a, b) => a - b);
    stats = { components, versions, roots: roots.length, solved: closures.length, failed, limited, steps, closures };
  }
  return { id, floors, solves, cold, warm, stats, verified, peakLive, registryHeap, maxRSS: process.resourceUsage().maxRSS * 1024 };
}

// ---- parent: every workload in its own process, then the table ------------------------------

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const min = (xs) => Math.min(...xs);
const ms = (x) => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
const mb = (b) => `${(b / 1048576).toFixed(b < 10 * 1048576 ? 1 : 0)} MB`;
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

if (process.argv[2] === '--workload') {
  process.stdout.write(`${JSON.stringify(await measure(process.argv[3]))}\n`);
} else {
  const selected = (process.env.RESOLVER_BENCH ?? Object.keys(WORKLOADS).join(',')).split(',');
  console.log(`load average ${load()}; per workload, in its own process: warm-up for ${warmupMs} ms (>= 2 rounds), then ${rounds} rounds; ratio = median rumpkg / median floor`);
  const rows = [];
  for (const id of selected) {
    const w = WORKLOADS[id];
    if (w === undefined) throw new Error(`unknown workload ${id} (known: ${Object.keys(WORKLOADS).join(', ')})`);
    if (id === 'a' && !existsSync(ELM)) {
      console.log(`\n### (${id}) ${w.title}: skipped, ${ELM} is missing`);
      continue;
    }
    files(id); // generate outside the measured process
    const child = (flags, env = {}) =>
      spawnSync(process.execPath, [...flags, '--expose-gc', fileURLToPath(import.meta.url), '--workload', id], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, ...env } });
    const r = child([]);
    if (r.status !== 0) throw new Error(`workload ${id} failed (exit ${r.status})\n${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop());
    // The whole run (floor included) inside an old space of the goal's size: does it fit?
    const fits = w.goal.heapMB === undefined ? undefined : child([`--max-old-space-size=${w.goal.heapMB}`], { RESOLVER_ROUNDS: '1', RESOLVER_WARMUP_MS: '0' }).status === 0;
    const s = m.stats;
    const c = s.closures;
    const ratio = median(m.solves) / median(m.floors);
    const met = w.goal.ratio !== undefined ? ratio <= w.goal.ratio : median(m.solves) < w.goal.ms && m.peakLive < w.goal.heapMB * 1048576 && fits;
    const goal = w.goal.ratio !== undefined ? `≤ ${w.goal.ratio}× floor` : `< ${w.goal.ms / 1000} s, heap < ${w.goal.heapMB} MB`;
    console.log(`\n### (${id}) ${w.title}`);
    console.log(`metadata: ${s.components} components, ${s.versions} versions; ${s.roots} roots: ${s.solved} solved, ${s.failed} no solution, ${s.limited} hit maxSteps; ${s.steps} steps`);
    if (c.length > 0) console.log(`closure sizes (components per solution): min ${c[0]}, median ${median(c)}, max ${c[c.length - 1]}; ${m.verified} solutions verified edge by edge`);
    console.log(`floor  (read + parse into candidates): min ${ms(min(m.floors))}, median ${ms(median(m.floors))}`);
    console.log(`rumpkg (provider + solve every root):  min ${ms(min(m.solves))}, median ${ms(median(m.solves))}`);
    console.log(`first round (cold JIT; one of ${m.warm} warm-up rounds, not counted): floor ${ms(m.cold.floor)}, rumpkg ${ms(m.cold.solve)}, ratio ${(m.cold.solve / m.cold.floor).toFixed(2)}×`);
    console.log(`floor + rumpkg (median): ${ms(median(m.floors) + median(m.solves))}`);
    console.log(`live heap: registry (candidates + provider) ${mb(m.registryHeap)}, peak while resolving ${mb(m.peakLive)} (the resolver's own: ${mb(m.peakLive - m.registryHeap)}); peak RSS ${mb(m.maxRSS)}`);
    if (fits !== undefined) console.log(`one round, floor included, with --max-old-space-size=${w.goal.heapMB}: ${fits ? 'completes' : 'runs out of heap'}`);
    console.log(`ratio ${ratio.toFixed(2)}× (min/min ${(min(m.solves) / min(m.floors)).toFixed(2)}×); goal ${goal}: ${met ? 'met' : 'NOT met'}`);
    rows.push({ id, floor: median(m.floors), solve: median(m.solves), ratio, heap: m.peakLive, goal, met });
    // The same figures as a row of npm run bench's table (in-process against in-process).
    const solve = { min: min(m.solves), median: median(m.solves), samples: m.solves };
    const floor = { name: 'read + parse into candidates', min: min(m.floors), median: median(m.floors), samples: m.floors };
    report({
      metric: `resolver (${id}) ${w.title}: provider + solve every root (in process) vs the floor`,
      rumpkg: solve,
      ...(w.goal.ratio !== undefined ? { peer: floor, peerName: 'read + parse (floor)', goal: { ratio: w.goal.ratio } } : { goal: { ms: w.goal.ms }, floor }),
      note: `peak live heap ${mb(m.peakLive)}${w.goal.heapMB === undefined ? '' : ` (goal < ${w.goal.heapMB} MB: ${m.peakLive < w.goal.heapMB * 1048576 ? 'met' : 'NOT met'})`}; ${s.solved} solved, ${s.failed} without solution`,
    });
  }
  console.log(`\n| workload | floor (median) | rumpkg (median) | ratio | peak live heap | goal | met |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.id} | ${ms(r.floor)} | ${ms(r.solve)} | ${r.ratio.toFixed(2)}× | ${mb(r.heap)} | ${r.goal} | ${r.met ? 'yes' : 'no'} |`);
  console.log(`load average ${load()}`);
}
