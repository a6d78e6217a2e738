/**
 * The solver against exhaustive search on small random registries (fast-check): up to 5
 * components × 4 versions with dependency ranges, conflicts, capabilities, any-of groups, yanked versions and
 * versions for another target. The brute force tries every assignment (each component absent or
 * at one eligible version) and knows nothing of PubGrub, so:
 *   - a solution exists  ⇔  the solver returns one;
 *   - the solver's solution satisfies every rule (checked here, not by the solver);
 *   - a failure renders to a pub-style explanation;
 *   - the provider's order never changes the answer.
 */
import fc from 'fast-check';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { createMemoryProvider, renderFailure, solve, type CandidateVersion, type Resolution } from '../../resolver/index.js';

const T = 't';
const NAMES = ['a', 'b', 'c', 'd', 'e'];
const VERSIONS = ['1.0.0', '1.1.0', '2.0.0', '2.1.0'];
const RANGES = ['*', '^1.0.0', '^2.0.0', '>=1.1.0', '<2.0.0', '1.1.0', '2.1.0', '^3.0.0', '>=1.0.0 <2.1.0'];
const CAPS = ['bus:x', 'bus:y'];
const GROUPS = [['a', 'b'], ['c', 'd', 'e'], ['b', 'e']];

function cand(name: string, version: string, spec: Partial<CandidateVersion>): CandidateVersion {
  return { name, version, dependencies: {}, optionalDependencies: {}, requires: [], provides: [], conflicts: [], targets: [T], yanked: false, kind: 'component', lib: 'libx', license: 'MIT', initLevels: [], ...spec };
}

/** Mostly nothing, now and then one of `values` (as a one-element list). */
const rarely = <T,>(values: T[], weight = 5): fc.Arbitrary<T[]> =>
  fc.oneof({ arbitrary: fc.constant([] as T[]), weight }, { arbitrary: fc.constantFrom(...values).map((v) => [v]), weight: 1 });

const candidate = fc
  .record({
    name: fc.constantFrom(...NAMES),
    version: fc.constantFrom(...VERSIONS),
    deps: fc.dictionary(fc.constantFrom(...NAMES), fc.constantFrom(...RANGES), { maxKeys: 2 }),
    requires: rarely(CAPS),
    provides: rarely(CAPS, 2),
    conflicts: rarely(NAMES),
    anyOf: rarely(GROUPS, 4),
    yanked: fc.nat(7).map((k) => k === 0),
    otherTarget: fc.nat(9).map((k) => k === 0),
  })
  .map((r) => cand(r.name, r.version, { dependencies: r.deps, requires: r.requires, provides: r.provides, conflicts: r.conflicts, ...(r.anyOf.length > 0 ? { anyOf: r.anyOf } : {}), yanked: r.yanked, targets: r.otherTarget ? ['other'] : [T] }));

const registry = fc.uniqueArray(candidate, { selector: (c) => `${c.name}@${c.version}`, minLength: 1, maxLength: 14 });
/** A registry and root dependencies on names it publishes (and, now and then, one it does not). */
const instance = registry.chain((list) =>
  fc.record({
    list: fc.constant(list),
    deps: fc.dictionary(fc.oneof({ arbitrary: fc.constantFrom(...list.map((c) => c.name)), weight: 9 }, { arbitrary: fc.constantFrom(...NAMES), weight: 1 }), fc.constantFrom(...RANGES), { minKeys: 1, maxKeys: 2 }),
  }),
);

/** Every rule a solution must keep, checked on the chosen versions alone. */
function violations(chosen: Map<string, CandidateVersion>, root: Record<string, string>): string[] {
  const bad: string[] = [];
  const need = (from: string, name: string, range: string): void => {
    const c = chosen.get(name);
    if (c === undefined || !semver.satisfies(c.version, range)) bad.push(`${from} → ${name} ${range}`);
  };
  for (const [n, r] of Object.entries(root)) need('<root>', n, r);
  for (const c of chosen.values()) {
    if (!c.targets.includes(T)) bad.push(`${c.name}@${c.version} does not ship ${T}`);
    if (c.yanked) bad.push(`${c.name}@${c.version} is yanked`);
    for (const [n, r] of Object.entries(c.dependencies)) need(`${c.name}@${c.version}`, n, r);
    for (const other of c.conflicts) if (chosen.has(other)) bad.push(`${c.name} conflicts with ${other}`);
    for (const cap of c.requires) {
      if (![...chosen.values()].some((p) => p.provides.includes(cap))) bad.push(`${c.name} requires ${cap}`);
    }
    for (const group of c.anyOf ?? []) if (!group.some((m) => chosen.has(m))) bad.push(`${c.name} needs one of ${group.join('|')}`);
  }
  return bad;
}

/** Exhaustive: every component absent or at one eligible version. */
function bruteForce(list: CandidateVersion[], root: Record<string, string>): boolean {
  const byName = new Map<string, CandidateVersion[]>();
  for (const c of list) if (c.targets.includes(T) && !c.yanked) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
  const names = [...byName.keys()];
  const chosen = new Map<string, CandidateVersion>();
  const go = (k: number): boolean => {
    if (k === names.length) return violations(chosen, root).length === 0;
    const name = names[k] as string;
    if (go(k + 1)) return true;
    for (const c of byName.get(name) ?? []) {
      chosen.set(name, c);
      const ok = go(k + 1);
      chosen.delete(name);
      if (ok) return true;
    }
    return false;
  };
  return go(0);
}

function show(r: Resolution): string {
  return r.ok ? JSON.stringify(r.solution) : renderFailure(r.failure);
}

describe('the solver against exhaustive search', () => {
  it('agrees on solvability; every solution keeps every rule; provider order does not matter', async () => {
    let solvable = 0;
    let unsolvable = 0;
    await fc.assert(
      fc.asyncProperty(instance, async ({ list, deps }) => {
        const request = { root: { name: 'app', dependencies: deps }, target: T };
        const r = await solve(request, createMemoryProvider(list));
        const exists = bruteForce(list, deps);
        expect(r.ok, `${JSON.stringify(deps)} over ${JSON.stringify(list.map((c) => [c.name, c.version, c.dependencies, c.conflicts, c.requires, c.provides, c.anyOf, c.yanked, c.targets]))}`).toBe(exists);
        if (r.ok) {
          solvable++;
          const chosen = new Map(Object.entries(r.solution.components));
          expect(violations(chosen, deps)).toEqual([]);
          // every chosen component is a published candidate, as published
          for (const c of chosen.values()) expect(list.some((x) => x.name === c.name && x.version === c.version)).toBe(true);
          // edges are in the documented order: from, kind (dependency, capability, anyOf, optional), to, capability, group
          const rank = { dependency: 0, capability: 1, anyOf: 2, optional: 3 };
          const key = (e: (typeof r.solution.edges)[number]): string => `${e.from}\0${rank[e.kind]}\0${e.to}\0${e.capability ?? ''}\0${e.group?.join('|') ?? ''}`;
          const keys = r.solution.edges.map(key);
          expect(keys).toEqual([...keys].sort());
        } else {
          unsolvable++;
          expect(renderFailure(r.failure)).toMatch(/version solving failed\.$/);
        }
        const again = await solve(request, createMemoryProvider([...list].reverse()));
        expect(show(again)).toBe(show(r));
      }),
      { numRuns: 1500 },
    );
    // both outcomes are exercised, not just one
    expect(solvable).toBeGreaterThan(200);
    expect(unsolvable).toBeGreaterThan(200);
  });
});
