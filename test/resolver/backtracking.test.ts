/**
 * Backtracking-heavy instances (pubgrub-rs's benches/backtracking.rs patterns) and a random DAG
 * registry whose large closures make the solver backjump over many decision levels (the
 * chronological-backtracking path in solver.ts): every answer is checked against the registry.
 */
import { describe, expect, it } from 'vitest';
import semver from 'semver';
import { createMemoryProvider, renderFailure, solve, type CandidateVersion, type Provider, type Solution, type SolveRequest } from '../../resolver/index.js';

const T = 't';

function cand(name: string, version: string, dependencies: Record<string, string>): CandidateVersion {
  return { name, version, dependencies, optionalDependencies: {}, requires: [], provides: [], conflicts: [], targets: [T], yanked: false, kind: 'component', lib: 'libx', license: 'MIT', initLevels: [] };
}

/** p1 0.0.0 has no dependencies; version v ≥ 1 of p_n depends on p_{n+1} by `dep(v)`. */
function chain(P: number, V: number, dep: (n: number, v: number) => Record<string, string>): CandidateVersion[] {
  const list = [cand('p1', '0.0.0', {})];
  for (let n = 1; n < P; n++) for (let v = 1; v < V; v++) list.push(cand(`p${n}`, `${v}.0.0`, dep(n, v)));
  return list;
}

async function versions(list: CandidateVersion[], deps: Record<string, string>): Promise<Record<string, string>> {
  const r = await solve({ root: { name: 'app', dependencies: deps }, target: T }, createMemoryProvider(list));
  if (!r.ok) throw new Error(renderFailure(r.failure));
  return Object.fromEntries(Object.entries(r.solution.components).map(([n, c]) => [n, c.version]));
}

/** Every edge of the solution is satisfied by the chosen versions. */
function assertValid(s: Solution, deps: Record<string, string>): void {
  const check = (from: string, name: string, range: string): void => {
    const c = s.components[name];
    expect(c, `${from} → ${name}`).toBeDefined();
    expect(semver.satisfies((c as CandidateVersion).version, range), `${from} → ${name} ${range}: ${c?.version}`).toBe(true);
  };
  for (const [n, r] of Object.entries(deps)) check('<root>', n, r);
  for (const c of Object.values(s.components)) for (const [n, r] of Object.entries(c.dependencies)) check(c.name, n, r);
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('backtracking-heavy chains', () => {
  it('singletons: every version of p1 but 0.0.0 dies at the end of the chain', async () => {
    expect(await versions(chain(20, 30, (n, v) => ({ [`p${n + 1}`]: `${v}.0.0` })), { p1: '*' })).toEqual({ p1: '0.0.0' });
  });

  it('disjoint versions: the end of the chain needs pin at v, the root pins pin 0.0.0', async () => {
    const P = 40;
    const V = 10;
    const list = chain(P, V, (n, v) => ({ [`p${n + 1}`]: `${v}.0.0` }));
    for (let v = 1; v < V; v++) list.push(cand(`p${P}`, `${v}.0.0`, { pin: `${v}.0.0` }));
    for (let v = 0; v < V; v++) list.push(cand('pin', `${v}.0.0`, {}));
    expect(await versions(list, { p1: '*', pin: '0.0.0' })).toEqual({ p1: '0.0.0', pin: '0.0.0' });
    // With pin free, the newest full chain is the answer.
    const free = await versions(list, { p1: '*' });
    expect(free.p1).toBe(`${V - 1}.0.0`);
    expect(free.pin).toBe(`${V - 1}.0.0`);
    expect(Object.keys(free).length).toBe(P + 1);
  });

  it('ranges: p_n v needs p_{n+1} >= V-v', async () => {
    expect(await versions(chain(5, 40, (n, v) => ({ [`p${n + 1}`]: `>=${40 - v}.0.0` })), { p1: '*' })).toEqual({ p1: '0.0.0' });
  });
});

describe('random DAG registry (long backjumps)', () => {
  // 3,000 components × 20 versions, each version depending on up to 3 of the next 300
  // components with ^M.0.0 or >=M.m.0 ranges.
  const rnd = prng(42);
  const N = 3000;
  const list: CandidateVersion[] = [];
  for (let i = 0; i < N; i++) {
    for (let M = 1; M <= 4; M++) {
      for (let m = 0; m < 5; m++) {
        const deps: Record<string, string> = {};
        const k = Math.floor(rnd() * 4);
        for (let d = 0; d < k; d++) {
          const j = i + 1 + Math.floor(rnd() * 300);
          if (j >= N) continue;
          deps[`s${j}`] = rnd() < 0.8 ? `^${1 + Math.floor(rnd() * 4)}.0.0` : `>=${1 + Math.floor(rnd() * 3)}.${Math.floor(rnd() * 5)}.0`;
        }
        list.push(cand(`s${i}`, `${M}.${m}.0`, deps));
      }
    }
  }
  const provider = createMemoryProvider(list);

  it('large closures resolve, every edge satisfied, deterministically', async () => {
    let big = 0;
    for (const root of ['s0', 's1', 's2', 's3', 's5', 's8']) {
      const deps = { [root]: '*' };
      const r = await solve({ root: { name: 'app', dependencies: deps }, target: T }, provider, { maxSteps: 300_000 });
      if (!r.ok) throw new Error(renderFailure(r.failure));
      assertValid(r.solution, deps);
      if (Object.keys(r.solution.components).length > 500) big++;
      const again = await solve({ root: { name: 'app', dependencies: deps }, target: T }, createMemoryProvider([...list].reverse()), { maxSteps: 300_000 });
      expect(again.ok && again.solution.components).toEqual(r.solution.components);
    }
    expect(big).toBeGreaterThan(0);
  });

  it("a provider's synchronous answers (versionsNow) give what its promises alone give, and a partial one falls back to them", async () => {
    const versionsNow = provider.versionsNow as NonNullable<Provider['versionsNow']>;
    let now = 0;
    let awaited = 0;
    const promisesOnly: Provider = {
      versions: (name) => {
        awaited++;
        return provider.versions(name);
      },
      providersOf: provider.providersOf,
    };
    // Answers at once for every other name; the rest are awaited.
    const partial: Provider = {
      ...promisesOnly,
      versionsNow: (name) => {
        if (Number(name.slice(1)) % 2 === 1) return undefined;
        now++;
        return versionsNow(name);
      },
    };
    const failing = { ...Object.fromEntries(Object.entries(list.slice(0, 200)).map(([, c]) => [c.name, '*'])), s0: '>=9.0.0' };
    for (const deps of [{ s0: '*' }, { s2: '*', s3: '*' }, failing]) {
      const request = { root: { name: 'app', dependencies: deps }, target: T };
      const expected = await solve(request, promisesOnly, { maxSteps: 300_000 });
      for (const p of [provider, partial]) {
        const r = await solve(request, p, { maxSteps: 300_000 });
        expect(r.ok).toBe(expected.ok);
        if (r.ok && expected.ok) expect(r.solution).toEqual(expected.solution);
        if (!r.ok && !expected.ok) expect(renderFailure(r.failure)).toBe(renderFailure(expected.failure));
      }
    }
    expect(now).toBeGreaterThan(100);
    expect(awaited).toBeGreaterThan(100);
  });

  it('solves sharing what they derive from frozen lists give what unshared lists give (targets, locks, prereleases, failures)', async () => {
    // Every 7th version ships target u only, the others t and u; every 11th name has a prerelease.
    const varied: CandidateVersion[] = list.map((c, i) => ({ ...c, targets: i % 7 === 0 ? ['u'] : [T, 'u'] }));
    for (let i = 0; i < N; i += 11) varied.push(cand(`s${i}`, '5.0.0-rc.1', {}));
    const shared = createMemoryProvider(varied);
    const base = createMemoryProvider(varied);
    // Unfrozen copies: a solve over them shares nothing with any other.
    const unshared: Provider = { versions: async (name) => [...(await base.versions(name))], providersOf: base.providersOf };
    // One frozen list for every name: listings of different names must not share what they derive.
    const all = Object.freeze([...varied]);
    const oneList: Provider = { versions: async () => all, providersOf: base.providersOf };
    const app = (dependencies: Record<string, string>): SolveRequest['root'] => ({ name: 'app', dependencies });
    const requests: Array<[SolveRequest, Provider]> = [
      [{ root: app({ s0: '*' }), target: T }, shared],
      [{ root: app({ s0: '*' }), target: 'u' }, shared],
      [{ root: app({ s0: '*', s3: '*', s11: '*' }), target: T, locked: { s1: '2.0.0', s5: '1.3.0', s8: '4.1.0', s11: '5.0.0-rc.1' } }, shared],
      [{ root: app({ s0: '*', s11: '>=5.0.0-0' }), target: T, prerelease: ['s11'] }, shared],
      [{ root: app({ s0: '*' }), target: T, prerelease: true }, shared],
      [{ root: app({ s0: '>=9.0.0' }), target: T }, shared],
      [{ root: app({ s0: '*' }), target: T }, shared],
      [{ root: app({ s2990: '*', s2993: '*' }), target: T }, oneList],
      [{ root: app({ s2990: '*', s2993: '*' }), target: 'u' }, oneList],
    ];
    let failed = 0;
    for (const [request, provider] of requests) {
      const expected = await solve(request, unshared, { maxSteps: 300_000 });
      const r = await solve(request, provider, { maxSteps: 300_000 });
      expect(r.ok).toBe(expected.ok);
      if (r.ok && expected.ok) expect(r.solution).toEqual(expected.solution);
      if (!r.ok && !expected.ok) {
        expect(renderFailure(r.failure)).toBe(renderFailure(expected.failure));
        failed++;
      }
    }
    expect(failed).toBeGreaterThan(0);
  });
});
