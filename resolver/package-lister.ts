/**
 * Package listers (pub's `package_lister.dart`): turn a provider's versions of one name into
 * candidates for one solve (target, yanked, prerelease and locked rules applied) and turn a
 * chosen version's edges into incompatibilities whose depender ranges span every adjacent
 * candidate with the same edge, so one incompatibility covers many versions. A listing depends on
 * the provider's list and the solve's rules for its name alone, so solves listing the same frozen
 * list under the same rules share it (`listComponent`); what a solve emitted is its own
 * (`ChosenMarks`).
 * Capabilities and any-of groups are listed as virtual packages: version `i.0.0` of `cap:C`
 * stands for "C is provided by the i-th eligible provider (by name)", version `i.0.0` of
 * `any:a|b` for "the group is satisfied by its i-th eligible member (by name)".
 */
import type { AnyOfOther, LockedAnyOf } from '../components/index.js';
import { PROJECT, anyOfKey, anyOfPackage, capabilityPackage, createIncompatibility, type Cause, type Incompatibility } from './incompatibility.js';
import type { CandidateVersion } from './provider.js';
import { term, type Term } from './term.js';
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
  knownRange,
  parseRange,
  parseVersion,
  runSet,
  union,
  type Interval,
  type Version,
  type VersionSet,
} from './version-set.js';

/** The cause of every dependency incompatibility (causes are never modified). */
const DEPENDENCY: Cause = Object.freeze({ kind: 'dependency' });

/** What a solve allows: the target, locked versions, prerelease opt-ins. */
export interface ListingPolicy {
  target: string;
  locked(name: string): string | undefined;
  prereleaseAllowed(name: string): boolean;
}

/**
 * What a solve marks on a listing it uses: the candidates whose incompatibilities
 * `incompatibilitiesFor` made (bit k of `chosenBits` for the first 30, `chosenMore[k]` beyond,
 * made on first use). That call emitted every edge of the candidate, each for its whole run, so
 * an edge's run was emitted before exactly when it holds a marked candidate: no record per edge
 * and run. The solver keeps them on its record of the package (listings are shared by solves).
 */
export interface ChosenMarks {
  chosenBits: number;
  chosenMore: Uint8Array | undefined;
}

/**
 * One name's versions as a solve sees them (target, yanked, prerelease and locked rules
 * applied), kept as parallel arrays (a version and its metadata at the same index; no wrapper
 * object per version): the resolver's memory per version is two array slots, one more pair when
 * some version is not eligible. A listing holds nothing of one solve (what a solve emitted is
 * its `ChosenMarks`), so solves listing the same frozen list share one (see `listComponent`).
 */
export class ComponentListing {
  readonly kind = 'component' as const;
  /** Every published version, ascending, one per version; `all[i]` is published as `allVersions[i]`. */
  readonly allVersions: readonly Version[];
  readonly all: readonly CandidateVersion[];
  /** The candidates, ascending (the same arrays when every version is eligible). */
  readonly versions: readonly Version[];
  readonly eligible: readonly CandidateVersion[];
  /** The candidate index of the locked version, -1 when none is locked or it is no candidate. */
  private readonly lockedAt: number;
  /**
   * Candidate index → its edges (made when first asked for): the first candidate asked for in
   * two fields, since most packages are decided at one version; others in `moreEdges`.
   */
  private firstEdgesAt = -1;
  private firstEdges: CandidateEdges | undefined = undefined;
  private moreEdges: Array<CandidateEdges | undefined> | undefined;
  constructor(
    readonly name: string,
    published: readonly CandidateVersion[],
    readonly target: string,
    locked: string | undefined,
    prerelease: boolean,
  ) {
    let foreign = false;
    for (let k = 0; k < published.length && !foreign; k++) foreign = (published[k] as CandidateVersion).name !== name;
    // The provider's own list when it holds just this name (never modified here).
    let all = foreign ? published.filter((c) => c.name === name) : published;
    let allVersions = parsedVersions(all);
    let ascending = true;
    for (let k = 1; k < allVersions.length && ascending; k++) ascending = compareVersions(allVersions[k - 1] as Version, allVersions[k] as Version) < 0;
    if (!ascending) {
      // Providers usually list versions in order; otherwise sort (stably: of equal versions the
      // provider's first stays first) and keep one per version.
      const order = all.map((_, k) => k).sort((a, b) => compareVersions(allVersions[a] as Version, allVersions[b] as Version));
      const keep = order.filter((k, i) => i === 0 || compareVersions(allVersions[order[i - 1] as number] as Version, allVersions[k] as Version) !== 0);
      all = keep.map((k) => all[k] as CandidateVersion);
      allVersions = keep.map((k) => allVersions[k] as Version);
    }
    this.all = all;
    this.allVersions = allVersions;
    const lockedVersion = locked === undefined ? undefined : parseVersion(locked);
    // (`isEligible` is a function of the module, not a closure per listing.)
    const lockedText = lockedVersion?.version;
    let every = true;
    for (let k = 0; k < all.length && every; k++) every = isEligible(all[k] as CandidateVersion, allVersions[k] as Version, target, lockedText, prerelease);
    if (every) {
      this.eligible = all;
      this.versions = allVersions;
    } else {
      const cs: CandidateVersion[] = [];
      const vs: Version[] = [];
      for (let k = 0; k < all.length; k++) {
        if (!isEligible(all[k] as CandidateVersion, allVersions[k] as Version, target, lockedText, prerelease)) continue;
        cs.push(all[k] as CandidateVersion);
        vs.push(allVersions[k] as Version);
      }
      this.eligible = cs;
      this.versions = vs;
    }
    this.lockedAt = lockedVersion === undefined ? -1 : indexIn(lockedVersion, this.versions);
  }

  count(allowed: VersionSet): number {
    return isAny(allowed) ? this.eligible.length : countIn(allowed, this.versions);
  }

  /** The index of the locked version if allowed, otherwise of the newest allowed candidate; -1 if none. */
  best(allowed: VersionSet): number {
    const k = this.lockedAt;
    if (k >= 0 && contains(allowed, this.versions[k] as Version)) return k;
    return highestIn(allowed, this.versions);
  }

  /** The candidate published as `v`, if it is one. */
  find(v: Version): CandidateVersion | undefined {
    return this.eligible[indexIn(v, this.versions)];
  }

  /** The candidate index of `v`, or -1. */
  indexOf(v: Version): number {
    return indexIn(v, this.versions);
  }

  /** Index range of adjacent candidates around `k` for which `same` holds. */
  private run(k: number, same: (c: CandidateVersion) => boolean): [number, number] {
    let lo = k;
    while (lo > 0 && same(this.eligible[lo - 1] as CandidateVersion)) lo--;
    let hi = k;
    while (hi < this.eligible.length - 1 && same(this.eligible[hi + 1] as CandidateVersion)) hi++;
    return [lo, hi];
  }

  /**
   * The incompatibilities for choosing candidate `k` in the solve whose marks on this listing are
   * `marks`: dependencies, capability requirements and conflicts, each not emitted before, in a
   * fixed order (edges sorted by name); written to `out[0..n)`, returns n. Marks `k`.
   */
  incompatibilitiesFor(k: number, marks: ChosenMarks, out: Incompatibility[]): number {
    // `out` is the caller's list, reused with its own count (setting `length` would give up its
    // storage, and a new list per chosen candidate grew a backing store each time).
    let n = 0;
    const eligible = this.eligible;
    const edges = this.edgesOf(k);
    const incs = edges.incs;
    const runs = edges.runs;
    for (let i = 0; i < incs.length; i++) {
      if (!emitted(marks, runs[2 * i] as number, runs[2 * i + 1] as number)) out[n++] = incs[i] as Incompatibility;
    }
    if (edges.extras) n = this.extraIncompatibilities(k, marks, out, n);
    if (k < 30) marks.chosenBits |= 1 << k;
    else (marks.chosenMore ??= new Uint8Array(eligible.length))[k] = 1;
    return n;
  }

  /**
   * The capability, conflict and any-of incompatibilities of candidate `k` not emitted before in
   * the solve whose marks are `marks` (see `incompatibilitiesFor`), written to `out` from `n`;
   * returns the new count.
   */
  private extraIncompatibilities(k: number, marks: ChosenMarks, out: Incompatibility[], n: number): number {
    const c = this.eligible[k] as CandidateVersion;
    // (Each kind checked before its lists are made: most candidates have none of them.)
    if (c.requires.length > 0) {
      for (const cap of [...new Set(c.requires)].sort()) {
        const [lo, hi] = this.run(k, (o) => o.requires.includes(cap));
        if (!emitted(marks, lo, hi)) {
          out[n++] = createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(capabilityPackage(cap), ANY, false)], {
            kind: 'requires',
            capability: cap,
          }) as Incompatibility;
        }
      }
    }
    if (c.conflicts.length > 0) {
      for (const other of [...new Set(c.conflicts)].sort()) {
        const [lo, hi] = this.run(k, (o) => o.conflicts.includes(other));
        if (!emitted(marks, lo, hi)) {
          const inc = createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(other, ANY)], { kind: 'conflict', with: other });
          if (inc !== null) out[n++] = inc;
        }
      }
    }
    if (c.anyOf !== undefined && c.anyOf.length > 0) {
      for (const key of anyOfKeys(c)) {
        const [lo, hi] = this.run(k, (o) => anyOfKeys(o).includes(key));
        if (!emitted(marks, lo, hi)) {
          out[n++] = createIncompatibility([term(this.name, runSet(this.versions, lo, hi)), term(anyOfPackage(key.split('|')), ANY, false)], {
            kind: 'anyOf',
            group: key.split('|'),
          }) as Incompatibility;
        }
      }
    }
    return n;
  }

  /**
   * What a solution records for candidate `k`, made by `make` from the candidate and its sorted
   * dependency names the first time a solution asks (for a candidate with dependencies: without,
   * it is made each time, and costs little). Solutions are read-only, so every solution that
   * chooses the candidate shares it (b3: ~174,000 chosen a round, ~100,000 distinct).
   */
  solved(k: number, make: (name: string, c: CandidateVersion, deps: SortedNames) => SolvedCandidate): SolvedCandidate {
    const edges = this.edgesOf(k);
    let s = edges.solved;
    if (s === undefined) {
      s = make(this.name, this.eligible[k] as CandidateVersion, edges);
      if (edges !== NO_EDGES) edges.solved = s;
    }
    return s;
  }

  /** The candidates providing `cap`, as a set of this package's versions (lister-style runs). */
  providingSet(cap: string): VersionSet {
    const parts: Interval[] = [];
    let k = 0;
    const n = this.eligible.length;
    while (k < n) {
      if (!(this.eligible[k] as CandidateVersion).provides.includes(cap)) {
        k++;
        continue;
      }
      const start = k;
      while (k + 1 < n && (this.eligible[k + 1] as CandidateVersion).provides.includes(cap)) k++;
      parts.push(...runSet(this.versions, start, k).intervals);
      k++;
    }
    return fromIntervals(parts);
  }

  /**
   * The dependency edges of candidate `k`. Enumerating a record is the costly first touch of a
   * candidate's metadata (each record has keys no other has, so its shape is new to the engine),
   * and so is reading its neighbours' records for the runs: done once per candidate and list.
   * Throws E_SEMVER naming the edge for an invalid range.
   */
  private edgesOf(k: number): CandidateEdges {
    if (k === this.firstEdgesAt) return this.firstEdges as CandidateEdges;
    let e = this.moreEdges?.[k];
    if (e === undefined) {
      e = this.makeEdges(k);
      if (this.firstEdgesAt < 0) {
        this.firstEdgesAt = k;
        this.firstEdges = e;
      } else (this.moreEdges ??= [])[k] = e;
    }
    return e;
  }

  private makeEdges(k: number): CandidateEdges {
    const eligible = this.eligible;
    const c = eligible[k] as CandidateVersion;
    const keys = Object.keys(c.dependencies);
    const extras = c.requires.length > 0 || c.conflicts.length > 0 || (c.anyOf !== undefined && c.anyOf.length > 0);
    if (keys.length === 0) return extras ? { names: keys, inOrder: true, incs: [], runs: [], solved: undefined, extras } : NO_EDGES;
    const inOrder = sortStrings(keys);
    // Sized once (they live as long as the list; a push grows an empty array to 17 slots).
    let incs = new Array<Incompatibility>(keys.length);
    let runs = new Array<number>(2 * keys.length);
    let n = 0;
    // The depender term of the last run: a candidate's edges often share one run (just itself).
    let runLo = -1;
    let runHi = -1;
    let depender: Term | undefined;
    for (let d = 0; d < keys.length; d++) {
      const dep = keys[d] as string;
      const range = c.dependencies[dep] as string;
      // The run of adjacent candidates with the same edge (as `run`, without a closure per edge).
      let lo = k;
      while (lo > 0 && sameEdge(eligible[lo - 1] as CandidateVersion, dep, range)) lo--;
      let hi = k;
      while (hi < eligible.length - 1 && sameEdge(eligible[hi + 1] as CandidateVersion, dep, range)) hi++;
      const set = knownRange(range) ?? parseRange(range, `${this.name}@${c.version} → ${dep}`);
      if (depender === undefined || lo !== runLo || hi !== runHi) {
        runLo = lo;
        runHi = hi;
        depender = term(this.name, runSet(this.versions, lo, hi));
      }
      // "not dep <empty>" is always true, so the fact is about the depender alone.
      const inc = isEmpty(set)
        ? createIncompatibility([depender], { kind: 'emptyRange', dependency: dep, range })
        : createIncompatibility([depender, term(dep, set, false)], DEPENDENCY);
      // null: a self-dependency its own versions satisfy, which says nothing.
      if (inc !== null) {
        incs[n] = inc;
        runs[2 * n] = lo;
        runs[2 * n + 1] = hi;
        n++;
      }
    }
    if (n < keys.length) {
      incs = incs.slice(0, n);
      runs = runs.slice(0, 2 * n);
    }
    return { names: keys, inOrder, incs, runs, solved: undefined, extras };
  }
}

/**
 * Whether candidate `c` depends on `dep` at exactly `range`. Asks `Object.hasOwn` first: most
 * neighbours lack the edge, and reading a key a record lacks, when the engine has not seen the
 * record's shape before (each dependency record has names of its own), costs a slow prototype
 * chain lookup; the own-key test does not look beyond the record.
 */
function sameEdge(c: CandidateVersion, dep: string, range: string): boolean {
  const deps = c.dependencies;
  return Object.hasOwn(deps, dep) && deps[dep] === range;
}

/**
 * True when the edge whose run is candidates `lo..hi` was emitted before in the solve whose
 * marks are `marks`: some candidate of the run had its incompatibilities made (the run was just
 * walked, so this scan costs no more).
 */
function emitted(marks: ChosenMarks, lo: number, hi: number): boolean {
  const bits = marks.chosenBits;
  for (let i = lo; i <= hi && i < 30; i++) if ((bits & (1 << i)) !== 0) return true;
  const more = marks.chosenMore;
  if (more !== undefined) for (let i = Math.max(lo, 30); i <= hi; i++) if (more[i] === 1) return true;
  return false;
}

/**
 * A candidate's dependency edges, made once per candidate of a listing: its dependency
 * names, sorted (`names`; `inOrder` when its record lists them so), and
 */
interface CandidateEdges extends SortedNames {
  /**
   * its dependency incompatibilities in name order, each with a depender term spanning its whole
   * run of adjacent candidates with the same edge: candidates `runs[2i]..runs[2i + 1]` for
   * `incs[i]` (a self-dependency its own versions satisfy makes none).
   */
  readonly incs: readonly Incompatibility[];
  readonly runs: readonly number[];
  /** What a solution records for the candidate, once one has chosen it (see `ComponentListing.solved`). */
  solved: SolvedCandidate | undefined;
  /**
   * Whether the candidate requires capabilities, declares conflicts or needs any-of groups: only
   * then does `incompatibilitiesFor` read the candidate itself (a solve chooses tens of thousands
   * of candidates, most with none of them, and reading each again was a cache miss apiece).
   */
  readonly extras: boolean;
}

/** A dependency edge of a solution (solver.ts `Edge`). */
export interface DependencyEdge {
  readonly from: string;
  readonly to: string;
  readonly kind: 'dependency';
  readonly range: string;
}

/**
 * What a solution records for one chosen candidate: the candidate as the solution lists it
 * (records and lists sorted) and its dependency edges, in order.
 */
export interface SolvedCandidate {
  readonly candidate: CandidateVersion;
  readonly dependencyEdges: readonly DependencyEdge[];
}

/** The edges of a candidate without dependencies (shared). */
const NO_EDGES: CandidateEdges = Object.freeze({
  names: Object.freeze([]) as readonly string[],
  inOrder: true,
  incs: Object.freeze([]) as readonly Incompatibility[],
  runs: Object.freeze([]) as readonly number[],
  solved: undefined,
  extras: false,
});

/** The shared listing of a frozen provider list (see `listComponent`). */
const published = new WeakMap<readonly CandidateVersion[], ComponentListing>();

/**
 * The listing of `list` for `name` under `policy`. A frozen list never changes, and the
 * provider's contract is that neither do its candidates (the memory provider's lists are frozen
 * when handed out), so a solve without a locked version or prereleases for `name` shares the
 * listing made for that list, name and target before: b3's 20 solves make ~182,000 listings a
 * round of ~42,000 lists, and choose ~174,000 candidates of ~100,000. Otherwise (a lock, a
 * prerelease opt-in, a list that may change) the solve gets its own listing.
 */
export function listComponent(name: string, list: readonly CandidateVersion[], policy: ListingPolicy): ComponentListing {
  const locked = policy.locked(name);
  const prerelease = policy.prereleaseAllowed(name);
  if (locked !== undefined || prerelease || !Object.isFrozen(list)) return new ComponentListing(name, list, policy.target, locked, prerelease);
  let listing = published.get(list);
  if (listing === undefined || listing.name !== name || listing.target !== policy.target) {
    listing = new ComponentListing(name, list, policy.target, undefined, false);
    published.set(list, listing);
  }
  return listing;
}

/**
 * The last list of parsed versions made by `parsedVersions` (never modified: listings only read
 * their version lists), and the texts it was parsed from.
 */
let lastVersions: readonly Version[] = [];
let lastTexts: readonly string[] = [];

const versionOf = (c: CandidateVersion): Version => parseVersion(c.version);
const textOf = (c: CandidateVersion): string => c.version;

/**
 * The versions of `all`, parsed. A listing that publishes the same version texts as the one
 * before gets that one's list (a string comparison per version, usually of the same string, no
 * array and no cache lookup: packages of one registry often share their version lists).
 */
function parsedVersions(all: readonly CandidateVersion[]): readonly Version[] {
  const last = lastTexts;
  if (last.length === all.length && all.length > 0) {
    let k = 0;
    while (k < all.length && (all[k] as CandidateVersion).version === last[k]) k++;
    if (k === all.length) return lastVersions;
  }
  // (`map` sizes the array once; pushing grew it twice for twenty versions.)
  const out = all.map(versionOf);
  lastVersions = out;
  lastTexts = all.map(textOf);
  return out;
}

/** Whether candidate `c`, published as `v`, is a candidate of a solve (target, yanked, prerelease). */
function isEligible(c: CandidateVersion, v: Version, target: string, lockedVersion: string | undefined, prerelease: boolean): boolean {
  const isLocked = v.version === lockedVersion;
  if (!c.targets.includes(target)) return false;
  if (c.yanked && !isLocked) return false;
  if (v.prerelease.length > 0 && !isLocked && !prerelease) return false;
  return true;
}

/** A record's keys in sorted order; `inOrder` when the record already listed them so. */
export interface SortedNames {
  readonly names: readonly string[];
  readonly inOrder: boolean;
}

/**
 * Sorts distinct strings in place by UTF-16 code units (as `Array.prototype.sort` without a
 * comparator, and `<`) and says whether they were in order already. Records have a few keys:
 * an insertion sort allocates nothing, where the engine's sort allocates work arrays per call.
 */
export function sortStrings(a: string[]): boolean {
  if (a.length > 32) {
    let inOrder = true;
    for (let k = 1; k < a.length && inOrder; k++) inOrder = (a[k - 1] as string) < (a[k] as string);
    if (!inOrder) a.sort();
    return inOrder;
  }
  let inOrder = true;
  for (let i = 1; i < a.length; i++) {
    const x = a[i] as string;
    let j = i - 1;
    if ((a[j] as string) < x) continue;
    inOrder = false;
    while (j >= 0 && (a[j] as string) > x) {
      a[j + 1] = a[j] as string;
      j--;
    }
    a[j + 1] = x;
  }
  return inOrder;
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
      const published = requirement.kind === 'capability' ? l.all.some((c) => c.provides.includes(requirement.capability)) : l.all.length > 0;
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
    for (let k = 0; k < this.versions.length; k++) if (contains(allowed, this.versions[k] as Version)) n++;
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
    else if (!l.all.some((c) => c.targets.includes(closure.target))) other = { reason: 'target' };
    else if (l.eligible.length === 0) other = { reason: 'unavailable' };
    else {
      const blockers = l.eligible.map((c) => against(c));
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
