/**
 * Package listers (pub's `package_lister.dart`): turn a provider's versions of one name into
 * candidates for one solve (target, yanked, prerelease and locked rules applied) and turn a
 * chosen version's edges into incompatibilities whose depender ranges span every adjacent
 * candidate with the same edge, so one incompatibility covers many versions.
 * Capabilities are listed as virtual packages: version `i.0.0` of `cap:C` stands for "C is
 * provided by the i-th eligible provider (by name)".
 */
import { capabilityPackage, createIncompatibility, type Incompatibility } from './incompatibility.js';
import type { CandidateVersion } from './provider.js';
import { term } from './term.js';
import {
  ANY,
  compareVersions,
  contains,
  countIn,
  exactly,
  fromIntervals,
  highestIn,
  indexIn,
  isAny,
  isEmpty,
  parseRange,
  parseVersion,
  runSet,
  union,
  type Interval,
  type Version,
  type VersionSet,
} from './version-set.js';

export interface Candidate {
  readonly v: Version;
  readonly c: CandidateVersion;
}

/** What a solve allows: the target, locked versions, prerelease opt-ins. */
export interface ListingPolicy {
  target: string;
  locked(name: string): string | undefined;
  prereleaseAllowed(name: string): boolean;
}

export class ComponentListing {
  readonly kind = 'component' as const;
  /** Every published version, ascending, one per version string. */
  readonly all: Candidate[];
  /** The candidates of this solve, ascending. */
  readonly eligible: Candidate[];
  readonly versions: Version[];
  /**
   * Edge → the first candidate index of every run already turned into an incompatibility
   * (created on first use: most listings of a solve never emit a conflict or a requirement).
   */
  private emittedDeps: Map<string, Set<number>> | undefined;
  private emittedRequires: Map<string, Set<number>> | undefined;
  private emittedConflicts: Map<string, Set<number>> | undefined;

  constructor(
    readonly name: string,
    published: CandidateVersion[],
    readonly policy: ListingPolicy,
  ) {
    let all: Candidate[] = [];
    let ascending = true;
    for (const c of published) {
      if (c.name !== name) continue;
      const x = { v: parseVersion(c.version), c };
      const last = all[all.length - 1];
      if (last !== undefined && compareVersions(last.v, x.v) >= 0) ascending = false;
      all.push(x);
    }
    if (!ascending) {
      // Providers usually list versions in order; otherwise sort (stably: of equal versions the
      // provider's first stays first) and keep one per version.
      all.sort((a, b) => compareVersions(a.v, b.v));
      all = all.filter((x, k) => k === 0 || compareVersions((all[k - 1] as Candidate).v, x.v) !== 0);
    }
    this.all = all;
    const locked = policy.locked(name);
    const lockedVersion = locked === undefined ? undefined : parseVersion(locked).version;
    const keep = (x: Candidate): boolean => {
      const isLocked = x.v.version === lockedVersion;
      if (!x.c.targets.includes(policy.target)) return false;
      if (x.c.yanked && !isLocked) return false;
      if (x.v.prerelease.length > 0 && !isLocked && !policy.prereleaseAllowed(name)) return false;
      return true;
    };
    this.eligible = all.every(keep) ? all : all.filter(keep);
    this.versions = this.eligible.map((x) => x.v);
  }

  count(allowed: VersionSet): number {
    return isAny(allowed) ? this.eligible.length : countIn(allowed, this.versions);
  }

  /** The locked version if allowed, otherwise the newest allowed candidate. */
  best(allowed: VersionSet): Candidate | undefined {
    const locked = this.policy.locked(this.name);
    if (locked !== undefined) {
      const hit = this.find(parseVersion(locked));
      if (hit !== undefined && contains(allowed, hit.v)) return hit;
    }
    return this.eligible[highestIn(allowed, this.versions)];
  }

  find(v: Version): Candidate | undefined {
    return this.eligible[indexIn(v, this.versions)];
  }

  /** Index range of adjacent candidates around `k` for which `same` holds. */
  private run(k: number, same: (c: CandidateVersion) => boolean): [number, number] {
    let lo = k;
    while (lo > 0 && same((this.eligible[lo - 1] as Candidate).c)) lo--;
    let hi = k;
    while (hi < this.eligible.length - 1 && same((this.eligible[hi + 1] as Candidate).c)) hi++;
    return [lo, hi];
  }

  /**
   * The incompatibilities for choosing `chosen`: dependencies, capability requirements and
   * conflicts, each not emitted before, in a fixed order (edges sorted by name).
   */
  incompatibilitiesFor(chosen: Candidate): Incompatibility[] {
    const k = indexIn(chosen.v, this.versions);
    const c = chosen.c;
    const out: Incompatibility[] = [];
    const deps = Object.keys(c.dependencies);
    if (deps.length > 1) deps.sort();
    for (const dep of deps) {
      const range = c.dependencies[dep] as string;
      const [lo, hi] = this.run(k, (o) => o.dependencies[dep] === range);
      if (this.firstEmit((this.emittedDeps ??= new Map()), dep, lo)) {
        const set = parseRange(range, `${this.name}@${c.version} → ${dep}`);
        const depender = term(this.name, runSet(this.versions, lo, hi));
        // "not dep <empty>" is always true, so the fact is about the depender alone.
        const inc = isEmpty(set)
          ? createIncompatibility([depender], { kind: 'emptyRange', dependency: dep, range })
          : createIncompatibility([depender, term(dep, set, false)], { kind: 'dependency' });
        // null: a self-dependency its own versions satisfy, which says nothing.
        if (inc !== null) out.push(inc);
      }
    }
    for (const cap of c.requires.length === 0 ? c.requires : [...new Set(c.requires)].sort()) {
      const [lo, hi] = this.run(k, (o) => o.requires.includes(cap));
      if (this.firstEmit((this.emittedRequires ??= new Map()), cap, lo)) {
        out.push(
          createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(capabilityPackage(cap), ANY, false)], {
            kind: 'requires',
            capability: cap,
          }) as Incompatibility,
        );
      }
    }
    for (const other of c.conflicts.length === 0 ? c.conflicts : [...new Set(c.conflicts)].sort()) {
      const [lo, hi] = this.run(k, (o) => o.conflicts.includes(other));
      if (this.firstEmit((this.emittedConflicts ??= new Map()), other, lo)) {
        const inc = createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(other, ANY)], { kind: 'conflict', with: other });
        if (inc !== null) out.push(inc);
      }
    }
    return out;
  }

  /**
   * True the first time the run starting at candidate `lo` is emitted for edge `key`: the runs of
   * one edge partition the candidates that have it, so their first index names them.
   */
  private firstEmit(emitted: Map<string, Set<number>>, key: string, lo: number): boolean {
    let runs = emitted.get(key);
    if (runs === undefined) {
      runs = new Set();
      emitted.set(key, runs);
    }
    if (runs.has(lo)) return false;
    runs.add(lo);
    return true;
  }

  /** The candidates providing `cap`, as a set of this package's versions (lister-style runs). */
  providingSet(cap: string): VersionSet {
    const parts: Interval[] = [];
    let k = 0;
    const n = this.eligible.length;
    while (k < n) {
      if (!(this.eligible[k] as Candidate).c.provides.includes(cap)) {
        k++;
        continue;
      }
      const start = k;
      while (k + 1 < n && (this.eligible[k + 1] as Candidate).c.provides.includes(cap)) k++;
      parts.push(...runSet(this.versions, start, k).intervals);
      k++;
    }
    return fromIntervals(parts);
  }
}

export class CapabilityListing {
  readonly kind = 'capability' as const;
  readonly name: string;
  readonly versions: Version[];
  private readonly emitted = new Set<number>();

  constructor(
    readonly capability: string,
    /** Eligible providers, sorted by name; index i is version `i.0.0`. */
    readonly providers: string[],
    /** Providers with versions providing the capability, none of them eligible for this solve. */
    readonly elsewhere: string[],
    private readonly providerSets: VersionSet[],
  ) {
    this.name = capabilityPackage(capability);
    this.versions = providers.map((_, i) => parseVersion(`${i}.0.0`));
  }

  count(allowed: VersionSet): number {
    let n = 0;
    for (const v of this.versions) if (contains(allowed, v)) n++;
    return n;
  }

  indexOf(v: Version): number {
    return v.major;
  }

  /** `{cap:C via P, not P S}` for the provider at `index`. */
  incompatibilityFor(index: number): Incompatibility | null {
    if (this.emitted.has(index)) return null;
    this.emitted.add(index);
    const provider = this.providers[index] as string;
    const own = this.providers.length === 1 ? ANY : exactly(this.versions[index] as Version);
    return createIncompatibility([term(this.name, own), term(provider, this.providerSets[index] as VersionSet, false)], {
      kind: 'provider',
      capability: this.capability,
      provider,
    });
  }
}

/** Union helper kept here so solver.ts needs no set algebra. */
export function unionAll(sets: VersionSet[]): VersionSet {
  return sets.reduce((a, b) => union(a, b), fromIntervals([]));
}
