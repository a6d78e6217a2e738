/**
 * The partial solution (pub doc/solver.md § Partial Solution): an ordered list of assignments —
 * decisions (one exact version) and derivations (a term plus the incompatibility that forced it),
 * each with a decision level. Per-package accumulated terms make `relation` O(1) in the number
 * of assignments; per-package assignment lists make `satisfier` and `backtrack` proportional to
 * what they touch, not to the whole solution.
 */
import type { Incompatibility } from './incompatibility.js';
import { intersectTerms, relation, satisfies, term, type Relation, type Term } from './term.js';
import { exactly, type Version } from './version-set.js';

export interface Assignment {
  readonly term: Term;
  readonly decisionLevel: number;
  readonly index: number;
  /** null for a decision. */
  readonly cause: Incompatibility | null;
  /** The exact version, for a decision. */
  readonly version: Version | null;
  /** The package's accumulated term up to and including this assignment (set on assignment). */
  acc: Term;
}

export class PartialSolution {
  readonly assignments: Assignment[] = [];
  readonly decisions = new Map<string, Version>();
  private readonly byName = new Map<string, Assignment[]>();
  /** Accumulated positive terms, in the order each package first became positive (pub's order). */
  private readonly positive = new Map<string, Term>();
  private readonly negative = new Map<string, Term>();
  /**
   * Names in `positive` without a decision → a sequence number that grows with every insertion,
   * so (count, seq) orders them as pub's insertion order does.
   */
  private readonly undecided = new Map<string, number>();
  private seq = 0;
  /** Undecided names whose positive term changed (or that became undecided) since `takeDirty`. */
  private dirty: string[] = [];
  /** Decisions made after a backtrack (pub's attemptedSolutions). */
  attemptedSolutions = 1;
  private backtracking = false;

  /** The number of decisions so far: the project's decision is level 1, derivations before it 0. */
  get decisionLevel(): number {
    return this.decisions.size;
  }

  decide(name: string, version: Version): void {
    if (this.backtracking) this.attemptedSolutions++;
    this.backtracking = false;
    this.decisions.set(name, version);
    this.undecided.delete(name);
    const t = term(name, exactly(version));
    this.assign({ term: t, decisionLevel: this.decisionLevel, index: this.assignments.length, cause: null, version, acc: t });
  }

  derive(t: Term, cause: Incompatibility): void {
    this.assign({ term: t, decisionLevel: this.decisionLevel, index: this.assignments.length, cause, version: null, acc: t });
  }

  private assign(a: Assignment): void {
    this.assignments.push(a);
    let list = this.byName.get(a.term.name);
    if (list === undefined) {
      list = [];
      this.byName.set(a.term.name, list);
    }
    list.push(a);
    this.register(a);
  }

  private register(a: Assignment): void {
    const name = a.term.name;
    const pos = this.positive.get(name);
    if (pos !== undefined) {
      const merged = intersectTerms(pos, a.term);
      if (merged === null) throw new Error(`internal: empty positive term for ${name}`);
      this.positive.set(name, merged);
      a.acc = merged;
      if (this.undecided.has(name)) this.dirty.push(name);
      return;
    }
    const neg = this.negative.get(name);
    const t = neg === undefined ? a.term : intersectTerms(a.term, neg);
    if (t === null) throw new Error(`internal: empty term for ${name}`);
    a.acc = t;
    this.restore(name, t);
  }

  /** Makes `t` the accumulated term of `name`, which has none at the moment. */
  private restore(name: string, t: Term): void {
    if (t.positive) {
      this.negative.delete(name);
      this.positive.set(name, t);
      if (!this.decisions.has(name)) {
        this.undecided.set(name, this.seq++);
        this.dirty.push(name);
      }
    } else {
      this.negative.set(name, t);
    }
  }

  /** Removes every assignment above `level`. */
  backtrack(level: number): void {
    this.backtracking = true;
    const touched = new Set<string>();
    for (;;) {
      const last = this.assignments[this.assignments.length - 1];
      if (last === undefined || last.decisionLevel <= level) break;
      this.assignments.pop();
      touched.add(last.term.name);
      this.byName.get(last.term.name)?.pop();
      if (last.cause === null) this.decisions.delete(last.term.name);
    }
    for (const name of touched) {
      this.positive.delete(name);
      this.negative.delete(name);
      this.undecided.delete(name);
      // Each assignment remembers the accumulated term after it: no re-intersection.
      const rest = this.byName.get(name);
      const last = rest === undefined ? undefined : rest[rest.length - 1];
      if (last !== undefined) this.restore(name, last.acc);
    }
  }

  /** The accumulated term for a package, if any assignment mentions it. */
  termFor(name: string): Term | undefined {
    return this.positive.get(name) ?? this.negative.get(name);
  }

  relation(t: Term): Relation {
    const known = this.positive.get(t.name) ?? this.negative.get(t.name);
    return known === undefined ? 'inconclusive' : relation(known, t);
  }

  satisfies(t: Term): boolean {
    return this.relation(t) === 'satisfies';
  }

  /** Packages with a positive derivation but no decision, in pub's order. */
  unsatisfied(): Term[] {
    const out: Term[] = [];
    for (const name of this.undecided.keys()) out.push(this.positive.get(name) as Term);
    return out;
  }

  /** How many packages have a positive derivation but no decision. */
  get undecidedCount(): number {
    return this.undecided.size;
  }

  /** The insertion sequence number of an undecided package (undefined once decided). */
  undecidedSeq(name: string): number | undefined {
    return this.undecided.get(name);
  }

  /** The accumulated positive term of a package, if any. */
  positiveTerm(name: string): Term | undefined {
    return this.positive.get(name);
  }

  /**
   * The names whose undecided positive term changed since the last call (possibly repeated,
   * possibly decided since): the solver's decision queue re-ranks just these.
   */
  takeDirty(): string[] {
    const out = this.dirty;
    this.dirty = [];
    return out;
  }

  /**
   * The earliest assignment such that the assignments up to it satisfy `t`. A package's
   * accumulated terms only narrow along its list, so "acc satisfies t" is false then true:
   * binary search (a package ruled out version by version has hundreds of assignments).
   */
  satisfier(t: Term): Assignment {
    const list = this.byName.get(t.name) ?? [];
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (satisfies((list[mid] as Assignment).acc, t)) hi = mid;
      else lo = mid + 1;
    }
    const a = list[lo];
    if (a === undefined) throw new Error(`internal: no satisfier for ${t.name}`);
    return a;
  }
}
