/**
 * The Elm registry snapshot (../shared/corpora/elm-registry.json): real dependency data nobody
 * here designed. Every answer is checked independently: a solution must satisfy every chosen
 * version's dependencies; a failure must be confirmed by a separate backtracking search (or that
 * search must run out of budget, which is counted and bounded).
 */
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { createMemoryProvider, renderFailure, solve, type CandidateVersion, type Provider } from '../../resolver/index.js';
import { sharedFile, sharedTitle } from '../helpers/shared.js';

type Elm = Record<string, Record<string, { deps: Record<string, string> }>>;
const elmFile = sharedFile('corpora/elm-registry.json');
const elm: Elm = elmFile.available ? elmFile.json<Elm>() : {};
const TARGET = 'elm';

function candidates(): CandidateVersion[] {
  const out: CandidateVersion[] = [];
  for (const [name, versions] of Object.entries(elm)) {
    for (const [version, { deps }] of Object.entries(versions)) {
      out.push({ name, version, dependencies: deps, optionalDependencies: {}, requires: [], provides: [], conflicts: [], targets: [TARGET], yanked: false, kind: 'component', lib: 'libx', license: 'MIT', initLevels: [] });
    }
  }
  return out;
}

function newest(name: string): string {
  return semver.rsort(Object.keys(elm[name] ?? {}))[0] as string;
}

const ranges = new Map<string, semver.Range>();
function sat(v: string, r: string): boolean {
  let R = ranges.get(r);
  if (R === undefined) {
    R = new semver.Range(r);
    ranges.set(r, R);
  }
  return R.test(v);
}

/** Independent check: a plain chronological-backtracking search. true/false, or null when out of budget. */
function bruteForce(rootDeps: Record<string, string>, budget = 100_000): boolean | null {
  let left = budget;
  const chosen = new Map<string, string>();
  const go = (queue: Array<[string, string]>): boolean | null => {
    if (--left < 0) return null;
    let k = 0;
    while (k < queue.length) {
      const [n, r] = queue[k] as [string, string];
      const v = chosen.get(n);
      if (v === undefined) break;
      if (!sat(v, r)) return false;
      k++;
    }
    if (k === queue.length) return true;
    const [n] = queue[k] as [string, string];
    const rest = queue.slice(k);
    const wants = rest.filter(([m]) => m === n).map(([, r]) => r);
    const options = semver.rsort(Object.keys(elm[n] ?? {})).filter((v) => wants.every((r) => sat(v, r)));
    let unknown = false;
    for (const v of options) {
      chosen.set(n, v);
      const deps = Object.entries(elm[n]?.[v]?.deps ?? {});
      const r = go([...rest.slice(1), ...deps]);
      chosen.delete(n);
      if (r === true) return true;
      if (r === null) unknown = true;
      if (left < 0) return null;
    }
    return unknown ? null : false;
  };
  return go(Object.entries(rootDeps));
}

function shuffledProvider(list: CandidateVersion[], seed: number): Provider {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2147483648), s / 2147483648);
  const a = [...list].sort(() => rnd() - 0.5);
  const base = createMemoryProvider(a.map((c) => ({ ...c, dependencies: Object.fromEntries(Object.entries(c.dependencies).reverse()) })));
  return { versions: async (n) => [...(await base.versions(n))].reverse(), providersOf: (c) => base.providersOf(c) };
}

describe.skipIf(!elmFile.available)(sharedTitle(elmFile, 'Elm registry corpus'), () => {
  const list = candidates();
  const provider = createMemoryProvider(list);
  const names = Object.keys(elm).sort();
  const roots = names.filter((_, i) => i % 5 === 0); // ~320 root packages

  it('every answer is verified', async () => {
    let solved = 0;
    let failedConfirmed = 0;
    let failedUnknown = 0;
    for (const name of roots) {
      const deps = { [name]: newest(name) };
      const r = await solve({ root: { name: 'elm-app', dependencies: deps }, target: TARGET }, provider);
      if (r.ok) {
        solved++;
        const chosen = r.solution.components;
        expect(semver.satisfies(chosen[name]?.version ?? '0.0.0-none', deps[name] as string)).toBe(true);
        for (const c of Object.values(chosen)) {
          for (const [dep, range] of Object.entries(c.dependencies)) {
            const d = chosen[dep];
            expect(d, `${c.name}@${c.version} needs ${dep}`).toBeDefined();
            expect(sat(d?.version as string, range), `${c.name}@${c.version} → ${dep}@${range}, chose ${d?.version}`).toBe(true);
          }
        }
      } else {
        expect(renderFailure(r.failure)).toMatch(/version solving failed\.$/);
        const check = bruteForce(deps);
        expect(check, `${name}: the solver failed but a solution exists`).not.toBe(true);
        if (check === false) failedConfirmed++;
        else failedUnknown++;
      }
    }
    console.log(`elm corpus: ${roots.length} roots, ${solved} solved, ${failedConfirmed} failures confirmed by brute force, ${failedUnknown} unconfirmed (budget)`);
    expect(solved + failedConfirmed + failedUnknown).toBe(roots.length);
    expect(solved).toBeGreaterThan(roots.length / 2);
    expect(failedUnknown).toBeLessThanOrEqual(Math.max(2, (failedConfirmed + failedUnknown) / 5));
  });

  it('every package as a root: every solution verified, every failure cross-checked', async () => {
    let solved = 0;
    let confirmed = 0;
    let unknown = 0;
    for (const name of names) {
      const deps = { [name]: newest(name) };
      const r = await solve({ root: { name: 'elm-app', dependencies: deps }, target: TARGET }, provider);
      if (r.ok) {
        solved++;
        const chosen = r.solution.components;
        expect(chosen[name]?.version, name).toBe(deps[name]);
        for (const c of Object.values(chosen)) {
          expect(elm[c.name]?.[c.version], `${c.name}@${c.version} is published`).toBeDefined();
          for (const [dep, range] of Object.entries(c.dependencies)) {
            const d = chosen[dep];
            expect(d !== undefined && sat(d.version, range), `${name}: ${c.name}@${c.version} → ${dep} ${range}, chose ${d?.version}`).toBe(true);
          }
        }
      } else {
        const check = bruteForce(deps);
        expect(check, `${name}: the solver failed but a solution exists`).not.toBe(true);
        if (check === false) confirmed++;
        else unknown++;
      }
    }
    console.log(`elm corpus, every package: ${names.length} roots, ${solved} solved and verified, ${confirmed} failures confirmed, ${unknown} unconfirmed (budget)`);
    expect(solved + confirmed + unknown).toBe(names.length);
    expect(solved).toBeGreaterThan(names.length * 0.9);
    expect(unknown).toBeLessThanOrEqual(Math.max(2, (confirmed + unknown) / 5));
  });

  it('agrees with brute force on solvability for a sample', async () => {
    for (const name of names.filter((_, i) => i % 23 === 1)) {
      const deps = { [name]: newest(name) };
      const r = await solve({ root: { name: 'elm-app', dependencies: deps }, target: TARGET }, provider);
      const check = bruteForce(deps);
      if (check !== null) expect(r.ok, name).toBe(check);
    }
  });

  it('pairs of packages: every answer verified, every failure cross-checked', async () => {
    let failures = 0;
    let confirmed = 0;
    for (let i = 0; i + 1 < roots.length; i += 2) {
      const a = roots[i] as string;
      const b = names[(names.indexOf(a) * 7 + 13) % names.length] as string;
      const deps = { [a]: newest(a), [b]: newest(b) };
      const r = await solve({ root: { name: 'elm-app', dependencies: deps }, target: TARGET }, provider);
      const check = bruteForce(deps);
      if (r.ok) {
        for (const c of Object.values(r.solution.components)) {
          for (const [dep, range] of Object.entries(c.dependencies)) expect(sat(r.solution.components[dep]?.version ?? '0.0.0-none', range)).toBe(true);
        }
        expect(check, `${a} + ${b}`).not.toBe(false);
      } else {
        failures++;
        expect(check, `${a} + ${b}: the solver failed but a solution exists`).not.toBe(true);
        if (check === false) confirmed++;
      }
    }
    console.log(`elm pairs: ${Math.floor(roots.length / 2)} requests, ${failures} failures, ${confirmed} confirmed by brute force`);
    expect(failures).toBeGreaterThan(5);
  });

  it('is deterministic: shuffled provider order gives identical results', async () => {
    for (const name of roots.filter((_, i) => i % 8 === 0)) {
      const req = { root: { name: 'elm-app', dependencies: { [name]: newest(name) } }, target: TARGET };
      const a = await solve(req, provider);
      const b = await solve(req, shuffledProvider(list, names.indexOf(name) + 7));
      const show = (r: typeof a): string => (r.ok ? JSON.stringify(r.solution) : renderFailure(r.failure));
      expect(show(b)).toBe(show(a));
    }
  });
});
