/**
 * The PubGrub solver (pub doc/solver.md § The Algorithm): unit propagation, conflict resolution
 * with learned incompatibilities and backjumping, and decision making, over a `Provider`.
 * Everything is iterative (no recursion), bounded by `maxSteps`, and deterministic: the provider's
 * ordering never matters because versions, edges and providers are sorted before use.
 */
import { RumpkgError, type LockedAnyOf } from '../components/index.js';
import {
  PROJECT,
  anyOfGroup,
  anyOfKey,
  anyOfPackage,
  capabilityOf,
  capabilityPackage,
  createIncompatibility,
  isFailure,
  type Incompatibility,
} from './incompatibility.js';
import {
  CapabilityListing,
  ComponentListing,
  anyOfKeys,
  explainAnyOf,
  listComponent,
  sortStrings,
  type ChosenMarks,
  type DependencyEdge,
  type ListingPolicy,
  type SolvedCandidate,
  type SortedNames,
} from './package-lister.js';
import { NO_ASSIGNMENTS, PartialSolution, append, type Assignment, type PackageRecord } from './partial-solution.js';
import type { CandidateVersion, Provider } from './provider.js';
import { allowed, differenceTerms, negate, term, type Term } from './term.js';
import { ANY, contains, exactly, parseRange, type Version, type VersionSet } from './version-set.js';

export interface SolveRequest {
  root: { name: string; dependencies: Record<string, string> };
  target: string;
  /** Prefer these versions (name → version); a locked yanked version stays allowed. */
  locked?: Record<string, string>;
  /** Names whose locked versions are ignored (`update NAME`). */
  unlock?: string[];
  /** Allow prerelease candidates: for every name, or for the listed names. */
  prerelease?: boolean | string[];
}

export interface SolveOptions {
  /** Upper bound on derivations + decisions + conflict-resolution steps. Default 2,000,000. */
  maxSteps?: number;
  signal?: AbortSignal;
}

export type EdgeKind = 'dependency' | 'capability' | 'anyOf' | 'optional';

export interface Edge {
  /** A component name, or `<project>` for the request's own dependencies. */
  from: string;
  to: string;
  kind: EdgeKind;
  /** For dependency and optional edges. */
  range?: string;
  /** For capability edges: the capability `to` provides. */
  capability?: string;
  /** For anyOf edges: the group `to` was chosen from (sorted). */
  group?: string[];
}

export interface Solution {
  /** Chosen components by name (sorted keys). */
  components: Record<string, CandidateVersion>;
  /** Capability → the chosen component providing it (sorted keys). */
  capabilities: Record<string, string>;
  /** Any-of group key (members sorted, joined by `|`) → the chosen member and why (sorted keys). */
  anyOf: Record<string, LockedAnyOf>;
  /** Sorted by from, kind, to. Optional edges are recorded even when `to` is not chosen. */
  edges: Edge[];
  decisions: number;
  steps: number;
}

/** A failed solve: the derivation graph rooted at the incompatibility `{<project>}`. */
export interface Failure {
  root: Incompatibility;
  project: string;
  target: string;
  /** Virtual package (`cap:C`, `any:a|b`) → its eligible alternatives (index i is the virtual version i.0.0). */
  providers: Record<string, string[]>;
}

export type Resolution = { ok: true; solution: Solution } | { ok: false; failure: Failure };

export const DEFAULT_MAX_STEPS = 2_000_000;

/** Backjumps over more decision levels than this backtrack one level instead (see resolveConflict). */
const CHRONOLOGICAL_JUMP = 32;

/**
 * A binary min-heap of decision candidates by (count, seq), each with the term it was ranked for
 * and its package; stale entries are dropped lazily. Entries are kept in four parallel arrays
 * with their own size, not as an object each (b3 ranks ~630,000 a round).
 */
class DecisionQueue {
  private counts: number[] = [];
  private seqs: number[] = [];
  private terms: Array<Term | undefined> = [];
  private pkgs: Array<Pkg | undefined> = [];
  private size = 0;
  /** The entry `pop` took last (its term and package; its seq to tell whether it is stale). */
  topTerm: Term | undefined = undefined;
  topPkg: Pkg | undefined = undefined;
  private topSeq = -1;

  /** Whether entry `i` ranks before (count, seq). */
  private before(i: number, count: number, seq: number): boolean {
    const c = this.counts[i] as number;
    return c < count || (c === count && (this.seqs[i] as number) < seq);
  }

  /** Puts (count, seq, term, pkg) at slot `k`. */
  private put(k: number, count: number, seq: number, term: Term | undefined, pkg: Pkg | undefined): void {
    this.counts[k] = count;
    this.seqs[k] = seq;
    this.terms[k] = term;
    this.pkgs[k] = pkg;
  }

  /** Moves the entry at slot `from` to slot `to`. */
  private move(from: number, to: number): void {
    this.put(to, this.counts[from] as number, this.seqs[from] as number, this.terms[from], this.pkgs[from]);
  }

  push(count: number, seq: number, term: Term, pkg: Pkg): void {
    let k = this.size++;
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (!(count < (this.counts[p] as number) || (count === this.counts[p] && seq < (this.seqs[p] as number)))) break;
      this.move(p, k);
      k = p;
    }
    this.put(k, count, seq, term, pkg);
  }

  /** Takes the first entry into `topTerm` and `topPkg`; false when the queue is empty. */
  pop(): boolean {
    if (this.size === 0) return false;
    this.topTerm = this.terms[0];
    this.topPkg = this.pkgs[0];
    this.topSeq = this.seqs[0] as number;
    const n = --this.size;
    if (n > 0) {
      // The last entry sinks from the root.
      const count = this.counts[n] as number;
      const seq = this.seqs[n] as number;
      const term = this.terms[n];
      const pkg = this.pkgs[n];
      let k = 0;
      for (;;) {
        const l = 2 * k + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.before(r, this.counts[l] as number, this.seqs[l] as number) ? r : l;
        if (!this.before(c, count, seq)) break;
        this.move(c, k);
        k = c;
      }
      this.put(k, count, seq, term, pkg);
    }
    this.terms[n] = undefined;
    this.pkgs[n] = undefined;
    return true;
  }

  /** Whether the entry `pop` took last still ranks its package: undecided, same insertion, same term. */
  topLive(): boolean {
    const pkg = this.topPkg as Pkg;
    return pkg.seq === this.topSeq && pkg.term === this.topTerm;
  }

  /** Drops stale entries once they outnumber the live ones a few times over (bounded memory). */
  compact(liveCount: number): void {
    if (this.size <= 4 * liveCount + 64) return;
    const counts = this.counts;
    const seqs = this.seqs;
    const terms = this.terms;
    const pkgs = this.pkgs;
    const n = this.size;
    this.counts = [];
    this.seqs = [];
    this.terms = [];
    this.pkgs = [];
    this.size = 0;
    for (let i = 0; i < n; i++) {
      const pkg = pkgs[i] as Pkg;
      if (pkg.seq === seqs[i] && pkg.term === terms[i]) this.push(counts[i] as number, seqs[i] as number, terms[i] as Term, pkg);
    }
  }
}

/**
 * An incompatibility as the solver tracks it: one entry per incompatibility, listed under every
 * package it mentions. `contradictedAt` is the decision level at which the partial solution was
 * found to contradict it (-1: not known). A contradicted incompatibility stays contradicted
 * until a backtrack below that level (terms only narrow), so propagation skips it (pubgrub-rs
 * keeps the same fact in a map); at level 1 or below it is contradicted for good.
 */
interface Entry {
  readonly inc: Incompatibility;
  /**
   * The record of each term's package: `p0` that of `inc.terms[0]`, `p1` of `inc.terms[1]`
   * (null with one term), `rest[i]` of `inc.terms[i + 2]` (null with at most two terms, the
   * common case: no array per incompatibility).
   */
  readonly p0: Pkg;
  readonly p1: Pkg | null;
  readonly rest: readonly Pkg[] | null;
  contradictedAt: number;
}

/**
 * The solver's state of one package, next to the partial solution's (one lookup per name); made
 * by `makePkg`, an object literal (see `PackageRecord`).
 */
interface Pkg extends PackageRecord, ChosenMarks {
  /** The package's listing (a component's is shared with other solves: what this one emitted is in the marks). */
  listing: Listing | undefined;
  /** The load in progress (never rejects; see `Solver.listing`). */
  pending: Promise<void> | undefined;
  /** What loading the listing threw, if it failed. */
  failure: { error: unknown } | undefined;
  /** The incompatibilities mentioning this package, oldest first: `entries[0..entryCount)` (see `append`). */
  entries: Array<Entry | undefined>;
  entryCount: number;
  /** The last term whose candidates were counted, and the count. */
  countTerm: Term | undefined;
  count: number;
}

function makePkg(name: string): Pkg {
  return {
    name,
    assignments: NO_ASSIGNMENTS,
    assignmentCount: 0,
    term: undefined,
    decision: undefined,
    seq: -1,
    touched: false,
    chosenBits: 0,
    chosenMore: undefined,
    listing: undefined,
    pending: undefined,
    failure: undefined,
    entries: NO_ENTRIES,
    entryCount: 0,
    countTerm: undefined,
    count: 0,
  };
}

/** The list of a package without incompatibilities (shared, never written: `append` grows it first). */
const NO_ENTRIES: Array<Entry | undefined> = Object.freeze([]) as unknown as Array<Entry | undefined>;

function addEntry(p: Pkg, e: Entry): void {
  p.entries = append(p.entries, p.entryCount, e);
  p.entryCount++;
}

/** Assignments at this decision level or below are never undone (backjumps stop at level 1). */
const ROOT_LEVEL = 1;

/** Whether `name` is a component (not the project or a virtual package). */
function isComponent(name: string): boolean {
  return name !== PROJECT && capabilityOf(name) === null && anyOfGroup(name) === null;
}

/** A settled promise, for a listing already loaded. */
const SETTLED: Promise<void> = Promise.resolve();

class SolveFailed {
  constructor(readonly incompatibility: Incompatibility) {}
}

type Listing = ComponentListing | CapabilityListing;

/** The packages whose term changed: `list[0..count)` (see `PartialSolution.takeDirty`). */
type Dirty = { readonly list: readonly Pkg[]; readonly count: number };

class Solver {
  /** The work list of `propagate`, reused. */
  private readonly changed: Pkg[] = [];
  /** The list `incompatibilitiesFor` writes to, reused. */
  private readonly incs: Incompatibility[] = [];
  /** The work list of `missingListings`, reused. */
  private readonly missing: Pkg[] = [];

  /** Entries marked contradicted above ROOT_LEVEL, in the (non-decreasing) order of their levels. */
  private readonly contradicted: Entry[] = [];
  private readonly solution = new PartialSolution<Pkg>(makePkg);
  private readonly policy: ListingPolicy;
  private readonly maxSteps: number;
  private readonly rootDeps: Array<[string, VersionSet, string]>;
  private readonly queue = new DecisionQueue();
  /** Decisions made so far, and its value at the last chronological backtrack. */
  private decisionsMade = 0;
  private chronologicalMark = -1;
  steps = 0;

  constructor(
    private readonly request: SolveRequest,
    private readonly provider: Provider,
    private readonly options: SolveOptions,
  ) {
    const unlock = new Set(request.unlock ?? []);
    const locked = request.locked ?? {};
    const pre = request.prerelease ?? false;
    // (Asked once per listing: a request without locks or prereleases answers without lookups.)
    this.policy = {
      target: request.target,
      locked: isEmptyRecord(locked) ? noneLocked : (name) => (unlock.has(name) || !Object.hasOwn(locked, name) ? undefined : locked[name]),
      prereleaseAllowed: pre === false ? noPrerelease : (name) => pre === true || (Array.isArray(pre) && pre.includes(name)),
    };
    this.maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
    this.rootDeps = Object.keys(request.root.dependencies)
      .sort()
      .map((dep) => {
        const range = request.root.dependencies[dep] as string;
        const set = parseRange(range, `${request.root.name} → ${dep}`);
        if (set.intervals.length === 0) {
          throw new RumpkgError('E_SEMVER', `the range "${range}" requested for ${dep} matches no version at all`, {
            context: { component: dep, range },
            hint: `fix the range of ${dep} in rumpkg.json`,
          });
        }
        return [dep, set, range];
      });
  }

  private tick(): void {
    this.steps++;
    if (this.steps > this.maxSteps) {
      throw new RumpkgError('E_RESOLVE_LIMIT', `resolving ${this.request.root.name} for ${this.request.target} took more than ${this.maxSteps} steps`, {
        context: { project: this.request.root.name, target: this.request.target, steps: this.steps },
        hint: 'narrow the requested ranges, or raise the step limit',
      });
    }
  }

  async run(): Promise<Resolution> {
    const rootInc = createIncompatibility([term(PROJECT, ANY, false)], { kind: 'root' }) as Incompatibility;
    this.add(rootInc);
    try {
      let next: Pkg | null = this.solution.record(PROJECT);
      while (next !== null) {
        this.propagate(next);
        if (this.options.signal?.aborted === true) {
          throw new RumpkgError('E_RESOLVE_LIMIT', `resolving ${this.request.root.name} for ${this.request.target} was aborted`, {
            context: { project: this.request.root.name, target: this.request.target, steps: this.steps },
            cause: this.options.signal.reason,
          });
        }
        // Listings are loaded (awaited) only when a package without one needs ranking; the
        // rest of the loop is synchronous (no promise per decision).
        const dirty = this.solution.takeDirty();
        if (this.solution.undecidedCount === 0) break;
        const n = this.missingListings(dirty);
        if (n > 0) {
          const missing = this.missing;
          if (this.provider.prefetch !== undefined) {
            this.provider.prefetch(missing.slice(0, n).map((p) => p.name).filter((name) => capabilityOf(name) === null && name !== PROJECT));
          }
          // Every load starts before the first is awaited (they run in parallel); loads never
          // reject (see `listing`), so awaiting them in turn needs no Promise.all and its arrays,
          // and a failure is thrown in a fixed order.
          const only = missing[0] as Pkg;
          if (n === 1 && this.loadNow(only)) {
            // The provider answered at once: no promise, no await.
            this.listingOf(only);
          } else if (n === 1 && only.pending === undefined && isComponent(only.name)) {
            // One component alone (the usual case): the provider's promise is awaited here,
            // without the closures and promise of `load`; nothing else is in flight.
            let list: readonly CandidateVersion[] | undefined;
            try {
              list = await this.provider.versions(only.name);
            } catch (e) {
              this.failed(only, e);
            }
            if (list !== undefined) this.loadComponent(only, list);
            this.listingOf(only);
          } else {
            for (let i = 0; i < n; i++) {
              const p = missing[i] as Pkg;
              if (!this.loadNow(p)) void this.listing(p);
            }
            for (let i = 0; i < n; i++) {
              const p = missing[i] as Pkg;
              if (p.listing === undefined) await p.pending;
              this.listingOf(p);
            }
          }
        }
        next = this.choose(dirty);
      }
    } catch (e) {
      if (e instanceof SolveFailed) return { ok: false, failure: this.failure(e.incompatibility) };
      throw e;
    }
    return { ok: true, solution: this.result() };
  }

  /** Tracks `inc`; `first` may be the record of its first term's package, known to the caller. */
  private add(inc: Incompatibility, first?: Pkg): Entry {
    const terms = inc.terms;
    const name0 = (terms[0] as Term).name;
    const p0 = first !== undefined && first.name === name0 ? first : this.solution.record(name0);
    const p1 = terms.length > 1 ? this.solution.record((terms[1] as Term).name) : null;
    const rest = terms.length > 2 ? terms.slice(2).map((t) => this.solution.record(t.name)) : null;
    const entry: Entry = { inc, p0, p1, rest, contradictedAt: -1 };
    addEntry(p0, entry);
    if (p1 !== null) addEntry(p1, entry);
    if (rest !== null) for (let i = 0; i < rest.length; i++) addEntry(rest[i] as Pkg, entry);
    return entry;
  }

  /** Unit propagation from `start` (pub: newest incompatibilities first). */
  private propagate(start: Pkg): void {
    // Packages to visit, oldest first; short, so a scan beats a Set.
    // The list is reused with its own count: setting `length` would give up its storage.
    const changed = this.changed;
    let size = 0;
    changed[size++] = start;
    let head = 0;
    while (head < size) {
      const pkg = changed[head++] as Pkg;
      const list = pkg.entries;
      const count = pkg.entryCount;
      let settled = 0;
      for (let k = count - 1; k >= 0; k--) {
        const entry = list[k] as Entry;
        if (entry.contradictedAt >= 0) {
          if (entry.contradictedAt <= ROOT_LEVEL) settled++;
          continue;
        }
        const result = this.propagateOne(entry);
        if (result === 'conflict') {
          const rootCause = this.resolveConflict(entry);
          head = 0;
          const again = this.propagateOne(rootCause);
          if (again === null || again === 'conflict') throw new Error('internal: learned incompatibility does not propagate');
          size = 0;
          changed[size++] = again;
          break;
        }
        if (result !== null) {
          let seen = false;
          for (let i = head; i < size && !seen; i++) seen = changed[i] === result;
          if (!seen) changed[size++] = result;
        }
      }
      // Incompatibilities contradicted for good only cost time: drop them once they are many.
      // (In place, on the current list: a conflict above may have added to it.)
      if (settled > 16 && settled * 2 > count) {
        const all = pkg.entries;
        let n = 0;
        for (let i = 0; i < pkg.entryCount; i++) {
          const e = all[i] as Entry;
          if (!(e.contradictedAt >= 0 && e.contradictedAt <= ROOT_LEVEL)) all[n++] = e;
        }
        for (let i = n; i < pkg.entryCount; i++) all[i] = undefined;
        pkg.entryCount = n;
      }
    }
  }

  private markContradicted(entry: Entry): void {
    const level = this.solution.decisionLevel;
    entry.contradictedAt = level;
    if (level > ROOT_LEVEL) this.contradicted.push(entry);
  }

  private propagateOne(entry: Entry): Pkg | 'conflict' | null {
    let unsatisfied: Term | null = null;
    let pkg: Pkg | null = null;
    const terms = entry.inc.terms;
    for (let i = 0; i < terms.length; i++) {
      const t = terms[i] as Term;
      const p = i === 0 ? entry.p0 : i === 1 ? (entry.p1 as Pkg) : ((entry.rest as readonly Pkg[])[i - 2] as Pkg);
      const r = this.solution.relation(p, t);
      if (r === 'contradicts') {
        this.markContradicted(entry);
        return null;
      }
      if (r === 'inconclusive') {
        if (unsatisfied !== null) return null;
        unsatisfied = t;
        pkg = p;
      }
    }
    if (unsatisfied === null || pkg === null) return 'conflict';
    this.tick();
    this.solution.derive(pkg, negate(unsatisfied), entry.inc);
    // The derivation contradicts the term it came from.
    this.markContradicted(entry);
    return pkg;
  }

  /** Backtracks the partial solution and forgets the contradictions found above `level`. */
  private backtrack(level: number): void {
    this.solution.backtrack(level);
    const stack = this.contradicted;
    while (stack.length > 0 && (stack[stack.length - 1] as Entry).contradictedAt > level) {
      (stack.pop() as Entry).contradictedAt = -1;
    }
  }

  /** Conflict resolution: learn the root cause and backjump, or fail. */
  private resolveConflict(conflicting: Entry): Entry {
    let inc = conflicting.inc;
    let isNew = false;
    while (!isFailure(inc)) {
      this.tick();
      let mostRecentTerm: Term | null = null;
      let mostRecent: Assignment | null = null;
      let difference: Term | null = null;
      let previousLevel = 1;
      for (let ti = 0; ti < inc.terms.length; ti++) {
        const t = inc.terms[ti] as Term;
        const satisfier = this.solution.satisfier(t);
        if (mostRecent === null) {
          mostRecentTerm = t;
          mostRecent = satisfier;
        } else if (mostRecent.index < satisfier.index) {
          previousLevel = Math.max(previousLevel, mostRecent.decisionLevel);
          mostRecentTerm = t;
          mostRecent = satisfier;
          difference = null;
        } else {
          previousLevel = Math.max(previousLevel, satisfier.decisionLevel);
        }
        if (mostRecentTerm === t) {
          difference = differenceTerms(mostRecent.term, t);
          if (difference !== null) {
            previousLevel = Math.max(previousLevel, this.solution.satisfier(negate(difference)).decisionLevel);
          }
        }
      }
      if (mostRecent === null || mostRecentTerm === null) throw new Error('internal: conflict without terms');
      if (previousLevel < mostRecent.decisionLevel || mostRecent.cause === null) {
        // Chronological backtracking for long jumps (Nadel & Ryvchin 2018): the learned
        // incompatibility is already unit one level below its most recent satisfier, so undoing
        // only that level keeps the hundreds of unrelated decisions in between instead of redoing
        // them. If no decision was made since the last such backtrack, the jump was not
        // unrelated work but a cascade (a chain of forced choices): backjump fully then.
        const jump = mostRecent.decisionLevel - previousLevel;
        const chronological = jump > CHRONOLOGICAL_JUMP && this.decisionsMade !== this.chronologicalMark;
        if (chronological) this.chronologicalMark = this.decisionsMade;
        this.backtrack(chronological ? mostRecent.decisionLevel - 1 : previousLevel);
        return isNew ? this.add(inc) : conflicting;
      }
      const cause = mostRecent.cause;
      const terms: Term[] = inc.terms.filter((t) => t !== mostRecentTerm);
      for (let ti = 0; ti < cause.terms.length; ti++) {
        const t = cause.terms[ti] as Term;
        if (t.name !== mostRecent.term.name) terms.push(t);
      }
      if (difference !== null) terms.push(negate(difference));
      const derived = createIncompatibility(terms, { kind: 'derived', conflict: inc, other: cause });
      if (derived === null) throw new Error('internal: derived an empty incompatibility');
      inc = derived;
      isNew = true;
    }
    throw new SolveFailed(inc);
  }

  /**
   * Starts loading the listing of `pkg` if it is not loaded; the promise settles when it is
   * loaded or has failed and never rejects (read the result with `listingOf`), so loads awaited
   * one after another leave no rejection unhandled.
   */
  private listing(pkg: Pkg): Promise<void> {
    if (pkg.listing !== undefined) return SETTLED;
    let p = pkg.pending;
    if (p === undefined) {
      p = this.load(pkg);
      pkg.pending = p;
    }
    return p;
  }

  /**
   * Loads component `pkg`'s listing from the provider's synchronous answer (`versionsNow`) when
   * it gives one and no load is in flight; true when the listing is settled (loaded or failed),
   * false when it has to be loaded the asynchronous way.
   */
  private loadNow(pkg: Pkg): boolean {
    const provider = this.provider;
    if (provider.versionsNow === undefined || pkg.pending !== undefined || !isComponent(pkg.name)) return false;
    let list: readonly CandidateVersion[] | undefined;
    try {
      list = provider.versionsNow(pkg.name);
    } catch (e) {
      this.failed(pkg, e);
      return true;
    }
    if (list === undefined) return false;
    this.loadComponent(pkg, list);
    return true;
  }

  /** The loaded listing of `pkg`; throws what loading it threw. */
  private listingOf(pkg: Pkg): Listing {
    if (pkg.failure !== undefined) throw pkg.failure.error;
    if (pkg.listing === undefined) throw new Error(`internal: listing of ${pkg.name} not loaded`);
    return pkg.listing;
  }

  /**
   * The listing of `name`, loaded. A component's is the provider's promise and one step (an
   * async function per listing cost most of the allocation of loading one); the project and the
   * virtual packages go through `loadSpecial`. A provider that throws rejects, as if it were async.
   */
  private load(pkg: Pkg): Promise<void> {
    const name = pkg.name;
    if (name === PROJECT || capabilityOf(name) !== null || anyOfGroup(name) !== null) {
      return this.loadSpecial(name).then(
        (l) => this.loaded(pkg, l),
        (e: unknown) => this.failed(pkg, e),
      );
    }
    let versions: Promise<readonly CandidateVersion[]>;
    try {
      // (A native promise passes through Promise.resolve as itself.)
      versions = Promise.resolve(this.provider.versions(name));
    } catch (e) {
      this.failed(pkg, e);
      return SETTLED;
    }
    return versions.then(
      (list) => this.loadComponent(pkg, list),
      (e: unknown) => this.failed(pkg, e),
    );
  }

  /** Makes the listing of component `pkg` from the provider's `list`, or keeps its error. */
  private loadComponent(pkg: Pkg, list: readonly CandidateVersion[]): void {
    try {
      this.loaded(pkg, listComponent(pkg.name, list, this.policy));
    } catch (e) {
      this.failed(pkg, e);
    }
  }

  private loaded(pkg: Pkg, l: Listing): void {
    pkg.listing = l;
    pkg.pending = undefined;
  }

  private failed(pkg: Pkg, error: unknown): void {
    pkg.failure = { error };
  }

  private async loadSpecial(name: string): Promise<Listing> {
    if (name === PROJECT) {
      const root: CandidateVersion = {
        name: PROJECT,
        version: '0.0.0',
        dependencies: this.request.root.dependencies,
        optionalDependencies: {},
        requires: [],
        provides: [],
        conflicts: [],
        targets: [this.request.target],
        yanked: false,
        kind: 'component',
        lib: '',
        license: '',
        initLevels: [],
      };
      return listComponent(PROJECT, [root], { ...this.policy, locked: () => undefined });
    }
    const cap = capabilityOf(name);
    const group = anyOfGroup(name);
    const names = group ?? [...new Set(await this.provider.providersOf(cap as string))].sort();
    this.provider.prefetch?.(names.filter((n) => this.solution.records.get(n)?.listing === undefined));
    const records = names.map((n) => this.solution.record(n));
    await Promise.all(records.map((r) => this.listing(r)));
    const listed = records.map((r) => this.listingOf(r)).filter((l): l is ComponentListing => l.kind === 'component');
    return new CapabilityListing(group === null ? { kind: 'capability', capability: cap as string } : { kind: 'anyOf', group }, names, listed);
  }

  private countFor(t: Term, pkg: Pkg): number {
    if (pkg.countTerm === t) return pkg.count;
    const count = (pkg.listing as Listing).count(allowed(t));
    pkg.countTerm = t;
    pkg.count = count;
    return count;
  }

  /** The undecided packages among `dirty` whose listing is not loaded yet: `missing[0..n)`, returns n. */
  private missingListings(dirty: Dirty): number {
    // (Reused with its own count: setting `length` would give up its storage.)
    const missing = this.missing;
    let n = 0;
    for (let d = 0; d < dirty.count; d++) {
      const p = dirty.list[d] as Pkg;
      if (p.listing !== undefined || p.seq < 0) continue;
      let seen = false;
      for (let i = 0; i < n && !seen; i++) seen = missing[i] === p;
      if (!seen) missing[n++] = p;
    }
    return n;
  }

  /**
   * Decision making (`dirty`: the packages whose term changed, with their listings loaded):
   * returns the package to propagate next.
   * The undecided packages sit in a heap keyed by (allowed candidates, insertion order); only
   * packages whose term changed since the last decision are re-ranked, stale entries are skipped
   * when popped. That is the same choice as scanning every undecided package (fewest candidates,
   * ties in pub's insertion order) without the scan.
   */
  private choose(dirty: Dirty): Pkg {
    for (let d = 0; d < dirty.count; d++) {
      const p = dirty.list[d] as Pkg;
      // Decided since it was marked dirty: not a candidate.
      if (p.seq < 0) continue;
      const t = p.term as Term;
      this.queue.push(this.countFor(t, p), p.seq, t, p);
    }
    const queue = this.queue;
    for (;;) {
      if (!queue.pop()) {
        // A package tried without a decision and left unchanged: rank every undecided one again.
        for (const p of this.solution.unsatisfied()) {
          const t = p.term as Term;
          queue.push(this.countFor(t, p), p.seq, t, p);
        }
        if (!queue.pop()) throw new Error('internal: undecided packages missing from the decision queue');
      }
      if (queue.topLive()) break;
    }
    const pkg = queue.topPkg as Pkg;
    const t = queue.topTerm as Term;
    queue.compact(this.solution.undecidedCount);
    this.tick();
    const listing = pkg.listing as Listing;
    return listing.kind === 'capability' ? this.chooseProvider(t, pkg, listing) : this.chooseVersion(t, pkg, listing);
  }

  private decide(pkg: Pkg, version: Version): void {
    this.decisionsMade++;
    this.solution.decide(pkg, version, term(pkg.name, exactly(version)));
  }

  private chooseVersion(t: Term, pkg: Pkg, listing: ComponentListing): Pkg {
    const set = allowed(t);
    if (listing.all.length === 0) {
      this.add(createIncompatibility([term(t.name, ANY)], { kind: 'unknown' }) as Incompatibility);
      return pkg;
    }
    const k = listing.best(set);
    if (k < 0) {
      this.add(this.noVersions(t, listing));
      return pkg;
    }
    const incs = this.incs;
    const n = listing.incompatibilitiesFor(k, pkg, incs);
    let conflict = false;
    for (let i = 0; i < n; i++) {
      // (The chosen package is each one's first term: its record is known.)
      const entry = this.add(incs[i] as Incompatibility, pkg);
      conflict ||= this.satisfiedBut(entry, pkg);
    }
    if (this.provider.prefetch !== undefined) {
      const chosen = listing.eligible[k] as CandidateVersion;
      const next = [...Object.keys(chosen.dependencies), ...chosen.conflicts].filter((n) => {
        const p = this.solution.records.get(n);
        return p === undefined || (p.listing === undefined && p.pending === undefined);
      });
      if (next.length > 0) this.provider.prefetch(next);
    }
    if (!conflict) this.decide(pkg, listing.versions[k] as Version);
    return pkg;
  }

  /** Whether every term of `entry` not about `pkg` is satisfied by the partial solution. */
  private satisfiedBut(entry: Entry, pkg: Pkg): boolean {
    const terms = entry.inc.terms;
    for (let i = 0; i < terms.length; i++) {
      const p = i === 0 ? entry.p0 : i === 1 ? (entry.p1 as Pkg) : ((entry.rest as readonly Pkg[])[i - 2] as Pkg);
      if (p !== pkg && this.solution.relation(p, terms[i] as Term) !== 'satisfies') return false;
    }
    return true;
  }

  /** Why no candidate of `listing` matches `t`: target, yanked/prerelease, or nothing at all. */
  private noVersions(t: Term, listing: ComponentListing): Incompatibility {
    const set = allowed(t);
    const inSet = listing.all.map((c, k) => ({ c, v: listing.allVersions[k] as Version })).filter((x) => t.positive && contains(set, x.v));
    const shipping = inSet.filter((x) => x.c.targets.includes(this.request.target));
    if (inSet.length > 0 && shipping.length === 0) {
      return createIncompatibility([term(t.name, t.set)], { kind: 'target', target: this.request.target }) as Incompatibility;
    }
    return createIncompatibility([term(t.name, t.set)], {
      kind: 'noVersions',
      yanked: shipping.filter((x) => x.c.yanked).map((x) => x.v.version),
      prerelease: shipping.filter((x) => !x.c.yanked && x.v.prerelease.length > 0).map((x) => x.v.version),
      otherTargets: [],
    }) as Incompatibility;
  }

  private chooseProvider(t: Term, pkg: Pkg, listing: CapabilityListing): Pkg {
    const set = allowed(t);
    const candidates = listing.versions.filter((v) => contains(set, v));
    if (candidates.length === 0) {
      this.add(listing.noneLeft(t.set, this.request.target));
      return pkg;
    }
    // Prefer a provider that is already decided, then one already required, then the first by name.
    const rank = (i: number): number => {
      const p = listing.providers[i] as string;
      if (this.solution.records.get(p)?.decision !== undefined) return 0;
      if (this.solution.termFor(p)?.positive === true) return 1;
      const locked = this.policy.locked(listing.name);
      if (locked === p) return 2;
      return 3;
    };
    let pick = candidates[0] as (typeof candidates)[number];
    let pickRank = rank(listing.indexOf(pick));
    for (const v of candidates) {
      const r = rank(listing.indexOf(v));
      if (r < pickRank) {
        pick = v;
        pickRank = r;
      }
    }
    const inc = listing.incompatibilityFor(listing.indexOf(pick));
    let conflict = false;
    if (inc !== null) {
      this.add(inc);
      conflict = inc.terms.every((x) => x.name === t.name || this.solution.satisfies(x));
    }
    if (!conflict) this.decide(pkg, pick);
    return pkg;
  }

  private failure(root: Incompatibility): Failure {
    const providers: Record<string, string[]> = {};
    const listed = [...this.solution.records.values()].filter((p) => p.listing?.kind === 'capability');
    for (const p of listed.sort((a, b) => cmp(a.name, b.name))) providers[p.name] = [...(p.listing as CapabilityListing).providers];
    return { root, project: this.request.root.name, target: this.request.target, providers };
  }

  private result(): Solution {
    const components: Record<string, CandidateVersion> = {};
    const capabilities: Record<string, string> = {};
    const anyOf: Record<string, string> = {};
    // The decided names in order (the engine's own string sort: a comparator called per
    // comparison was most of sorting a closure of tens of thousands), then their records.
    const decisions = this.solution.decisions;
    const names = new Array<string>(decisions.length);
    for (let d = 0; d < decisions.length; d++) names[d] = (decisions[d] as Pkg).name;
    names.sort();
    // The chosen components in name order, and what the solution records for each (the
    // listing's, shared by every solution that chose the same candidate).
    const froms: string[] = [];
    const fromSolved: SolvedCandidate[] = [];
    for (let d = 0; d < names.length; d++) {
      const name = names[d] as string;
      const p = this.solution.records.get(name) as Pkg;
      const v = p.decision as Version;
      const l = p.listing as Listing;
      if (l.kind === 'capability') {
        const r = l.requirement;
        if (r.kind === 'capability') capabilities[r.capability] = l.providers[l.indexOf(v)] as string;
        else anyOf[anyOfKey(r.group)] = l.providers[l.indexOf(v)] as string;
      } else if (name !== PROJECT) {
        const solved = l.solved(l.indexOf(v), solvedCandidate);
        froms.push(name);
        fromSolved.push(solved);
        components[name] = solved.candidate;
      }
    }
    // Edges in their final order (from, kind, to, capability) as they are made, per component
    // (no sort of every edge: a closure can have tens of thousands). Keys are sorted again even
    // though `canonical` inserted them in order: an object lists integer-like keys first.
    const edges: Edge[] = [];
    // (`froms`, not Object.keys(components): an object lists integer-like keys first.)
    const projectAt = lowerBound(froms, PROJECT);
    for (let i = 0; i <= froms.length; i++) {
      if (i === projectAt) {
        for (let r = 0; r < this.rootDeps.length; r++) {
          const root = this.rootDeps[r] as [string, VersionSet, string];
          edges.push({ from: PROJECT, to: root[0], kind: 'dependency', range: root[2] });
        }
      }
      if (i === froms.length) break;
      const name = froms[i] as string;
      const solved = fromSolved[i] as SolvedCandidate;
      const c = solved.candidate;
      const deps = solved.dependencyEdges;
      for (let d = 0; d < deps.length; d++) edges.push(deps[d] as DependencyEdge);
      // (Each kind checked before its arrays are made: most components have none of them.)
      if (c.requires.length > 0) {
        const caps: Edge[] = c.requires.map((cap) => ({ from: name, to: capabilities[cap] as string, kind: 'capability', capability: cap }));
        if (caps.length > 1) caps.sort((a, b) => cmp(a.to, b.to) || cmp(a.capability ?? '', b.capability ?? ''));
        edges.push(...caps);
      }
      if (c.anyOf !== undefined && c.anyOf.length > 0) {
        const groups: Edge[] = anyOfKeys(c).map((key) => ({ from: name, to: anyOf[key] as string, kind: 'anyOf', group: key.split('|') }));
        if (groups.length > 1) groups.sort((a, b) => cmp(a.to, b.to) || cmp(a.group?.join('|') ?? '', b.group?.join('|') ?? ''));
        edges.push(...groups);
      }
      if (!isEmptyRecord(c.optionalDependencies)) {
        for (const dep of Object.keys(c.optionalDependencies).sort(cmp)) {
          edges.push({ from: name, to: dep, kind: 'optional', range: c.optionalDependencies[dep] as string });
        }
      }
    }
    const choices: Record<string, LockedAnyOf> = {};
    for (const key of Object.keys(anyOf).sort()) {
      const name = anyOfPackage(key.split('|'));
      const closure = { components, edges, listingOf: (n: string) => this.componentListing(n), locked: this.policy.locked(name), target: this.request.target };
      choices[key] = explainAnyOf(this.solution.records.get(name)?.listing as CapabilityListing, anyOf[key] as string, closure);
    }
    return { components, capabilities, anyOf: choices, edges, decisions: this.solution.decisions.length, steps: this.steps };
  }

  private componentListing(name: string): ComponentListing | undefined {
    const l = this.solution.records.get(name)?.listing;
    return l?.kind === 'component' ? l : undefined;
  }
}

/** The `ListingPolicy` answers of a request without locked versions or prerelease opt-ins. */
const noneLocked = (): string | undefined => undefined;
const noPrerelease = (): boolean => false;

/** The index at which `x` goes into the sorted `list`. */
function lowerBound(list: readonly string[], x: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as string) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** True when `r` has no own enumerable keys (without the array Object.keys makes). */
function isEmptyRecord(r: Record<string, string>): boolean {
  for (const k in r) if (Object.hasOwn(r, k)) return false;
  return true;
}

/**
 * `r` with its keys in sorted order (`keys`: those keys, sorted): `r` itself when they are in
 * order already (no copy: see `canonical`), else a copy built in order.
 */
function sortedRecord(r: Record<string, string>, keys?: SortedNames): Record<string, string> {
  if (keys === undefined) {
    if (isEmptyRecord(r)) return r;
    keys = sortedKeys(r);
  }
  if (keys.inOrder) return r;
  const out = dictionaryRecord();
  const names = keys.names;
  for (let i = 0; i < names.length; i++) out[names[i] as string] = r[names[i] as string] as string;
  return out;
}

/**
 * A new empty record that keeps its keys in a hash table of its own (V8's dictionary mode; the
 * keys still enumerate in insertion order). A record filled key by key starts in fast mode,
 * where each key no other record has gives it a new hidden class: the sorted copies of
 * dependency records (b3: ~33,000 a round, names unique to each) took twice as long that way.
 * Deleting a property other than the last one added is what moves a record to dictionary mode.
 */
function dictionaryRecord(): Record<string, string> {
  const r: Record<string, string> = { a: '', b: '' };
  delete r.a;
  delete r.b;
  return r;
}

function sortedKeys(r: Record<string, string>): SortedNames {
  const names = Object.keys(r);
  return { names, inOrder: sortStrings(names) };
}

/** `a` sorted, each once: `a` itself when it is so already (no copy: see `canonical`). */
function sorted(a: readonly string[]): string[] {
  let inOrder = true;
  for (let k = 1; k < a.length && inOrder; k++) inOrder = (a[k - 1] as string) < (a[k] as string);
  return inOrder ? (a as string[]) : [...new Set(a)].sort(cmp);
}

/**
 * Candidate `c` with its records and lists in sorted order, so provider ordering never shows in
 * results: `c` itself when they are all in order already, else a copy whose records and lists
 * are the provider's own where those are in order. Solutions are read-only, like the provider's
 * metadata (the lockfile copies what it keeps). Copying them all was a quarter of building a
 * large solution (b3: 173,550 candidates per round, each with six records and lists that live
 * as long as the solution).
 */
function canonical(c: CandidateVersion, deps: SortedNames): CandidateVersion {
  const dependencies = sortedRecord(c.dependencies, deps);
  const optionalDependencies = sortedRecord(c.optionalDependencies);
  const requires = sorted(c.requires);
  const provides = sorted(c.provides);
  const conflicts = sorted(c.conflicts);
  const targets = sorted(c.targets);
  if (
    dependencies === c.dependencies &&
    optionalDependencies === c.optionalDependencies &&
    requires === c.requires &&
    provides === c.provides &&
    conflicts === c.conflicts &&
    targets === c.targets
  ) {
    return c;
  }
  return { ...c, dependencies, optionalDependencies, requires, provides, conflicts, targets };
}

const NO_DEPENDENCY_EDGES: readonly DependencyEdge[] = Object.freeze([]);

/** What a solution records for candidate `c` of `name` (`deps`: its dependency names, sorted). */
function solvedCandidate(name: string, c: CandidateVersion, deps: SortedNames): SolvedCandidate {
  const candidate = canonical(c, deps);
  const names = deps.names;
  if (names.length === 0) return { candidate, dependencyEdges: NO_DEPENDENCY_EDGES };
  const dependencyEdges = new Array<DependencyEdge>(names.length);
  for (let d = 0; d < names.length; d++) {
    const dep = names[d] as string;
    dependencyEdges[d] = { from: name, to: dep, kind: 'dependency', range: candidate.dependencies[dep] as string };
  }
  return { candidate, dependencyEdges };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Solves one closure: the project's dependencies for `request.target`.
 * Returns the solution or the failure's derivation graph (render it with `renderFailure`).
 * Throws E_SEMVER for an invalid range or version, E_RESOLVE_LIMIT when `maxSteps` is exceeded
 * or `signal` aborts; provider errors pass through.
 */
export async function solve(request: SolveRequest, provider: Provider, options: SolveOptions = {}): Promise<Resolution> {
  return new Solver(request, provider, options).run();
}
