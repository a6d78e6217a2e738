/**
 * The lockfile model (DESIGN.md §4.3), pure: a solved closure becomes a `LockedTarget` (entries,
 * the edges that pulled each one in, link order, init order); closures per target become a
 * `Lockfile`; and the questions asked of a lockfile offline (does it satisfy rumpkg.json? why is
 * X here? which versions should the next solve prefer?) are answered from it alone.
 * Serialisation is `renderLockfile`/`parseLockfileText` in components/.
 */
import satisfies from 'semver/functions/satisfies.js';

import {
  INIT_LEVEL_RUN_ORDER,
  type InitStep,
  type LockedAnyOf,
  type LockedComponent,
  type LockedTarget,
  type Lockfile,
  type Target,
} from '../components/index.js';
import { PROJECT, anyOfKey, anyOfPackage, capabilityPackage } from './incompatibility.js';
import type { CandidateVersion } from './provider.js';
import type { Solution } from './solver.js';

// Only the parts of semver in use: its index loads every module of the package (~15 ms at start-up).
const semver = { satisfies };

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(r).sort(cmp)) out[k] = r[k] as T;
  return out;
}

/** A min-heap of strings (ready strongly connected components, keyed by their smallest name). */
class MinHeap {
  private readonly a: Array<[string, number]> = [];
  get size(): number {
    return this.a.length;
  }
  push(key: string, value: number): void {
    const a = this.a;
    a.push([key, value]);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (cmp((a[p] as [string, number])[0], key) <= 0) break;
      [a[p], a[i]] = [a[i] as [string, number], a[p] as [string, number]];
      i = p;
    }
  }
  pop(): number {
    const a = this.a;
    const top = a[0] as [string, number];
    const last = a.pop() as [string, number];
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && cmp((a[l] as [string, number])[0], (a[m] as [string, number])[0]) < 0) m = l;
        if (r < a.length && cmp((a[r] as [string, number])[0], (a[m] as [string, number])[0]) < 0) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i] as [string, number], a[m] as [string, number]];
        i = m;
      }
    }
    return top[1];
  }
}

/** Strongly connected components (iterative Tarjan); `succ` lists each node's successors. */
function stronglyConnected(nodes: string[], succ: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let next = 0;
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: Array<[string, number]> = [[start, 0]];
    index.set(start, next);
    low.set(start, next);
    next++;
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as [string, number];
      const [v, i] = frame;
      const s = succ.get(v) ?? [];
      if (i < s.length) {
        frame[1] = i + 1;
        const w = s[i] as string;
        if (!index.has(w)) {
          index.set(w, next);
          low.set(w, next);
          next++;
          stack.push(w);
          onStack.add(w);
          work.push([w, 0]);
        } else if (onStack.has(w)) {
          low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent[0], Math.min(low.get(parent[0]) as number, low.get(v) as number));
      if (low.get(v) === index.get(v)) {
        const comp: string[] = [];
        for (;;) {
          const w = stack.pop() as string;
          onStack.delete(w);
          comp.push(w);
          if (w === v) break;
        }
        out.push(comp.sort(cmp));
      }
    }
  }
  return out;
}

/**
 * Link order: dependents before their dependencies (a static linker resolves left to right);
 * members of a dependency cycle are grouped together, by name; ties broken by name; platform
 * packages last.
 */
export function planLinkOrder(components: Record<string, Pick<CandidateVersion, 'kind'>>, edges: ReadonlyArray<{ from: string; to: string }>): string[] {
  const names = Object.keys(components).sort(cmp);
  const platforms = names.filter((n) => components[n]?.kind === 'platform');
  const nodes = names.filter((n) => components[n]?.kind !== 'platform');
  const inGraph = new Set(nodes);
  const succ = new Map<string, string[]>();
  for (const e of edges) {
    if (!inGraph.has(e.from) || !inGraph.has(e.to) || e.from === e.to) continue;
    let s = succ.get(e.from);
    if (s === undefined) {
      s = [];
      succ.set(e.from, s);
    }
    s.push(e.to);
  }
  for (const s of succ.values()) s.sort(cmp);
  const comps = stronglyConnected(nodes, succ);
  const compOf = new Map<string, number>();
  comps.forEach((c, i) => c.forEach((n) => compOf.set(n, i)));
  const compSucc = comps.map(() => new Set<number>());
  const indeg = comps.map(() => 0);
  for (const [from, tos] of succ) {
    const a = compOf.get(from) as number;
    for (const to of tos) {
      const b = compOf.get(to) as number;
      if (a !== b && !(compSucc[a] as Set<number>).has(b)) {
        (compSucc[a] as Set<number>).add(b);
        indeg[b] = (indeg[b] as number) + 1;
      }
    }
  }
  const heap = new MinHeap();
  comps.forEach((c, i) => {
    if (indeg[i] === 0) heap.push(c[0] as string, i);
  });
  const order: string[] = [];
  while (heap.size > 0) {
    const i = heap.pop();
    order.push(...(comps[i] as string[]));
    for (const j of compSucc[i] as Set<number>) {
      indeg[j] = (indeg[j] as number) - 1;
      if (indeg[j] === 0) heap.push((comps[j] as string[])[0] as string, j);
    }
  }
  return [...order, ...platforms];
}

/** Init order: every (component, level) by the real run order of rump init levels, then link order. */
export function planInitOrder(components: Record<string, Pick<CandidateVersion, 'initLevels' | 'lib'>>, linkOrder: readonly string[]): InitStep[] {
  const rank = (level: string): number => {
    const i = (INIT_LEVEL_RUN_ORDER as readonly string[]).indexOf(level);
    return i === -1 ? INIT_LEVEL_RUN_ORDER.length : i;
  };
  const steps: Array<InitStep & { r: number; k: number }> = [];
  linkOrder.forEach((name, k) => {
    const c = components[name];
    if (c === undefined) return;
    for (const level of [...new Set(c.initLevels)]) steps.push({ level, component: name, lib: c.lib, r: rank(level), k });
  });
  steps.sort((a, b) => a.r - b.r || a.k - b.k || cmp(a.level, b.level));
  return steps.map(({ level, component, lib }) => ({ level, component, lib }));
}

/** Builds one target's closure for the lockfile from a solution. */
export function buildLockedTarget(solution: Solution): LockedTarget {
  const requiredBy = new Map<string, Set<string>>();
  const requires = new Map<string, Record<string, string>>();
  const anyOf = new Map<string, Record<string, LockedAnyOf>>();
  for (const e of solution.edges) {
    if (e.kind === 'optional') continue;
    if (!Object.hasOwn(solution.components, e.to)) continue;
    let by = requiredBy.get(e.to);
    if (by === undefined) {
      by = new Set();
      requiredBy.set(e.to, by);
    }
    by.add(e.from);
    if (e.kind === 'capability' && e.capability !== undefined) {
      const r = requires.get(e.from) ?? {};
      r[e.capability] = e.to;
      requires.set(e.from, r);
    }
    const choice = e.kind === 'anyOf' && e.group !== undefined ? solution.anyOf[anyOfKey(e.group)] : undefined;
    if (choice !== undefined && e.group !== undefined) {
      const a = anyOf.get(e.from) ?? {};
      a[anyOfKey(e.group)] = { chosen: choice.chosen, because: choice.because, others: sortedRecord(choice.others) };
      anyOf.set(e.from, a);
    }
  }
  const components: Record<string, LockedComponent> = {};
  for (const name of Object.keys(solution.components).sort(cmp)) {
    const c = solution.components[name] as CandidateVersion;
    components[name] = {
      version: c.version,
      registry: c.registry ?? '',
      tarball: c.tarball ?? '',
      integrity: c.integrity ?? '',
      license: c.license,
      lib: c.lib,
      kind: c.kind,
      initLevels: [...c.initLevels],
      dependencies: sortedRecord(c.dependencies),
      requires: sortedRecord(requires.get(name) ?? {}),
      ...(anyOf.has(name) ? { anyOf: sortedRecord(anyOf.get(name) ?? {}) } : {}),
      provides: [...new Set(c.provides)].sort(cmp),
      optionalDependencies: sortedRecord(c.optionalDependencies),
      requiredBy: [...(requiredBy.get(name) ?? [])].sort(cmp),
    };
  }
  const linkOrder = planLinkOrder(solution.components, solution.edges.filter((e) => e.kind !== 'optional'));
  const platform = Object.keys(components).find((n) => components[n]?.kind === 'platform') ?? null;
  return { platform, components, linkOrder, initOrder: planInitOrder(solution.components, linkOrder) };
}

/**
 * Assembles a lockfile (version 1) from the requests for every target, one closure per target and
 * the requests for one target only (`targetRequested`, kept for the targets that have a closure).
 * Revision 1 adds `targetRequested` and `anyOf` on locked components; a lockfile that uses no
 * revision-1 field stays revision 0, byte for byte what an older rumpkg wrote.
 */
export function buildLockfile(
  requested: Record<string, string>,
  perTarget: Record<Target, LockedTarget>,
  options: { targetRequested?: Record<Target, Record<string, string>> } = {},
): Lockfile {
  const targetRequested: Record<Target, Record<string, string>> = {};
  for (const t of Object.keys(options.targetRequested ?? {}).sort(cmp)) {
    const r = options.targetRequested?.[t] ?? {};
    if (Object.hasOwn(perTarget, t) && Object.keys(r).length > 0) targetRequested[t] = sortedRecord(r);
  }
  const perTargetRequests = Object.keys(targetRequested).length > 0;
  const usesAnyOf = Object.values(perTarget).some((t) => Object.values(t.components).some((c) => c.anyOf !== undefined));
  return {
    lockfileVersion: 1,
    revision: usesAnyOf || perTargetRequests ? 1 : 0,
    requested: sortedRecord(requested),
    ...(perTargetRequests ? { targetRequested } : {}),
    targets: sortedRecord(perTarget),
  };
}

/**
 * Why `lock` cannot be used as-is for a project asking for `components` on `targets`
 * (`install --frozen`). An empty list means it satisfies the project.
 */
export function lockfileSatisfies(
  lock: Lockfile,
  project: { components: Record<string, string>; targetComponents?: Record<Target, Record<string, string>>; targets: readonly string[] },
): string[] {
  const reasons: string[] = [];
  const compare = (want: Record<string, string>, have: Record<string, string>, scope: string): void => {
    for (const name of Object.keys(want).sort(cmp)) {
      const w = want[name] as string;
      const h = have[name];
      if (h === undefined) reasons.push(`${name}@${w} is requested${scope} by rumpkg.json but not locked`);
      else if (h !== w) reasons.push(`${name} is requested${scope} as ${w} but locked for ${h}`);
    }
    for (const name of Object.keys(have).sort(cmp)) {
      if (!Object.hasOwn(want, name)) reasons.push(`${name} is locked${scope} but no longer requested by rumpkg.json`);
    }
  };
  compare(project.components, lock.requested, '');
  const perTarget = [...new Set([...Object.keys(project.targetComponents ?? {}), ...Object.keys(lock.targetRequested ?? {})])].sort(cmp);
  for (const t of perTarget) compare(project.targetComponents?.[t] ?? {}, lock.targetRequested?.[t] ?? {}, ` for ${t} only`);
  for (const t of [...project.targets].sort(cmp)) {
    if (!Object.hasOwn(lock.targets, t)) reasons.push(`target ${t} has no locked closure`);
  }
  for (const t of Object.keys(lock.targets).sort(cmp)) {
    if (!project.targets.includes(t)) reasons.push(`target ${t} is locked but no longer in rumpkg.json`);
  }
  for (const t of Object.keys(lock.targets).sort(cmp)) {
    if (!project.targets.includes(t)) continue;
    const closure = lock.targets[t] as LockedTarget;
    const satisfied = (name: string, range: string, who: string): void => {
      const c = closure.components[name];
      if (c === undefined) {
        reasons.push(`${t}: ${name} (needed by ${who}) is missing from the closure`);
        return;
      }
      let ok = false;
      try {
        ok = semver.satisfies(c.version, range, { includePrerelease: true });
      } catch {
        ok = false;
      }
      if (!ok) reasons.push(`${t}: ${name}@${c.version} does not satisfy ${range} (needed by ${who})`);
    };
    const requests = { ...project.components, ...(project.targetComponents?.[t] ?? {}) };
    for (const name of Object.keys(requests).sort(cmp)) satisfied(name, requests[name] as string, 'rumpkg.json');
    for (const name of Object.keys(closure.components).sort(cmp)) {
      const c = closure.components[name] as LockedComponent;
      for (const dep of Object.keys(c.dependencies).sort(cmp)) satisfied(dep, c.dependencies[dep] as string, `${name}@${c.version}`);
      for (const cap of Object.keys(c.requires).sort(cmp)) {
        const p = c.requires[cap] as string;
        if (!(closure.components[p]?.provides ?? []).includes(cap)) reasons.push(`${t}: ${name} requires ${cap} but ${p} in the closure does not provide it`);
      }
      for (const key of Object.keys(c.anyOf ?? {}).sort(cmp)) {
        const chosen = (c.anyOf?.[key] as LockedAnyOf).chosen;
        const group = key.split('|');
        const oneOf = `one of ${group.slice(0, -1).join(', ')} or ${group[group.length - 1] as string}`;
        if (!group.includes(chosen)) reasons.push(`${t}: ${name} needs ${oneOf}, but the lockfile chose ${chosen}, which is not one of them`);
        else if (closure.components[chosen] === undefined) reasons.push(`${t}: ${name} needs ${oneOf}, but ${chosen} is not in the closure`);
      }
    }
  }
  return reasons;
}

export interface WhyOptions {
  /** At most this many chains (shortest first). Default 1000. */
  limit?: number;
}

/** Every chain `<project> → … → name` through `requiredBy` edges, shortest first, then by names. */
export function whyChains(target: LockedTarget, name: string, options: WhyOptions = {}): string[][] {
  if (!Object.hasOwn(target.components, name)) return [];
  const limit = options.limit ?? 1000;
  const chains: string[][] = [];
  // Depth-first search backwards from `name`, on an explicit stack of partial paths.
  const stack: Array<{ path: string[]; onPath: Set<string> }> = [{ path: [name], onPath: new Set([name]) }];
  let explored = 0;
  while (stack.length > 0 && explored < limit * 100) {
    explored++;
    const { path, onPath } = stack.pop() as { path: string[]; onPath: Set<string> };
    const head = path[path.length - 1] as string;
    if (head === PROJECT) {
      chains.push([...path].reverse());
      continue;
    }
    const by = target.components[head]?.requiredBy ?? [];
    for (let i = by.length - 1; i >= 0; i--) {
      const b = by[i] as string;
      if (onPath.has(b)) continue;
      const next = new Set(onPath);
      next.add(b);
      stack.push({ path: [...path, b], onPath: next });
    }
  }
  chains.sort((a, b) => a.length - b.length || cmp(a.join('\0'), b.join('\0')));
  return chains.slice(0, limit);
}

/** The locked versions (and capability providers) of one target, for `solve`'s `locked`. */
export function lockedVersions(lock: Lockfile, target: Target): Record<string, string> {
  const closure = lock.targets[target];
  if (closure === undefined) return {};
  const out: Record<string, string> = {};
  for (const name of Object.keys(closure.components).sort(cmp)) {
    const c = closure.components[name] as LockedComponent;
    out[name] = c.version;
    for (const [cap, provider] of Object.entries(c.requires)) out[capabilityPackage(cap)] = provider;
    for (const [key, choice] of Object.entries(c.anyOf ?? {})) out[anyOfPackage(key.split('|'))] = choice.chosen;
  }
  return out;
}
