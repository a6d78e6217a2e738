// Resolver benchmarks (`npm run bench -- resolver`, after `npm run build`). For each workload:
// the floor (read + parse the metadata into CandidateVersions), the solve time, the ratio
// solve/floor, and peak heap. Workloads:
//   (a) the Elm registry snapshot: every package's newest version solved as a root;
//   (b) a synthetic registry of 10,000 components × 20 versions, random DAG dependencies
//       (seeded PRNG), 20 roots solved, each bounded by maxSteps 300,000;
//   (c) crafted backtracking-heavy chains (pubgrub-rs's backtracking benches, see below).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
const dist = process.env.RUMPKG_DIST ?? new URL('../dist/', import.meta.url).href;
const { createMemoryProvider, solve } = await import(new URL('resolver/index.js', dist.endsWith('/') ? dist : `${dist}/`).href);
// RESOLVER_BENCH=b,c runs only those parts.
const parts = new Set((process.env.RESOLVER_BENCH ?? 'a,b,c,d').split(','));

const gc = globalThis.gc ?? (() => {});
let peakHeap = 0;
const sample = () => {
  const h = process.memoryUsage().heapUsed;
  if (h > peakHeap) peakHeap = h;
};
const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
const ms = (x) => `${x.toFixed(1)} ms`;
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

function candidate(name, version, deps) {
  return { name, version, dependencies: deps, optionalDependencies: {}, requires: [], provides: [], conflicts: [], targets: ['t'], yanked: false, kind: 'component', lib: 'libx', license: 'MIT', initLevels: [] };
}

/** The floor: JSON text → CandidateVersion list → provider. */
function load(text) {
  const doc = JSON.parse(text);
  const list = [];
  for (const [name, versions] of Object.entries(doc)) for (const [v, { deps }] of Object.entries(versions)) list.push(candidate(name, v, deps));
  return { list, provider: createMemoryProvider(list), doc };
}

async function workload(title, text, roots, options = {}) {
  gc();
  peakHeap = 0;
  const heap0 = process.memoryUsage().heapUsed;
  let t = performance.now();
  const { provider, doc, list } = load(text);
  const floor = performance.now() - t;
  sample();
  const times = [];
  let ok = 0;
  let failed = 0;
  let limited = 0;
  let steps = 0;
  t = performance.now();
  for (const deps of roots(doc)) {
    const t1 = performance.now();
    try {
      const r = await solve({ root: { name: 'bench', dependencies: deps }, target: 't' }, provider, options);
      if (r.ok) {
        ok++;
        steps += r.solution.steps;
      } else failed++;
    } catch (e) {
      if (e?.code === 'E_RESOLVE_LIMIT') limited++;
      else throw e;
    }
    times.push(performance.now() - t1);
    sample();
  }
  const total = performance.now() - t;
  console.log(`\n### ${title}`);
  console.log(`metadata: ${Object.keys(doc).length} components, ${list.length} versions, ${(text.length / 1048576).toFixed(1)} MB JSON`);
  console.log(`floor (load + parse into CandidateVersions): ${ms(floor)}`);
  console.log(`solves: ${times.length} (${ok} solved, ${failed} no solution, ${limited} hit maxSteps); total ${ms(total)}; median ${ms(q(times, 0.5))}; p99 ${ms(q(times, 0.99))}; max ${ms(Math.max(...times))}`);
  console.log(`ratio total solve / floor: ${(total / floor).toFixed(2)}×; median solve / floor: ${(q(times, 0.5) / floor).toFixed(3)}×`);
  console.log(`peak heap: ${mb(peakHeap)} (${mb(peakHeap - heap0)} above the start); steps in successful solves: ${steps}`);
}

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function newest(versions) {
  return Object.keys(versions).sort((a, b) => {
    const x = a.split('.').map(Number);
    const y = b.split('.').map(Number);
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  }).pop();
}

// (a) Elm
// The snapshot is reference data next to the checkout (../shared); a clone without it skips (a).
const elmPath = fileURLToPath(new URL('../../shared/corpora/elm-registry.json', import.meta.url));
if (parts.has('a') && !existsSync(elmPath)) console.log(`(a) Elm registry: skipped, ${elmPath} is absent`);
else if (parts.has('a')) {
const elmText = readFileSync(elmPath, 'utf8');
await workload('(a) Elm registry: newest version of every package as a root', elmText, (doc) => Object.keys(doc).sort().map((n) => ({ [n]: newest(doc[n]) })));
}

// (b) synthetic 10,000 × 20
if (parts.has('b')) {
  const rnd = prng(42);
  const N = 10_000;
  const doc = {};
  for (let i = 0; i < N; i++) {
    const versions = {};
    for (let M = 1; M <= 4; M++) {
      for (let m = 0; m < 5; m++) {
        const deps = {};
        const k = Math.floor(rnd() * 4);
        for (let d = 0; d < k; d++) {
          const j = i + 1 + Math.floor(rnd() * 300);
          if (j >= N) continue;
          deps[`s${j}`] = rnd() < 0.8 ? `^${1 + Math.floor(rnd() * 4)}.0.0` : `>=${1 + Math.floor(rnd() * 3)}.${Math.floor(rnd() * 5)}.0`;
        }
        versions[`${M}.${m}.0`] = { deps };
      }
    }
    doc[`s${i}`] = versions;
  }
  const rootsRnd = prng(7);
  const roots = Array.from({ length: 20 }, () => ({ [`s${Math.floor(rootsRnd() * N)}`]: '*' }));
  await workload('(b) synthetic: 10,000 components × 20 versions, random DAG (seed 42), 20 roots, maxSteps 300,000', JSON.stringify(doc), () => roots, { maxSteps: 300_000 });
}

// (c) crafted backtracking-heavy instances, after pubgrub-rs's benches/backtracking.rs (patterns
// from the solana-* crates): a chain p1 → p2 → … → pP where version v of p_n depends on
// p_{n+1} at exactly v (singletons) or at >= V-v (ranges), and the chain is dead for every
// version but p1 0.0.0 — the last package has no versions (singletons, ranges) or needs `pin`
// at v while the root pins `pin` 0.0.0 (disjoint). The solver must try every version of p1,
// each attempt failing P levels down. RESOLVER_BENCH_C=P1xV1,P2xV2,... resizes them.
if (parts.has('c')) {
  const cand = (name, version, deps) => candidate(name, version, deps);
  const chain = (P, V, dep) => {
    const doc = { p1: { '0.0.0': { deps: {} } } };
    for (let n = 1; n < P; n++) {
      doc[`p${n}`] ??= {};
      for (let v = 1; v < V; v++) doc[`p${n}`][`${v}.0.0`] = { deps: dep(n, v) };
    }
    return doc;
  };
  const sizes = (process.env.RESOLVER_BENCH_C ?? '100x500,300x200,5x200').split(',').map((x) => x.split('x').map(Number));
  const [[P1, V1], [P2, V2], [P3, V3]] = sizes;
  const singletons = chain(P1, V1, (n, v) => ({ [`p${n + 1}`]: `${v}.0.0` }));
  await workload(`(c1) backtracking singletons: ${P1} packages × ${V1} versions`, JSON.stringify(singletons), () => [{ p1: '*' }], { maxSteps: 10_000_000 });
  const disjoint = chain(P2, V2, (n, v) => ({ [`p${n + 1}`]: `${v}.0.0` }));
  disjoint[`p${P2}`] = {};
  for (let v = 1; v < V2; v++) disjoint[`p${P2}`][`${v}.0.0`] = { deps: { pin: `${v}.0.0` } };
  disjoint.pin = {};
  for (let v = 0; v < V2; v++) disjoint.pin[`${v}.0.0`] = { deps: {} };
  await workload(`(c2) backtracking disjoint versions: ${P2} packages × ${V2} versions, root pins pin 0.0.0`, JSON.stringify(disjoint), () => [{ p1: '*', pin: '0.0.0' }], { maxSteps: 10_000_000 });
  const ranges = chain(P3, V3, (n, v) => ({ [`p${n + 1}`]: `>=${V3 - v}.0.0` }));
  await workload(`(c3) backtracking ranges: ${P3} packages × ${V3} versions`, JSON.stringify(ranges), () => [{ p1: '*' }], { maxSteps: 10_000_000 });
}
