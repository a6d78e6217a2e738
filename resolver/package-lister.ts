/**
 * Package listers (pub's `package_lister.dart`): turn a provider's versions of one name into
 * candidates for one solve (target, yanked, prerelease and locked rules applied) and turn a
 * chosen version's edges into incompatibilities whose depender ranges span every adjacent
 * candidate with the same edge, so one incompatibility covers many versions.
 * Capabilities and any-of groups are listed as virtual packages: version `i.0.0` of `cap:C`
 * stands for "C is provided by the i-th eligible provider (by name)", version `i.0.0` of
 * `any:a|b` for "the group is satisfied by its i-th eligible member (by name)".
 */
import type { AnyOfOther, LockedAnyOf } from '../components/index.js';
import { PROJECT, anyOfKey, anyOfPackage, capabilityPackage, createIncompatibility, type Incompatibility } from './incompatibility.js';
import type { CandidateVersion } from './provider.js';
import { term } from './term.js';
import {
  ANY,
  compareVersions,
  contains,
  exactly,
  fromIntervals,
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
  private readonly emitted = new Set<string>();

  constructor(
    readonly name: string,
    published: CandidateVersion[],
    readonly policy: ListingPolicy,
  ) {
    const seen = new Map<string, Candidate>();
    for (const c of published) {
      if (c.name !== name) continue;
      const v = parseVersion(c.version);
      if (!seen.has(v.version)) seen.set(v.version, { v, c });
    }
    this.all = [...seen.values()].sort((a, b) => compareVersions(a.v, b.v));
    const locked = policy.locked(name);
    this.eligible = this.all.filter((x) => {
      const isLocked = locked !== undefined && x.v.version === parseVersion(locked).version;
      if (!x.c.targets.includes(policy.target)) return false;
      if (x.c.yanked && !isLocked) return false;
      if (x.v.prerelease.length > 0 && !isLocked && !policy.prereleaseAllowed(name)) return false;
      return true;
    });
    this.versions = this.eligible.map((x) => x.v);
  }

  count(allowed: VersionSet): number {
    if (isAny(allowed)) return this.eligible.length;
    let n = 0;
    for (const x of this.eligible) if (contains(allowed, x.v)) n++;
    return n;
  }

  /** The locked version if allowed, otherwise the newest allowed candidate. */
  best(allowed: VersionSet): Candidate | undefined {
    const locked = this.policy.locked(this.name);
    if (locked !== undefined) {
      const lv = parseVersion(locked);
      const hit = this.eligible.find((x) => compareVersions(x.v, lv) === 0);
      if (hit !== undefined && contains(allowed, hit.v)) return hit;
    }
    for (let k = this.eligible.length - 1; k >= 0; k--) {
      const x = this.eligible[k] as Candidate;
      if (contains(allowed, x.v)) return x;
    }
    return undefined;
  }

  find(v: Version): Candidate | undefined {
    return this.eligible.find((x) => compareVersions(x.v, v) === 0);
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
    const k = this.eligible.indexOf(chosen);
    const c = chosen.c;
    const out: Incompatibility[] = [];
    const emit = (key: string, make: () => Incompatibility | null): void => {
      if (this.emitted.has(key)) return;
      this.emitted.add(key);
      const inc = make();
      if (inc !== null) out.push(inc);
    };
    for (const dep of Object.keys(c.dependencies).sort()) {
      const range = c.dependencies[dep] as string;
      const [lo, hi] = this.run(k, (o) => o.dependencies[dep] === range);
      emit(`d\0${dep}\0${lo}\0${hi}`, () => {
        const set = parseRange(range, `${this.name}@${c.version} → ${dep}`);
        const depender = term(this.name, runSet(this.versions, lo, hi));
        // "not dep <empty>" is always true, so the fact is about the depender alone.
        if (isEmpty(set)) return createIncompatibility([depender], { kind: 'emptyRange', dependency: dep, range });
        return createIncompatibility([depender, term(dep, set, false)], { kind: 'dependency' });
      });
    }
    for (const cap of [...new Set(c.requires)].sort()) {
      const [lo, hi] = this.run(k, (o) => o.requires.includes(cap));
      emit(`r\0${cap}\0${lo}\0${hi}`, () =>
        createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(capabilityPackage(cap), ANY, false)], {
          kind: 'requires',
          capability: cap,
        }),
      );
    }
    for (const other of [...new Set(c.conflicts)].sort()) {
      const [lo, hi] = this.run(k, (o) => o.conflicts.includes(other));
      emit(`c\0${other}\0${lo}\0${hi}`, () =>
        createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(other, ANY)], { kind: 'conflict', with: other }),
      );
    }
    for (const key of anyOfKeys(c)) {
      const [lo, hi] = this.run(k, (o) => anyOfKeys(o).includes(key));
      emit(`a\0${key}\0${lo}\0${hi}`, () =>
        createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(anyOfPackage(key.split('|')), ANY, false)], {
          kind: 'anyOf',
          group: key.split('|'),
        }),
      );
    }
    return out;
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

/** What a virtual package stands for: a capability, or an any-of group of components. */
export type Requirement = { kind: 'capability'; capability: string } | { kind: 'anyOf'; group: string[] };

/**
 * A virtual package with alternatives: a capability (its providers) or an any-of group (its
 * members). Version `i.0.0` is the i-th eligible alternative by name. An alternative is eligible
 * when some candidate of this solve satisfies the requirement: provides the capability, or —
 * for a group — any candidate at all (every version of a member that ships the target will do).
 */
export class CapabilityListing {
  readonly kind = 'capability' as const;
  readonly name: string;
  readonly versions: Version[];
  /** Eligible alternatives, sorted by name; index i is version `i.0.0`. */
  readonly providers: string[] = [];
  /** Alternatives with published versions that would satisfy it, none of them eligible for this solve. */
  readonly elsewhere: string[] = [];
  private readonly providerSets: VersionSet[] = [];
  private readonly emitted = new Set<number>();

  /** `names`: the candidate alternatives, sorted by name; `listings[i]` is the listing of `names[i]`. */
  constructor(
    readonly requirement: Requirement,
    names: readonly string[],
    listings: readonly ComponentListing[],
  ) {
    this.name = requirement.kind === 'capability' ? capabilityPackage(requirement.capability) : anyOfPackage(requirement.group);
    listings.forEach((l, k) => {
      const set = requirement.kind === 'capability' ? l.providingSet(requirement.capability) : l.eligible.length > 0 ? ANY : fromIntervals([]);
      const published = requirement.kind === 'capability' ? l.all.some((x) => x.c.provides.includes(requirement.capability)) : l.all.length > 0;
      if (set.intervals.length > 0) {
        this.providers.push(names[k] as string);
        this.providerSets.push(set);
      } else if (published) {
        this.elsewhere.push(names[k] as string);
      }
    });
    this.versions = this.providers.map((_, i) => parseVersion(`${i}.0.0`));
  }

  count(allowed: VersionSet): number {
    let n = 0;
    for (const v of this.versions) if (contains(allowed, v)) n++;
    return n;
  }

  indexOf(v: Version): number {
    return v.major;
  }

  /** `{cap:C via P, not P S}` (or `{any:G via P, not P any}`) for the alternative at `index`. */
  incompatibilityFor(index: number): Incompatibility | null {
    if (this.emitted.has(index)) return null;
    this.emitted.add(index);
    const provider = this.providers[index] as string;
    const own = this.providers.length === 1 ? ANY : exactly(this.versions[index] as Version);
    const r = this.requirement;
    return createIncompatibility(
      [term(this.name, own), term(provider, this.providerSets[index] as VersionSet, false)],
      r.kind === 'capability' ? { kind: 'provider', capability: r.capability, provider } : { kind: 'alternative', group: r.group, provider },
    );
  }

  /** `{name S}` when no alternative is left in S: nothing for the target provides it. */
  noneLeft(set: VersionSet, target: string): Incompatibility {
    const r = this.requirement;
    return createIncompatibility(
      [term(this.name, set)],
      r.kind === 'capability'
        ? { kind: 'noProvider', capability: r.capability, target, elsewhere: [...this.elsewhere] }
        : { kind: 'noAlternative', group: r.group, target, elsewhere: [...this.elsewhere] },
    ) as Incompatibility;
  }
}

/** The any-of group keys of a candidate (each group's members sorted and joined by `|`), sorted, each once. */
export function anyOfKeys(c: CandidateVersion): string[] {
  if (c.anyOf === undefined || c.anyOf.length === 0) return [];
  return [...new Set(c.anyOf.map((g) => anyOfKey(g)))].sort();
}

/**
 * Why the any-of group of `listing` is satisfied by `chosen` in a solved closure (`components`,
 * `edges`): `requested`/`needed` when something else pulls `chosen` in anyway; otherwise each
 * other member is judged against the closure (not published, not for the target, only yanked or
 * prerelease versions, a conflict with a member of the closure), and of those that would do, the
 * solver takes the first by name unless rumpkg.lock chose another (`locked`). A member that comes
 * first by name and would do, but was not taken, was tried and failed deeper: `unusable`.
 */
export function explainAnyOf(
  listing: CapabilityListing,
  chosen: string,
  closure: {
    components: Readonly<Record<string, CandidateVersion>>;
    edges: ReadonlyArray<{ from: string; to: string; kind: string; group?: readonly string[] }>;
    listingOf(name: string): ComponentListing | undefined;
    locked: string | undefined;
    target: string;
  },
): LockedAnyOf {
  if (listing.requirement.kind !== 'anyOf') throw new Error('internal: explainAnyOf needs an any-of listing');
  const key = anyOfKey(listing.requirement.group);
  const pulledBy = closure.edges.filter((e) => e.to === chosen && e.kind !== 'optional' && !(e.kind === 'anyOf' && anyOfKey(e.group ?? []) === key));
  // When only the group pulls `chosen` in, another member would replace it: a conflict with
  // `chosen` itself is then no reason.
  const inClosure = Object.values(closure.components).filter((x) => pulledBy.length > 0 || x.name !== chosen);
  const others: Record<string, AnyOfOther> = {};
  for (const m of listing.requirement.group) {
    if (m === chosen) continue;
    const l = closure.listingOf(m);
    const against = (c: CandidateVersion): string | undefined => inClosure.find((x) => x.conflicts.includes(m) || c.conflicts.includes(x.name))?.name;
    let other: AnyOfOther;
    if (Object.hasOwn(closure.components, m)) other = { reason: 'in-closure' };
    else if (l === undefined || l.all.length === 0) other = { reason: 'missing' };
    else if (!l.all.some((x) => x.c.targets.includes(closure.target))) other = { reason: 'target' };
    else if (l.eligible.length === 0) other = { reason: 'unavailable' };
    else {
      const blockers = l.eligible.map((x) => against(x.c));
      const first = blockers[blockers.length - 1];
      other = blockers.every((b) => b !== undefined) && first !== undefined ? { reason: 'conflict', with: first } : { reason: 'available' };
    }
    others[m] = other;
  }
  let because: LockedAnyOf['because'];
  if (pulledBy.some((e) => e.from === PROJECT)) because = 'requested';
  else if (pulledBy.length > 0) because = 'needed';
  else {
    const earlier = Object.keys(others).filter((m) => others[m]?.reason === 'available' && m < chosen);
    if (earlier.length > 0 && closure.locked !== chosen) for (const m of earlier) others[m] = { reason: 'unusable' };
    const available = Object.keys(others).filter((m) => others[m]?.reason === 'available');
    if (available.length === 0) because = 'only';
    else if (available.every((m) => chosen < m)) because = 'first';
    else because = 'locked';
  }
  return { chosen, because, others };
}

/** Union helper kept here so solver.ts needs no set algebra. */
export function unionAll(sets: VersionSet[]): VersionSet {
  return sets.reduce((a, b) => union(a, b), fromIntervals([]));
}
