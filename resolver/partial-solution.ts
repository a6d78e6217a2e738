/**
 * The partial solution (pub doc/solver.md § Partial Solution): an ordered list of assignments —
 * decisions (one exact version) and derivations (a term plus the incompatibility that forced it),
 * each with a decision level. Everything known about one package sits on one record (its
 * accumulated term, assignments, decision, undecided rank), found once per name: `relation` is
 * O(1) in the number of assignments, `satisfier` and `backtrack` proportional to what they touch.
 */
import type { Incompatibility } from './incompatibility.js';
import { intersectTerms, relation, satisfies, type Relation, type Term } from './term.js';
import type { Version } from './version-set.js';

export interface Assignment {
  readonly term: Term;
  readonly decisionLevel: number;
  readonly index: number;
  /** null for a decision. */
  readonly cause: Incompatibility | null;
  /** The package's accumulated term up to and including this assignment (set on assignment). */
  acc: Term;
}

/**
 * Appends `x` to `list[0..count)`, a list kept with its own count, and returns the list (a new
 * one, twice as long, when it was full). Most packages' lists hold a few items: an engine push
 * grows a small array to 17 slots, and popping it empty gives the storage up again. The first
 * list (four slots) is an array literal, so lists that live as long as their solve can be
 * allocated in the old generation directly (see `PackageRecord`).
 */
export function append<T>(list: Array<T | undefined>, count: number, x: T): Array<T | undefined> {
  if (count < list.length) {
    list[count] = x;
    return list;
  }
  if (count === 0) return [x, undefined, undefined, undefined];
  const next = new Array<T | undefined>(count < 4 ? 4 : count * 2);
  for (let i = 0; i < count; i++) next[i] = list[i];
  next[count] = x;
  return next;
}

/** The list of a package without assignments (shared, never written: `append` grows it first). */
export const NO_ASSIGNMENTS: Array<Assignment | undefined> = Object.freeze([]) as unknown as Array<Assignment | undefined>;

/**
 * One package's state in a solve. The solver extends it with its own per-package state
 * (listing, incompatibilities), so a name is looked up once, not once per concern. Records are
 * made by an object literal listing every field with its initial value (a new record has no
 * assignments: `NO_ASSIGNMENTS`, count 0, no term or decision, seq -1, not touched), not by a
 * class constructor: a record lives until its solve ends, and the engine
 * allocates the objects of a literal whose objects outlive young collections in the old
 * generation directly (allocation-site pretenuring), where a constructor's are copied twice.
 */
export interface PackageRecord {
  readonly name: string;
  /** This package's assignments, oldest first: `assignments[0..assignmentCount)` (see `append`). */
  assignments: Array<Assignment | undefined>;
  assignmentCount: number;
  /** The accumulated term (the `acc` of the last assignment); undefined when none mentions it. */
  term: Term | undefined;
  decision: Version | undefined;
  /**
   * While the package has a positive term and no decision: a sequence number that grows with
   * every insertion, so (count, seq) orders undecided packages as pub's insertion order does;
   * -1 otherwise.
   */
  seq: number;
  /** Marks the record while `backtrack` restores it. */
  touched: boolean;
}

export class PartialSolution<R extends PackageRecord = PackageRecord> {
  readonly assignments: Assignment[] = [];
  /** Every record made so far, by name. */
  readonly records = new Map<string, R>();
  /** Decided records, in the order of their decisions (backtracking pops them). */
  private readonly decided: R[] = [];
  /**
   * How many records are undecided with a positive term (those with `seq >= 0`; a count, not a
   * Set: a Set's adds and deletes at every decision were a few % of b3's allocation, and the
   * list of them is almost never needed, see `unsatisfied`).
   */
  private undecided = 0;
  private seq = 0;
  /**
   * Undecided records whose positive term changed (or that became undecided) since `takeDirty`:
   * `dirty[0..dirtyCount)`. Two lists swap at each `takeDirty` and keep their storage (a new
   * list per decision grew a new backing store each time).
   */
  private dirty: R[] = [];
  private dirtyCount = 0;
  /** The list `takeDirty` handed out last. */
  private taken: R[] = [];
  /** Decisions made after a backtrack (pub's attemptedSolutions). */
  attemptedSolutions = 1;
  private backtracking = false;

  constructor(private readonly make: (name: string) => R) {}

  /** The record of `name`, made on first use. */
  record(name: string): R {
    let r = this.records.get(name);
    if (r === undefined) {
      r = this.make(name);
      this.records.set(name, r);
    }
    return r;
  }

  /** The number of decisions so far: the project's decision is level 1, derivations before it 0. */
  get decisionLevel(): number {
    return this.decided.length;
  }

  /** The decided records, in decision order. */
  get decisions(): readonly R[] {
    return this.decided;
  }

  /** Decides `r` at `version`; `t` is the term "r at exactly `version`" (terms are values: it may be shared). */
  decide(r: R, version: Version, t: Term): void {
    if (this.backtracking) this.attemptedSolutions++;
    this.backtracking = false;
    this.decided.push(r);
    r.decision = version;
    if (r.seq >= 0) {
      r.seq = -1;
      this.undecided--;
    }
    this.assign(r, { term: t, decisionLevel: this.decisionLevel, index: this.assignments.length, cause: null, acc: t });
  }

  derive(r: R, t: Term, cause: Incompatibility): void {
    this.assign(r, { term: t, decisionLevel: this.decisionLevel, index: this.assignments.length, cause, acc: t });
  }

  private assign(r: R, a: Assignment): void {
    this.assignments.push(a);
    r.assignments = append(r.assignments, r.assignmentCount, a);
    r.assignmentCount++;
    const known = r.term;
    if (known !== undefined && known.positive) {
      const merged = intersectTerms(known, a.term);
      if (merged === null) throw new Error(`internal: empty positive term for ${r.name}`);
      r.term = merged;
      a.acc = merged;
      if (r.seq >= 0) this.dirty[this.dirtyCount++] = r;
      return;
    }
    const t = known === undefined ? a.term : intersectTerms(a.term, known);
    if (t === null) throw new Error(`internal: empty term for ${r.name}`);
    a.acc = t;
    this.restore(r, t);
  }

  /** Makes `t` the accumulated term of `r`, which has no positive one at the moment. */
  private restore(r: R, t: Term): void {
    r.term = t;
    if (t.positive && r.decision === undefined) {
      r.seq = this.seq++;
      this.undecided++;
      this.dirty[this.dirtyCount++] = r;
    }
  }

  /** Removes every assignment above `level`. */
  backtrack(level: number): void {
    this.backtracking = true;
    const touched: R[] = [];
    for (;;) {
      const last = this.assignments[this.assignments.length - 1];
      if (last === undefined || last.decisionLevel <= level) break;
      this.assignments.pop();
      const r = this.records.get(last.term.name) as R;
      if (!r.touched) {
        r.touched = true;
        touched.push(r);
      }
      r.assignments[--r.assignmentCount] = undefined;
      if (last.cause === null) {
        this.decided.pop();
        r.decision = undefined;
      }
    }
    for (let i = 0; i < touched.length; i++) {
      const r = touched[i] as R;
      r.touched = false;
      r.term = undefined;
      if (r.seq >= 0) {
        r.seq = -1;
        this.undecided--;
      }
      // Each assignment remembers the accumulated term after it: no re-intersection.
      const last = r.assignmentCount > 0 ? r.assignments[r.assignmentCount - 1] : undefined;
      if (last !== undefined) this.restore(r, last.acc);
    }
  }

  /** The accumulated term for a package, if any assignment mentions it. */
  termFor(name: string): Term | undefined {
    return this.records.get(name)?.term;
  }

  /** How the accumulated term of `r` relates to `t` (a term about `r`). */
  relation(r: R, t: Term): Relation {
    const known = r.term;
    return known === undefined ? 'inconclusive' : relation(known, t);
  }

  satisfies(t: Term): boolean {
    const r = this.records.get(t.name);
    return r !== undefined && this.relation(r, t) === 'satisfies';
  }

  /**
   * Undecided records with a positive term, in pub's order: the order in which they became
   * undecided, which is that of their `seq` (a scan of every record: the solver asks only when
   * its decision queue has run dry, which none of bench/resolver.mjs's workloads does).
   */
  unsatisfied(): R[] {
    const out: R[] = [];
    for (const r of this.records.values()) if (r.seq >= 0) out.push(r);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** How many packages have a positive derivation but no decision. */
  get undecidedCount(): number {
    return this.undecided;
  }

  /**
   * The records whose undecided positive term changed since the last call (possibly repeated,
   * possibly decided since): the solver's decision queue re-ranks just these.
   */
  takeDirty(): { readonly list: readonly R[]; readonly count: number } {
    const out = this.dirty;
    const count = this.dirtyCount;
    this.dirty = this.taken;
    this.dirtyCount = 0;
    this.taken = out;
    this.takenView.list = out;
    this.takenView.count = count;
    return this.takenView;
  }

  /** What `takeDirty` returns: `list[0..count)`, valid until its next call. */
  private readonly takenView: { list: readonly R[]; count: number } = { list: [], count: 0 };

  /**
   * The earliest assignment such that the assignments up to it satisfy `t`. A package's
   * accumulated terms only narrow along its list, so "acc satisfies t" is false then true:
   * binary search (a package ruled out version by version has hundreds of assignments).
   */
  satisfier(t: Term): Assignment {
    const r = this.records.get(t.name);
    const list = r?.assignments ?? NO_ASSIGNMENTS;
    let lo = 0;
    let hi = r?.assignmentCount ?? 0;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (satisfies((list[mid] as Assignment).acc, t)) hi = mid;
      else lo = mid + 1;
    }
    const a = lo < (r?.assignmentCount ?? 0) ? list[lo] : undefined;
    if (a === undefined) throw new Error(`internal: no satisfier for ${t.name}`);
    return a;
  }
}
